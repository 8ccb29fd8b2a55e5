"""dbt (factor 2): raw parquet -> staging view -> feature tables Feast reads; tests = checks."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from {{ cookiecutter.name }}.dbt_project import (
    LocalDbtCliResource,
    dbt_executable,
    dbt_project,
    prepare_environment,
)
from {{ cookiecutter.name }}.paths import ASSET_PREFIX


class PrefixedTranslator(DagsterDbtTranslator):
    """Models and sources keyed under the project's prefix (the source -> ``raw_events``)."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        """The default spec, its key prefixed; feature tables marked as parquet."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        spec = spec.replace_attributes(key=spec.key.with_prefix(ASSET_PREFIX))
        props = self.get_resource_props(manifest, unique_id)
        if props.get("config", {}).get("materialized") == "external":
            spec = spec.merge_attributes(kinds={"parquet"})
        return spec


def defs() -> dg.Definitions:
    """The dbt models as assets (built here, not at import: the manifest is read now)."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=PrefixedTranslator(),
        name="{{ cookiecutter.name }}_dbt",
    )
    def project_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        """Build the dbt models and run their tests (`dbt build`)."""
        context.log.info("dbt writes feature files to %s", prepare_environment())
        yield from dbt.cli(["build"], context=context).stream()

    return dg.Definitions(
        assets=[project_dbt],
        resources={
            "dbt": LocalDbtCliResource(project_dir=project, dbt_executable=dbt_executable()),
        },
    )
