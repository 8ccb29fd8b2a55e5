"""dbt transformations (factor 2): raw parquet -> staging views -> the feature tables Feast reads.

Every dbt model is a Dagster asset (staging models in group ``dbt``, feature tables in group
``features``), every dbt test an asset check on its model, and the dbt sources map to the raw assets
``raw_flights``, ``raw_weather`` and ``raw_planes`` (``meta.dagster.asset_key`` in the dbt project),
so the lineage runs from the raw files to the features in one graph.

Importing this module does nothing: the dbt project and its manifest are loaded when ``defs()`` is
called (the manifest is prepared beforehand by ``python -m flight_delays.dbt_project``).
"""

# No `from __future__ import annotations`: Dagster inspects the real `context` annotation.
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from flight_delays.dbt_project import (
    LocalDbtCliResource,
    dbt_executable,
    dbt_project,
    prepare_environment,
)

STAGING_GROUP = "dbt"
FEATURES_GROUP = "features"


class FlightDelaysDbtTranslator(DagsterDbtTranslator):
    """Groups models by folder and marks the feature tables as parquet files.

    Descriptions (model and column docs from the dbt yml files) are kept as dagster-dbt builds them.
    """

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """``features`` for models under ``models/features``, ``dbt`` for the other models."""
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        folders = dbt_resource_props["fqn"][1:-1]
        return FEATURES_GROUP if FEATURES_GROUP in folders else STAGING_GROUP

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """The default spec, plus the ``parquet`` kind for models written as files."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("config", {}).get("materialized") == "external":
            spec = spec.merge_attributes(kinds={"parquet"})
        return spec


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    """The dbt models of ``project`` as one multi-asset (its tests as asset checks).

    Args:
        project: the prepared dbt project (its manifest must exist).

    Returns:
        The assets definition; it needs the ``dbt`` resource.
    """

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=FlightDelaysDbtTranslator(),
        name="flight_delays_dbt",
    )
    def flight_delays_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        """Build the selected dbt models and run their tests (`dbt build`).

        Staging views live in the DuckDB warehouse under TWELVE_HOME; the feature tables are
        written as parquet files under TWELVE_DATA_DIR/features for Feast.
        """
        features_dir = prepare_environment()
        context.log.info("dbt writes feature files to %s", features_dir)
        yield from dbt.cli(["build"], context=context).stream()

    return flight_delays_dbt


@dg.definitions
def defs() -> dg.Definitions:
    """The dbt assets and checks, with the ``dbt`` resource they run with."""
    project = dbt_project()
    return dg.Definitions(
        assets=[build_dbt_assets(project)],
        resources={
            "dbt": LocalDbtCliResource(project_dir=project, dbt_executable=dbt_executable()),
        },
    )
