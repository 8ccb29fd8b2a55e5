"""Dagster code location of the flight-delay project.

Thin on purpose: every area of the project lives in ``defs/<area>.py`` and exposes ``defs()``;
this file merges them with the jobs (``jobs.py``).
"""

import dagster as dg

from flight_delays import jobs
from flight_delays.defs import (
    bento,
    comparison,
    dbt,
    drift,
    features,
    performance,
    profiles,
    raw,
    schedules,
    sensors,
    serving,
    training,
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
        performance.defs(),
        sensors.defs(),
        schedules.defs(),
        dg.Definitions(jobs=jobs.JOBS),
    )


defs = build_defs()
