"""Where this project's files and data live.

Code files are found from this file (the project may not be installed); data and state follow
``TWELVE_DATA_DIR`` / ``TWELVE_HOME`` through ``twelve.core.paths``, read when a path is needed.
"""

from pathlib import Path

import dagster as dg
from twelve.core import paths as twelve_paths

NAME = "{{ cookiecutter.name }}"
# Every asset key of this project starts with its name: asset keys are global across the code
# locations of a workspace, and another project may have a `training_set` too.
ASSET_PREFIX = NAME

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parents[1]
REPO_ROOT = PROJECT_DIR.parents[1]
CONF_DIR = PROJECT_DIR / "conf"
DBT_PROJECT_DIR = PROJECT_DIR / "dbt"
FEATURE_REPO_DIR = REPO_ROOT / "feature_repo" / NAME
BENTO_DIR = REPO_ROOT / "bentos" / NAME
# Names of this project's data sets in the profile and report stores (shared by all projects).
RAW_DATASET = f"{NAME}_raw_events"
TRAINING_SET_DATASET = f"{NAME}_training_set"


def asset_key(name: str) -> dg.AssetKey:
    """This project's asset key for ``name`` (``<project>/<name>``)."""
    return dg.AssetKey([ASSET_PREFIX, name])


def data_root() -> Path:
    """This project's data folder, ``$TWELVE_DATA_DIR/<name>``, apart from other projects'."""
    return twelve_paths.data_dir() / NAME


def raw_dir() -> Path:
    """The raw data folder: every DVC-tracked file in it is an input of a training run."""
    return data_root() / "raw"


def raw_events_path() -> Path:
    """The raw events file (DVC-tracked)."""
    return raw_dir() / "events.parquet"


def features_dir() -> Path:
    """Where dbt writes the feature tables Feast reads."""
    return data_root() / "features"


def training_set_path() -> Path:
    """The training set written by the ``training_set`` asset."""
    return data_root() / "training" / "training_set.parquet"


def holdout_path() -> Path:
    """The holdout rows of the training set (DVC-tracked)."""
    return data_root() / "training" / "holdout.parquet"


def leaderboard_path() -> Path:
    """The leaderboard report of this project's runs (under TWELVE_HOME)."""
    return twelve_paths.state_dir() / "reports" / "leaderboard" / f"{NAME}.html"
