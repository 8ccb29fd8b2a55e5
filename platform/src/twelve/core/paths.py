"""Where things live: the one place that resolves paths from the environment.

Two roots, both overridable through environment variables so tests and deployments can point
everything elsewhere without code changes:

- ``TWELVE_DATA_DIR`` (default ``<repo>/data``): the data a project reads and writes (raw files
  tracked by DVC, dbt feature tables, training sets).
- ``TWELVE_HOME`` (default ``<repo>/.twelve``): run state that never enters git (Dagster home,
  MLflow store, BentoML home, DuckDB warehouse, Feast registry and online store, DVC remote).

Functions, not module constants, so the environment is read when a path is needed, not at import.
"""

from __future__ import annotations

import os
from pathlib import Path

# platform/src/twelve/core/paths.py -> parents[4] is the monorepo root.
REPO_ROOT = Path(__file__).resolve().parents[4]


def state_dir() -> Path:
    """Run state root (``TWELVE_HOME``), created on first use."""
    path = Path(os.environ.get("TWELVE_HOME") or REPO_ROOT / ".twelve").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Data root (``TWELVE_DATA_DIR``), created on first use."""
    path = Path(os.environ.get("TWELVE_DATA_DIR") or REPO_ROOT / "data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_env() -> dict[str, str]:
    """Pin both roots in ``os.environ`` so child tools (dbt, feast, bentoml) see the same paths.

    Returns:
        The two variables as set.
    """
    os.environ["TWELVE_HOME"] = str(state_dir())
    os.environ["TWELVE_DATA_DIR"] = str(data_dir())
    return {name: os.environ[name] for name in ("TWELVE_HOME", "TWELVE_DATA_DIR")}
