"""A project's dbt models as Dagster assets (factor 2): raw parquet -> staging -> feature tables.

Every dbt model is an asset (staging models in one group, the models under ``models/features`` in
another), every dbt test an asset check on its model; a source whose ``meta.dagster.asset_key``
names a raw asset is that asset, so the lineage runs from the raw files to the features in one
graph. A project lists the block in ``defs/dbt/defs.yaml``
(``type: twelve.features.dbt.DbtModels``).

Nothing runs at import, and ``dbt parse`` never runs while definitions load (outside ``dagster
dev``): the manifest is prepared beforehand, offline, by ``python -m twelve.features.dbt
projects/<name>`` (the Makefile and ``twelve new`` do it), with the venv's ``dbt`` and the same
``TWELVE_HOME`` / ``TWELVE_DATA_DIR`` the assets use, so dbt's partial parsing stays valid.
"""

# No `from __future__ import annotations`: Dagster inspects the real `context` annotation.
import logging
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version
from pydantic import Field

from twelve.core import paths
from twelve.core.project import Project

log = logging.getLogger(__name__)
FEATURES_FOLDER = "features"


def dbt_executable() -> str:
    """The ``dbt`` of the running interpreter's environment, so PATH need not include the venv."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def prepare_environment(project: Project) -> Path:
    """Pin TWELVE_HOME / TWELVE_DATA_DIR for dbt and create the folder it writes features into.

    DuckDB does not create missing folders when it writes a file.

    Returns:
        The project's features folder.
    """
    paths.export_env()
    folder = project.features_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def parse(project: Project) -> Path:
    """Write the project's ``dbt/target/manifest.json`` with ``dbt parse`` (offline, no probe).

    Returns:
        The manifest path.

    Raises:
        RuntimeError: dbt could not parse the project (dbt's output is in the message).
    """
    prepare_environment(project)
    folder = str(project.dbt_dir())
    command = [
        dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        folder,
        "--profiles-dir",
        folder,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`dbt parse` failed for {folder}:\n{done.stdout}{done.stderr}")
    return project.dbt_dir() / "target" / "manifest.json"


def dbt_project(project: Project) -> DbtProject:
    """The project's dbt project, re-parsed under ``dagster dev`` (as ``prepare_if_dev`` would).

    Raises:
        FileNotFoundError: outside ``dagster dev`` the manifest was never prepared (the message
            gives the command).
    """
    from dagster_dbt.dbt_project import using_dagster_dev

    if using_dagster_dev():
        parse(project)
    dbt = DbtProject(project_dir=project.dbt_dir(), profiles_dir=project.dbt_dir())
    if not dbt.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {dbt.manifest_path}: prepare it with "
            f"`.venv/bin/python -m twelve.features.dbt {project.root}` (or `make install`)"
        )
    return dbt


class LocalDbtCliResource(DbtCliResource):
    """``DbtCliResource`` that reads the dbt-core version from the installed package.

    The base class runs ``dbt --version`` before every command, which asks the package index for
    the latest versions with 1 s timeouts (about 2 s per dbt step lost offline, STACK-NOTES). The
    installed dbt-core is the one that runs, so its version is the same answer without the network.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__ as dbt_core_version

        return version.parse(dbt_core_version)


class ProjectDbtTranslator(DagsterDbtTranslator):
    """Groups models by folder, marks file outputs as parquet, prefixes the project's keys."""

    def __init__(self, project: Project, staging_group: str, features_group: str) -> None:
        super().__init__()
        self.project, self.staging_group, self.features_group = (
            project,
            staging_group,
            features_group,
        )

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The features group for models under ``models/features``, staging for the others."""
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        folders = dbt_resource_props["fqn"][1:-1]
        return self.features_group if FEATURES_FOLDER in folders else self.staging_group

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """A model's key under the project's prefix; a source keeps the key its meta names."""
        key = super().get_asset_key(dbt_resource_props)
        if dbt_resource_props["resource_type"] == "source":
            return key
        return self.project.key(key.path[-1])

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """The default spec, plus the ``parquet`` kind for models written as files."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("config", {}).get("materialized") == "external":
            spec = spec.merge_attributes(kinds={"parquet"})
        return spec


def build_dbt_assets(
    project: Project, dbt: DbtProject, staging_group: str = "dbt", features_group: str = "features"
) -> dg.AssetsDefinition:
    """The dbt models of a project as one multi-asset (its tests as asset checks)."""

    @dbt_assets(
        manifest=dbt.manifest_path,
        project=dbt,
        dagster_dbt_translator=ProjectDbtTranslator(project, staging_group, features_group),
        name=f"{project.name}_dbt",
    )
    def _dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        """Build the selected dbt models and run their tests (`dbt build`).

        Staging views live in the DuckDB warehouse under TWELVE_HOME; the feature tables are
        written as parquet files under the project's TWELVE_DATA_DIR folder for Feast.
        """
        folder = prepare_environment(project)
        context.log.info("dbt writes feature files to %s", folder)
        yield from dbt.cli(["build"], context=context).stream()

    return _dbt


class DbtModels(dg.Component, dg.Model, dg.Resolvable):
    """The project's dbt models (its ``dbt/`` folder) as assets, its dbt tests as checks."""

    staging_group: str = Field(default="dbt", description="Group of the staging models.")
    features_group: str = Field(
        default="features", description="Group of the models under models/features."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The dbt assets and the ``dbt`` resource they run with."""
        project = Project.load(context.project_root)
        dbt = dbt_project(project)
        return dg.Definitions(
            assets=[build_dbt_assets(project, dbt, self.staging_group, self.features_group)],
            resources={
                # dagster-dbt documents project_dir=DbtProject (a validator takes its folder);
                # the pydantic field is annotated str only.
                "dbt": LocalDbtCliResource(
                    project_dir=dbt,  # type: ignore[arg-type]
                    dbt_executable=dbt_executable(),
                )
            },
        )


def main(argv: list[str] | None = None) -> None:
    """``python -m twelve.features.dbt PROJECT_DIR...``: prepare each project's dbt manifest."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for folder in argv if argv is not None else sys.argv[1:]:
        manifest = parse(Project.load(folder))
        log.info("dbt manifest written: %s", manifest)


if __name__ == "__main__":
    main()
