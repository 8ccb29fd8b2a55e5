"""Paths of the flight-delay project: the one place that knows where its files live."""

from __future__ import annotations

from pathlib import Path

from twelve.core import paths as twelve_paths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
FEATURE_REPO_DIR = twelve_paths.REPO_ROOT / "feature_repo"
BENTO_DIR = twelve_paths.REPO_ROOT / "bentos" / "flight_delay"


def raw_dir() -> Path:
    """Where raw files are written (``$TWELVE_DATA_DIR/raw``)."""
    return twelve_paths.data_dir() / "raw"


def raw_flights_path(month: str) -> Path:
    """The raw file of one month, ``month`` as ``YYYY-MM``."""
    return raw_dir() / "flights" / f"{month}.parquet"


def training_set_path() -> Path:
    """The training set (``twelve.core.project.Project.training_set_path``)."""
    from twelve.core.project import Project

    return Project.of_package("flight_delays").training_set_path()
