"""Run a sensor's ticks in-process, as the Dagster daemon would: evaluate, then launch its runs.

``twelve replay`` drives a project's sensor step by step (a month arrives, the sensor ticks, its
runs execute, it ticks again) without a daemon and without waiting for the sensor's interval.
What a tick does is the sensor's own code (``SensorDefinition.evaluate_tick``); each requested
run executes with its job, partition, run config and tags, plus the tags the daemon adds
(``dagster/sensor_name``, ``dagster/run_key``), and a run key already used is skipped, as the
daemon skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from twelve.cli.runner import quiet_loggers

log = logging.getLogger(__name__)
SENSOR_TAG, RUN_KEY_TAG = "dagster/sensor_name", "dagster/run_key"


@dataclass
class Tick:
    """One evaluation: the runs requested, the cursor after it, the skip reason if any."""

    requests: list[dg.RunRequest]
    cursor: str | None
    skip_message: str | None = None


@dataclass
class LaunchedRun:
    """A requested run and how it ended."""

    job: str
    run_key: str
    partition: str | None
    run_id: str = ""
    success: bool = False
    skipped: bool = False  # the run key was used before: not run again
    error: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def tick(
    defs: dg.Definitions, sensor_name: str, instance: dg.DagsterInstance, cursor: str | None
) -> Tick:
    """Evaluate the sensor once against the instance, from ``cursor``."""
    sensor = defs.resolve_sensor_def(sensor_name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, sensor_name=sensor_name
    )
    data = sensor.evaluate_tick(context)
    return Tick(list(data.run_requests or []), data.cursor, data.skip_message)


def _used(instance: dg.DagsterInstance, sensor_name: str, run_key: str) -> bool:
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={SENSOR_TAG: sensor_name, RUN_KEY_TAG: run_key}), limit=1
    )
    return bool(runs)


def launch(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor_name: str,
    request: dg.RunRequest,
    log_level: str = "WARNING",
) -> LaunchedRun:
    """Execute one requested run in this process (a failed run is recorded, not raised).

    Args:
        defs: the code location.
        instance: the instance the run is recorded in.
        sensor_name: the sensor that requested it (tagged on the run).
        request: the run request.
        log_level: level of Dagster's console logger during the run.
    """
    job_name = request.job_name
    if job_name is None:
        raise ValueError(f"run request {request.run_key} names no job")
    launched = LaunchedRun(
        job=job_name,
        run_key=request.run_key or "",
        partition=request.partition_key,
        tags=dict(request.tags),
    )
    if request.run_key and _used(instance, sensor_name, request.run_key):
        launched.skipped = True
        return launched
    run_config = dict(request.run_config or {})
    run_config.setdefault("loggers", quiet_loggers(log_level))
    tags = {**request.tags, SENSOR_TAG: sensor_name}
    if request.run_key:
        tags[RUN_KEY_TAG] = request.run_key
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=instance,
        run_config=run_config,
        tags=tags,
        partition_key=request.partition_key,
        asset_selection=list(request.asset_selection) if request.asset_selection else None,
        raise_on_error=False,
    )
    launched.run_id, launched.success = result.run_id, result.success
    if not result.success:
        failures = [event for event in result.all_events if event.is_step_failure]
        launched.error = "; ".join(
            f"{event.step_key}: {_headline(event.step_failure_data.error.message)}"
            for event in failures
            if event.step_failure_data and event.step_failure_data.error
        )
    return launched


def tick_until_quiet(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor_name: str,
    progress: Callable[[str], object] = log.info,
    limit: int = 5,
) -> list[LaunchedRun]:
    """Tick the sensor from no cursor, running what it requests, until it requests nothing new.

    From no cursor the sensor reads everything recorded; run keys already used are skipped, so a
    second call launches nothing twice (``twelve run --sensor``).

    Raises:
        RuntimeError: it still requested runs after ``limit`` ticks.
    """
    cursor: str | None = None
    launched: list[LaunchedRun] = []
    for _ in range(limit):
        evaluated = tick(defs, sensor_name, instance, cursor)
        cursor = evaluated.cursor
        fresh = [run for run in map(lambda r: launch(defs, instance, sensor_name, r),
                                    evaluated.requests) if not run.skipped]  # fmt: skip
        for run in fresh:
            progress(f"sensor {sensor_name} -> {run.job} {run.partition or ''} "
                     f"{'ok' if run.success else 'FAILED: ' + run.error}")  # fmt: skip
        launched += fresh
        if not fresh:
            if evaluated.skip_message:
                progress(f"sensor {sensor_name}: {evaluated.skip_message}")
            return launched
    raise RuntimeError(f"the sensor {sensor_name} still requested runs after {limit} ticks")


def _headline(message: str) -> str:
    """The first lines of an error message that say something (not the exception's class)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " ".join(lines[:2]).split(": ", 1)[-1] if lines else "failed"
