"""The Dagster code location: merges every area's ``defs()`` and adds the job."""

import dagster as dg

from {{ cookiecutter.name }}.defs import (
    bento,
    comparison,
    dbt,
    drift,
    features,
    profiles,
    raw,
    training,
)

golden_path_job = dg.define_asset_job(
    "golden_path",
    selection=dg.AssetSelection.all(),
    description=(
        "raw -> dbt -> Feast -> training set -> holdout -> model (MLflow) -> evaluation (gate) "
        "-> alias -> bento, with the data reports and the leaderboard."
    ),
)


def build_defs() -> dg.Definitions:
    """Merge the definitions of every area with the project's job."""
    return dg.Definitions.merge(
        raw.defs(),
        dbt.defs(),
        features.defs(),
        profiles.defs(),
        training.defs(),
        comparison.defs(),
        bento.defs(),
        drift.defs(),
        dg.Definitions(jobs=[golden_path_job]),
    )


defs = build_defs()
