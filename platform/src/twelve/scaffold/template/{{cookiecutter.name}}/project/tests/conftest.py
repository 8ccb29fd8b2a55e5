"""Fixtures of the project's tests: its Project (what ``[tool.twelve]`` says) and its modules.

The tests name nothing of the project by hand: the package, the contract and the asset keys come
from ``pyproject.toml``, so these files are the same for every project ``twelve new`` makes. A
freshly generated project is a uv workspace member the venv does not know yet: ``src/`` is put on
``sys.path`` so its tests run right after ``twelve new`` (once installed, it is the same folder).
"""

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from twelve.core.project import Project

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROJECT = Project.load(PROJECT_DIR)
if importlib.util.find_spec(PROJECT.package) is None:
    sys.path.insert(0, str(PROJECT_DIR / "src"))


@pytest.fixture(scope="session")
def project() -> Project:
    """The project under test."""
    return PROJECT


@pytest.fixture(scope="session")
def project_module() -> Callable[[str], ModuleType]:
    """Imports a module of the project's package (``contract``, ``ingest``, ``definitions``)."""
    return lambda name: importlib.import_module(f"{PROJECT.package}.{name}")
