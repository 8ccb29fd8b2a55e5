"""The project's jobs (``flight_delays.jobs``) in its code location."""

import dagster as dg

from flight_delays import jobs


@dg.definitions
def defs() -> dg.Definitions:
    """Every job of the project."""
    return dg.Definitions(jobs=jobs.JOBS)
