"""Schedules: when the serving window is judged (factor 6, the serving half of drift).

``serving_window_hourly`` materializes ``serving_skew`` every hour over the last hour's serving
profiles; the retraining sensor reads its verdict. It is
stopped by default: switch it on in the UI where a bento serves real traffic.
"""

import dagster as dg

from flight_delays import jobs

serving_window_hourly = dg.ScheduleDefinition(
    name="serving_window_hourly",
    job=jobs.serving_window_job,
    cron_schedule="5 * * * *",
    run_config={"ops": {"serving_skew": {"config": {"window_hours": 1.0}}}},
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every hour: the served model's inputs of the last window vs its training data.",
)


@dg.definitions
def defs() -> dg.Definitions:
    """The `serving_window_hourly` schedule."""
    return dg.Definitions(schedules=[serving_window_hourly])
