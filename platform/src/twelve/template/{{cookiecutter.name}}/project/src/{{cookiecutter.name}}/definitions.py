"""The Dagster code location: merges every area's ``defs()`` and adds the job."""

import dagster as dg

from {{ cookiecutter.name }}.defs import dbt, features, raw, training

golden_path_job = dg.define_asset_job(
    "golden_path",
    selection=dg.AssetSelection.all(),
    description="raw -> dbt -> Feast -> training set -> model -> evaluation.",
)


def build_defs() -> dg.Definitions:
    """Merge the definitions of every area with the project's job."""
    return dg.Definitions.merge(
        raw.defs(),
        dbt.defs(),
        features.defs(),
        training.defs(),
        dg.Definitions(jobs=[golden_path_job]),
    )


defs = build_defs()
