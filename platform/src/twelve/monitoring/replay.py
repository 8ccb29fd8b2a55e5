"""A project's continuous-training loop, replayed one month at a time (factor 6).

``twelve replay PROJECT`` (``make demo-drift``) runs this in a throw-away environment of its own
(``<TWELVE_HOME>/replay``: its Dagster instance, MLflow store, DVC repository, BentoML home):

1. **Bootstrap**: the first months arrive and the golden path trains the first champion (holdout =
   the newest of them, the retraining sensor's run config), which is built into a bento.
2. Then, for every replayed month:

   a. **Traffic**: the champion's bento is served (``bentoml serve`` on 127.0.0.1) and receives
      the month's rows (a sample, with their point-in-time features, ``twelve.monitoring.
      replay_traffic``); the bento profiles its inputs; ``serving_skew`` judges the window.
   b. **Arrival**: the month's raw data arrive (``monthly_arrival``: a new DVC version).
   c. **The sensor** ``drift_retraining`` ticks, as the daemon would, and its runs execute: a
      ``drift_check`` of the month, then, when there is evidence, one ``retraining`` (holdout =
      this month) whose gate decides: promoted to champion, or kept challenger.

Every name comes from the project (its contract, registered model, asset keys) and the asset
graph's role tags; a summary (``twelve.monitoring.replay_report``) says what happened each month.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import dagster as dg
import pandas as pd

from twelve.cli.runner import quiet_loggers
from twelve.core import jobs, tags
from twelve.core.project import Project
from twelve.monitoring import replay_traffic
from twelve.monitoring.replay_report import MonthOutcome, ReplaySummary, outcome_line
from twelve.monitoring.sensor import SENSOR_NAME

if TYPE_CHECKING:
    from twelve.training.tracking import MlflowResource

log = logging.getLogger(__name__)


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None):
    """The metadata values of an asset's newest materialization (of a partition), {} if none."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
        limit=1,
        ascending=False,
    ).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None:
        return {}
    return {k: v.value for k, v in materialization.metadata.items()}


def champion_bento(
    instance: dg.DagsterInstance, bento: dg.AssetKey, registered_model: str, version: str
) -> dict:
    """The metadata of the newest ``bento`` materialization that packaged this version.

    Raises:
        RuntimeError: no bento of it was built.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=bento), limit=200, ascending=False
    ).records
    for record in records:
        if record.asset_materialization is None:
            continue
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if (
            str(metadata.get("model_version")) == str(version)
            and metadata.get("registered_model") == registered_model
        ):
            return metadata
    raise RuntimeError(f"no bento was built for {registered_model} v{version}")


def _one(keys: list[dg.AssetKey], what: str) -> dg.AssetKey:
    if len(keys) != 1:
        found = [k.to_user_string() for k in keys]
        raise ValueError(f"the replay needs exactly one {what}; the code location has {found}")
    return keys[0]


def _by_role(graph, role: str) -> list[dg.AssetKey]:
    return sorted(k for k in graph.get_all_asset_keys() if graph.get(k).tags.get(tags.ROLE) == role)


class Replay:
    """The replay's steps, over one Dagster instance and the project's definitions."""

    def __init__(
        self,
        project: Project,
        defs: dg.Definitions,
        traffic_source: pd.DataFrame,
        workdir: Path,
        rows_per_month: int,
        seed: int = 42,
        progress: Callable[[str], None] = log.info,
    ) -> None:
        from twelve.core.resources import project_resources
        from twelve.monitoring.sensor import watched_keys

        self.project, self.defs = project, defs
        self.instance = dg.DagsterInstance.get()
        self.mlflow = cast("MlflowResource", project_resources(project)["mlflow"])
        graph = defs.resolve_asset_graph()
        self.bento = _one(_by_role(graph, tags.BENTO), f"asset tagged {tags.ROLE}={tags.BENTO}")
        # The gate's decision on the champion's model: the alias the bento is built from.
        aliases = set(_by_role(graph, tags.MODEL_ALIAS)) & set(graph.get(self.bento).parent_keys)
        self.alias = _one(sorted(aliases), f"{tags.MODEL_ALIAS} the bento depends on")
        self.arrivals = watched_keys(project, graph).arrivals
        self.traffic_source = traffic_source
        self.workdir, self.rows_per_month, self.seed = workdir, rows_per_month, seed
        self.progress = progress
        self.cursor: str | None = None

    # ---------------------------------------------------------------- bootstrap
    def bootstrap(self, months: list[str]) -> str:
        """The first months arrive; the golden path trains the first champion and its bento."""
        from twelve.cli.runner import run_golden_path
        from twelve.monitoring import retraining, sensor

        targets = sensor.sensor_targets(self.defs, self.project)
        run_config = retraining.retraining_run_config(months[-1], targets)
        if run_config is None:
            raise ValueError(
                f"initial months {months}: the newest is the holdout and training needs at least "
                f"one month {targets.gap_months + 1} months before it; give more initial months"
            )
        run_golden_path(
            self.defs,
            self.instance,
            partitioned_job=jobs.MONTHLY_ARRIVAL,
            partitions=[f"{month}-01" for month in months],
            main_job=jobs.GOLDEN_PATH,
            run_config=run_config,
            progress=lambda line: self.progress(f"  {line}"),
        )
        # The sensor is switched on now: the bootstrap months are its starting point.
        graph = self.defs.resolve_asset_graph()
        keys = sensor.watched_keys(self.project, graph)
        self.cursor = sensor.starting_now(self.instance, keys).dump()
        return self._champion_label()

    def _champion(self):
        from twelve.training.champion import current_champion

        return current_champion(self.mlflow, self.project.registered_model)

    def _champion_label(self) -> str:
        champion = self._champion()
        return champion.label if champion else "none"

    # ---------------------------------------------------------------- one month
    def month(self, month: str) -> MonthOutcome:
        """Traffic, arrival, sensor ticks and runs of one month."""
        started = time.perf_counter()
        outcome = MonthOutcome(month=month)
        self._serve_traffic(month, outcome)
        self._judge_serving_window(outcome)
        self._tick_until_quiet(outcome)  # serving evidence is read (it waits for labels)
        self._arrive(month)
        self._tick_until_quiet(outcome)
        self._read_results(month, outcome)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _serve_traffic(self, month: str, outcome: MonthOutcome) -> None:
        from twelve.core import paths
        from twelve.deploy import bento_server

        champion = self._champion()
        if champion is None:
            raise RuntimeError("no champion to serve: the bootstrap did not promote one")
        bento = champion_bento(
            self.instance, self.bento, champion.registered_model, champion.version
        )
        outcome.served_bento, outcome.served_model = str(bento["bento_tag"]), champion.label
        self._served_model_version = str(bento["bentoml_model_tag"]).rsplit(":", 1)[-1]
        contract = self.project.contract
        rows = replay_traffic.month_traffic(
            self.traffic_source,
            contract.period.name,
            contract.timestamp.name,
            month,
            self.rows_per_month,
            self.seed,
        )
        records = bento_server.json_rows(rows, contract.feature_columns)
        self.progress(f"  traffic: {len(records)} rows of {month} -> {outcome.served_bento}")
        self._traffic_started = datetime.now(UTC)
        sent = replay_traffic.send(
            outcome.served_bento, records, paths.state_dir() / "bentoml", self.workdir / "serve"
        )
        outcome.traffic_rows, outcome.traffic_requests = len(records), sent.requests
        outcome.traffic_errors, outcome.traffic_p95_ms = sent.errors, sent.p95_ms
        if sent.errors:
            raise RuntimeError(
                f"{sent.errors} of {sent.requests} requests of {month} failed: see "
                f"{self.workdir / 'serve'}"
            )

    def _judge_serving_window(self, outcome: MonthOutcome) -> None:
        hours = (datetime.now(UTC) - self._traffic_started).total_seconds() / 3600 + 1 / 60
        key = self.project.key("serving_skew")
        window = {"model_version": self._served_model_version, "window_hours": hours}
        result = self.defs.resolve_job_def(jobs.SERVING_WINDOW).execute_in_process(
            instance=self.instance,
            run_config={
                "ops": {key.to_python_identifier(): {"config": window}},
                "loggers": quiet_loggers(),
            },
            raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"serving_window run {result.run_id} failed: see the Dagster UI")
        metadata = latest_metadata(self.instance, key)
        outcome.serving_verdict = str(metadata.get("verdict", ""))
        outcome.serving_drifted = list(metadata.get("drifted_features") or [])
        outcome.serving_report = str(metadata.get("report", ""))
        self.progress(
            f"  serving window: {outcome.serving_verdict} {outcome.serving_drifted or ''}"
        )

    def _arrive(self, month: str) -> None:
        result = self.defs.resolve_job_def(jobs.MONTHLY_ARRIVAL).execute_in_process(
            instance=self.instance,
            partition_key=f"{month}-01",
            run_config={"loggers": quiet_loggers()},
            raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"monthly_arrival[{month}] failed (run {result.run_id})")
        names = ", ".join(f"{key.to_user_string()}[{month}]" for key in self.arrivals)
        self.progress(f"  arrived: {names} (a new DVC version)")

    def _tick_until_quiet(self, outcome: MonthOutcome, limit: int = 5) -> None:
        from twelve.cli import sensor_ticks

        for _ in range(limit):
            tick = sensor_ticks.tick(self.defs, SENSOR_NAME, self.instance, self.cursor)
            self.cursor = tick.cursor
            if not tick.requests:
                return
            for request in tick.requests:
                self.progress(f"  sensor -> {request.job_name} ({request.run_key})")
                launched = sensor_ticks.launch(self.defs, self.instance, SENSOR_NAME, request)
                self._record(outcome, launched)
        raise RuntimeError(f"the sensor still requested runs after {limit} ticks")

    def _record(self, outcome: MonthOutcome, launched) -> None:
        trigger = launched.tags.get("twelve/trigger", "")
        outcome.runs.append(
            {
                "job": launched.job,
                "run_key": launched.run_key,
                "run_id": launched.run_id,
                "success": launched.success,
                "skipped": launched.skipped,
                "error": launched.error,
                "trigger": trigger,
            }
        )
        state = "done" if launched.success else f"FAILED: {launched.error}"
        self.progress(f"    {launched.job} run {launched.run_id[:8]} {state}")
        if launched.job == jobs.RETRAINING:
            outcome.trigger = trigger
            if not launched.success:
                outcome.decision = f"retraining failed ({launched.error[:80]})"

    def _read_results(self, month: str, outcome: MonthOutcome) -> None:
        partition = f"{month}-01"
        drift = latest_metadata(self.instance, self.project.key("month_drift"), partition)
        outcome.drift_verdict = str(drift.get("verdict", ""))
        outcome.drifted = list(drift.get("drifted_features") or [])
        outcome.drift_scores = dict(drift.get("scores") or {})
        outcome.drift_report = str(drift.get("report", ""))
        key = self.project.key("month_performance")
        performance = latest_metadata(self.instance, key, partition)
        outcome.score = performance.get("score")
        outcome.baseline_score = performance.get("baseline_score")
        outcome.label_mean = performance.get("label_mean")
        outcome.performance_verdict = str(performance.get("verdict", ""))
        if any(r["job"] == jobs.RETRAINING and r["success"] for r in outcome.runs):
            alias = latest_metadata(self.instance, self.alias)
            outcome.decision = str(alias.get("decision") or alias.get("alias", ""))
            outcome.challenger_score = alias.get("score")
            outcome.champion_score = alias.get("champion_score")
            bento = latest_metadata(self.instance, self.bento)
            outcome.bento_after = str(bento.get("bento_tag", ""))
        outcome.champion_after = self._champion_label()


def run_replay(
    project: Project,
    defs: dg.Definitions,
    initial_months: list[str],
    months: list[str],
    traffic_source: Path,
    workdir: Path,
    rows_per_month: int = 1000,
    progress: Callable[[str], None] = log.info,
) -> ReplaySummary:
    """Bootstrap on ``initial_months``, then replay ``months`` one by one (see the module doc).

    The caller has pointed TWELVE_HOME, TWELVE_DATA_DIR, DAGSTER_HOME and BENTOML_HOME at the
    replay's own environment before building ``defs`` (``twelve replay`` does).

    Raises:
        ValueError: bad months, or the traffic source lacks a month (named).
        RuntimeError: a step failed (the message says which; the runs are in the instance).
    """
    from twelve.monitoring import reports
    from twelve.monitoring.replay_report import render_report

    if not initial_months or not months:
        raise ValueError("give at least one initial month and one replayed month")
    if max(initial_months) >= min(months):
        raise ValueError(
            f"replayed months {months} must come after the initial months {initial_months}"
        )
    if not traffic_source.is_file():
        raise ValueError(
            f"the traffic source {traffic_source} does not exist: run `make demo` first (the "
            "replay sends each month's rows with their features from it)"
        )
    frame = pd.read_parquet(traffic_source)
    period, timestamp = project.contract.period.name, project.contract.timestamp.name
    for month in months:  # fails now, naming the month, not after an hour
        replay_traffic.month_traffic(frame, period, timestamp, month, 1, 0)
    started = time.perf_counter()
    replay = Replay(project, defs, frame, workdir, rows_per_month, progress=progress)
    progress(f"bootstrap: {', '.join(initial_months)} arrive; the golden path trains a champion")
    summary = ReplaySummary(
        project=project.name,
        metric=project.metric,
        initial_months=list(initial_months),
        months=[],
        workdir=str(workdir),
    )
    summary.first_champion = replay.bootstrap(list(initial_months))
    summary.bootstrap_seconds = time.perf_counter() - started
    progress(f"first champion: {summary.first_champion} ({summary.bootstrap_seconds:.0f} s)")
    for index, month in enumerate(months, start=1):
        progress(f"[{index}/{len(months)}] {month}")
        summary.months.append(replay.month(month))
        progress(outcome_line(summary.months[-1], project.metric).strip())
    summary.seconds = time.perf_counter() - started
    summary.sensor_cursor = replay.cursor or ""
    report = workdir / "replay.html"
    summary.report = str(report)
    reports.write_report(render_report(summary), report)
    report.with_suffix(".json").write_text(json.dumps(asdict(summary), indent=2, default=str))
    return summary
