"""Configuration defaults in YAML files, apart from code (factor 3).

A project keeps its defaults (split months, hyper-parameters, thresholds, paths) in
``conf/*.yaml``; its typed ``dg.Config`` classes take their field defaults from there, so the
Dagster launchpad shows them and a run can override any of them.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml


@cache
def _load(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"configuration file {file} is missing")
    content = yaml.safe_load(file.read_text()) or {}
    if not isinstance(content, dict):
        kind = type(content).__name__
        raise ValueError(f"{file}: expected a mapping at the top level, got {kind}")
    return content


def load_defaults(path: str | Path, section: str | None = None) -> dict[str, Any]:
    """Read (once) a YAML file of defaults, or one top-level section of it.

    Args:
        path: the YAML file.
        section: a top-level key to return; None for the whole file.

    Returns:
        A copy of the mapping, safe to mutate.

    Raises:
        KeyError: the section is not in the file (the message names file and section).
    """
    content = _load(str(Path(path).resolve()))
    if section is None:
        return json.loads(json.dumps(content))
    if section not in content:
        raise KeyError(f"{path}: no section '{section}' (sections: {sorted(content)})")
    return json.loads(json.dumps(content[section]))


def config_hash(config: dict[str, Any]) -> str:
    """A stable short hash of a configuration mapping (key order does not matter)."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
