"""Dagster code location of the flight-delay project.

Thin on purpose: every area of the project lives in ``defs/<area>.py`` and exposes ``defs()``;
this file merges them and adds the jobs that run the whole golden path.
"""

import dagster as dg

from flight_delays.defs import bento, comparison, dbt, features, profiles, raw, serving, training

# Data arriving month by month: the partitioned raw assets and everything partitioned like them.
monthly_arrival_job = dg.define_asset_job(
    "monthly_arrival",
    selection=dg.AssetSelection.assets("raw_flights", "raw_flights_profile"),
    description="Ingest one month of flights: raw file -> DVC -> profile and data report.",
)

# Everything that is not partitioned by month: dbt, Feast, training set, model, evaluation, bento.
# The skew report is not part of it: it needs traffic served by the bento the path ends with.
golden_path_job = dg.define_asset_job(
    "golden_path",
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets("raw_flights", "raw_flights_profile", "serving_skew"),
    description="weather, planes -> dbt -> Feast -> training set -> model -> checks -> bento.",
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
        dg.Definitions(jobs=[monthly_arrival_job, golden_path_job]),
    )


defs = build_defs()
