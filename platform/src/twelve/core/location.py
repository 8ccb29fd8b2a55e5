"""A project's Dagster code location: the blocks of its ``defs/`` folder, loaded and merged."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import dagster as dg

log = logging.getLogger(__name__)


def load_project_defs(definitions_file: str | Path) -> dg.Definitions:
    """Every block configured in the ``defs/`` folder beside ``definitions_file``, merged.

    A project fresh from ``twelve new`` is a workspace member the venv does not hold until
    ``make install`` (``uv sync --all-packages``); Dagster imports its package by name to load
    the folder, so its ``src/`` is put on ``sys.path`` first when the package is not importable
    (once installed, that is the same folder).

    Args:
        definitions_file: the project's ``definitions.py`` (``__file__``).
    """
    package_dir = Path(definitions_file).resolve().parent
    if importlib.util.find_spec(package_dir.name) is None:
        log.info(
            "%s is not installed yet: loading it from %s", package_dir.name, package_dir.parent
        )
        sys.path.insert(0, str(package_dir.parent))
    return dg.load_from_defs_folder(path_within_project=package_dir)
