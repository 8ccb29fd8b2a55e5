"""The process environment twelve runs in: offline switches and the Dagster home.

Resolved in one place and only when a command starts, never at import time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from twelve.core import paths

# Every tool of the stack that would call home, switched off (STACK-NOTES lists what was seen).
OFFLINE_ENV = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "True",
    "WHYLOGS_NO_ANALYTICS": "True",
    "DVC_NO_ANALYTICS": "1",
}


def apply_offline_env() -> None:
    """Set the telemetry switches unless the caller already chose a value."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def dagster_home() -> Path:
    """``DAGSTER_HOME`` (default ``TWELVE_HOME/dagster_home``) with our instance settings in it.

    The folder is created and ``infra/dagster.yaml`` copied in when missing, and the variable is
    exported so Dagster (and the UI started from the Makefile) use the same instance.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or paths.state_dir() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    source = paths.REPO_ROOT / "infra" / "dagster.yaml"
    if not settings.exists() and source.exists():
        shutil.copyfile(source, settings)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def prepare() -> dict[str, str]:
    """Everything a twelve command needs before it touches a tool: offline env, roots, Dagster home.

    Returns:
        The resolved roots (TWELVE_HOME, TWELVE_DATA_DIR, DAGSTER_HOME).
    """
    apply_offline_env()
    roots = paths.export_env()
    roots["DAGSTER_HOME"] = str(dagster_home())
    return roots
