"""The dbt project of {{ cookiecutter.name }} (``dbt/``), loaded lazily.

The manifest the code location reads is written by ``dbt parse``, through
``python -m {{ cookiecutter.name }}.dbt_project``
(``twelve new`` runs it once). Under ``dagster dev`` it is re-parsed on every load.
"""

import logging
import subprocess
import sys
from functools import cache, cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev
from packaging import version
from twelve.core import paths as twelve_paths

from {{ cookiecutter.name }}.paths import DBT_PROJECT_DIR, features_dir

logger = logging.getLogger(__name__)


def dbt_executable() -> str:
    """The ``dbt`` next to the running interpreter (the venv need not be on PATH)."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def prepare_environment() -> Path:
    """Pin TWELVE_HOME / TWELVE_DATA_DIR for dbt and create the folder it writes features into."""
    twelve_paths.export_env()
    folder = features_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def parse(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Write ``target/manifest.json`` with ``dbt parse``.

    Raises:
        RuntimeError: dbt could not parse the project (its output is in the message).
    """
    prepare_environment()
    command = [dbt_executable(), "parse", "--quiet", "--project-dir", str(project_dir),
               "--profiles-dir", str(project_dir)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"`dbt parse` failed:\n{completed.stdout}{completed.stderr}")
    return project_dir / "target" / "manifest.json"


@cache
def dbt_project() -> DbtProject:
    """The dbt project; its manifest must have been prepared (see the module docstring)."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if using_dagster_dev():
        parse(project.project_dir)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {project.manifest_path}: prepare it with "
            "`.venv/bin/python -m {{ cookiecutter.name }}.dbt_project`"
        )
    return project


class LocalDbtCliResource(DbtCliResource):
    """Reads dbt's version from the installed package instead of asking `dbt --version`.

    That command queries the package index (about 2 s lost per dbt step offline).
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        import dbt.version

        return version.parse(dbt.version.__version__)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    logger.info("dbt manifest written: %s", parse())
