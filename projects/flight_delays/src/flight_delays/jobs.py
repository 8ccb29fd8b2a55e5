"""The project's jobs: how its assets are run together.

- ``monthly_arrival`` (partitioned): a month of flights arrives: raw file, DVC, profile, report.
- ``golden_path``: everything that is not partitioned, raw weather and planes to the bento.
- ``drift_check`` (partitioned): after a month arrived, refresh the features and the training set,
  then judge that month: drift against the champion's training data and the champion's
  performance on its labels. The retraining sensor requests it for every new raw data version.
- ``serving_window``: the skew of the newest serving traffic against the served model's training
  data (``serving_skew``); scheduled hourly (``defs/schedules.py``), read by the sensor.
- ``retraining``: the part of the golden path after the training set (holdout, both pipelines,
  the gate and the aliases, the leaderboard, the reference profile, the bento). The retraining
  sensor requests it for a drift or performance event, with the newest month as the holdout.
"""

import dagster as dg

monthly_arrival_job = dg.define_asset_job(
    "monthly_arrival",
    selection=dg.AssetSelection.assets("raw_flights", "raw_flights_profile"),
    description="Ingest one month of flights: raw file -> DVC -> profile and data report.",
)

# The skew report is not part of it (it needs traffic served by the bento the path ends with), nor
# the monthly checks (partitioned, and judged against the model this path makes).
MONTHLY_CHECKS = ("month_drift", "month_performance")
golden_path_job = dg.define_asset_job(
    "golden_path",
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets(
        "raw_flights", "raw_flights_profile", "serving_skew", *MONTHLY_CHECKS
    ),
    description="weather, planes -> dbt -> Feast -> training set -> model -> checks -> bento.",
)

# Unpartitioned feature assets run inside the partitioned run (Dagster materializes them once):
# the month's rows must be in the training set before the month is judged.
drift_check_job = dg.define_asset_job(
    "drift_check",
    selection=dg.AssetSelection.assets(*MONTHLY_CHECKS).upstream()
    - dg.AssetSelection.assets("raw_flights", "raw_weather", "raw_planes", "raw_flights_profile")
    - dg.AssetSelection.assets("training_set_profile"),
    description=(
        "After a month arrived: dbt -> Feast -> training set, then that month's drift against "
        "the champion's training data and the champion's performance on its labels."
    ),
)

retraining_job = dg.define_asset_job(
    "retraining",
    selection=dg.AssetSelection.assets("training_set").downstream()
    - dg.AssetSelection.assets("training_set", *MONTHLY_CHECKS),
    description=(
        "Retrain on the current training set: holdout -> both pipelines -> gate and aliases "
        "(champion only when better by the margin) -> leaderboard, reference profile -> bento."
    ),
)

serving_window_job = dg.define_asset_job(
    "serving_window",
    selection=dg.AssetSelection.assets("serving_skew"),
    description="Judge the newest serving traffic against the served model's training data.",
)

JOBS = [monthly_arrival_job, golden_path_job, drift_check_job, retraining_job, serving_window_job]
