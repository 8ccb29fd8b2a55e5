"""The flight-delay dbt project (``projects/flight_delays/dbt``), built lazily.

Nothing here runs at import: the ``DbtProject`` is built on first use (``functools.cache``), and
the manifest that Dagster reads is prepared by an explicit step before the code location loads::

    .venv/bin/python -m flight_delays.dbt_project

which runs the venv's ``dbt parse`` (no ``dbt --version`` probe of the package index) with the same
``TWELVE_HOME`` / ``TWELVE_DATA_DIR`` the assets will use, so dbt's partial parsing stays valid at
run time. Under ``dagster dev`` the project is re-parsed on every load, like ``prepare_if_dev``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from functools import cache, cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev
from packaging import version

from flight_delays.paths import DBT_PROJECT_DIR
from twelve.core import paths as twelve_paths

logger = logging.getLogger(__name__)

PREPARE_COMMAND = ".venv/bin/python -m flight_delays.dbt_project"


def dbt_executable() -> str:
    """The ``dbt`` of the running interpreter's environment, so PATH need not include the venv."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


@cache
def dbt_project() -> DbtProject:
    """The dbt project, with its manifest re-parsed when running under ``dagster dev``.

    Returns:
        The project; ``profiles.yml`` lives inside the project folder.

    Raises:
        FileNotFoundError: outside ``dagster dev`` when the manifest was never prepared; the
            message gives the command that prepares it.
    """
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    # What `project.prepare_if_dev()` does, but with the venv's dbt: dagster-dbt's preparer runs the
    # `dbt` found on PATH (absent when the venv is not activated) after a `dbt --version` probe.
    if using_dagster_dev():
        parse(project.project_dir)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {project.manifest_path}: prepare it with "
            f"`{PREPARE_COMMAND}` (run from the repository root; it runs `dbt parse`)."
        )
    return project


def prepare_environment() -> Path:
    """Pin TWELVE_HOME / TWELVE_DATA_DIR for dbt and create the folder dbt writes features into.

    DuckDB does not create missing folders when it writes a file, so the features folder must exist
    before ``dbt build``.

    Returns:
        The features folder (``$TWELVE_DATA_DIR/features``).
    """
    twelve_paths.export_env()
    features_dir = twelve_paths.data_dir() / "features"
    features_dir.mkdir(parents=True, exist_ok=True)
    return features_dir


def parse(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Write ``target/manifest.json`` with ``dbt parse`` (offline, no version probe).

    Runs with the TWELVE_HOME / TWELVE_DATA_DIR the assets use (``prepare_environment``), so the
    saved partial-parse state is still valid when Dagster runs ``dbt build``.

    Args:
        project_dir: the dbt project folder (its ``profiles.yml`` is used).

    Returns:
        The manifest path.

    Raises:
        RuntimeError: when dbt fails to parse the project (dbt's output is in the message).
    """
    prepare_environment()
    command = [
        dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"`dbt parse` failed for {project_dir}:\n{completed.stdout}{completed.stderr}"
        )
    return project_dir / "target" / "manifest.json"


class LocalDbtCliResource(DbtCliResource):
    """``DbtCliResource`` that reads the dbt-core version from the installed package.

    The base class asks ``dbt --version`` before every command, and that command queries the package
    index with 1 s timeouts (about 2 s per dbt step lost when it is unreachable, STACK-NOTES). The
    installed dbt-core is the one that runs, so its version is the same answer without the network.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__ as dbt_core_version

        return version.parse(dbt_core_version)


def main() -> None:
    """Prepare the manifest (the Makefile's step before loading the code location)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = parse()
    logger.info("dbt manifest written: %s", manifest)


if __name__ == "__main__":
    main()
