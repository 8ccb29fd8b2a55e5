"""Dagster code location of the flight-delay project.

Thin on purpose: every area of the project lives in ``defs/<area>.py`` and exposes ``defs()``;
this file merges them and adds the jobs that run the whole golden path.
"""

import dagster as dg

from flight_delays.defs import (
    bento,
    comparison,
    dbt,
    drift,
    features,
    profiles,
    raw,
    sensors,
    serving,
    training,
)

# Data arriving month by month: the partitioned raw assets and everything partitioned like them.
monthly_arrival_job = dg.define_asset_job(
    "monthly_arrival",
    selection=dg.AssetSelection.assets("raw_flights", "raw_flights_profile"),
    description="Ingest one month of flights: raw file -> DVC -> profile and data report.",
)

# Everything that is not partitioned by month: dbt, Feast, training set, model, evaluation, bento.
# The skew report is not part of it (it needs traffic served by the bento the path ends with), nor
# the monthly drift check (partitioned, and judged against the training set this path makes).
golden_path_job = dg.define_asset_job(
    "golden_path",
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets("raw_flights", "raw_flights_profile", "serving_skew", "month_drift"),
    description="weather, planes -> dbt -> Feast -> training set -> model -> checks -> bento.",
)


# One month of the training set judged against the training reference profile (factor 6).
drift_check_job = dg.define_asset_job(
    "drift_check",
    selection=dg.AssetSelection.assets("month_drift"),
    description="Judge one month of the training set against the training reference profile.",
)


def build_defs() -> dg.Definitions:
    """Merge the definitions of every area with the project's jobs."""
    return dg.Definitions.merge(
        raw.defs(),
        dbt.defs(),
        features.defs(),
        profiles.defs(),
        training.defs(),
        comparison.defs(),
        bento.defs(),
        serving.defs(),
        drift.defs(),
        sensors.defs(),
        dg.Definitions(jobs=[monthly_arrival_job, golden_path_job, drift_check_job]),
    )


defs = build_defs()
