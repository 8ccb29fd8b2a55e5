"""The continuous-training loop on the real months, replayed one month at a time (factor 6).

``twelve replay flight_delays`` (``make demo-drift``) runs this in a throw-away environment of its
own (``<TWELVE_HOME>/replay``: its Dagster instance, MLflow store, DVC repository, BentoML home):

1. **Bootstrap**: the first months arrive and the golden path trains the first champion (holdout =
   the newest of them), which is built into a bento.
2. Then, for every replayed month:

   a. **Traffic**: the champion's bento is served (``bentoml serve`` on 127.0.0.1) and receives
      the month's flights (a sample, with their point-in-time features, sent to
      ``/predict_features``); the bento profiles its inputs; ``serving_skew`` judges the window.
   b. **Arrival**: the month's raw file arrives (``monthly_arrival``: a new DVC version).
   c. **The sensor** ``drift_retraining`` ticks, as the daemon would, and its runs execute:
      a ``drift_check`` of the month (features refreshed, ``month_drift`` against the champion's
      training rows, ``month_performance`` of the champion on the month's labels), then, when
      there is evidence, one ``retraining`` (holdout = this month), where the gate decides:
      promoted to champion, or kept challenger. A new bento is built either way.

The requests come from the main environment's training set (``make demo`` builds it): a client
that already assembled each flight's features, since the online store only holds the newest values
and a replay of the past needs the values as of each flight. A summary (table and an HTML report
with inline charts) says what happened each month and where the reports are.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from twelve.cli.runner import quiet_loggers

log = logging.getLogger(__name__)
SENSOR = "drift_retraining"
BATCH_ROWS = 100


@dataclass
class MonthOutcome:
    """What happened in one replayed month."""

    month: str
    served_bento: str = ""
    served_model: str = ""
    traffic_rows: int = 0
    traffic_requests: int = 0
    traffic_errors: int = 0
    traffic_p95_ms: float = 0.0
    serving_verdict: str = ""
    serving_drifted: list[str] = field(default_factory=list)
    serving_report: str = ""
    drift_verdict: str = ""
    drifted: list[str] = field(default_factory=list)
    drift_scores: dict[str, float] = field(default_factory=dict)
    drift_report: str = ""
    late_rate: float | None = None
    roc_auc: float | None = None
    baseline_roc_auc: float | None = None
    performance_verdict: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    trigger: str = ""
    decision: str = "no retraining"
    challenger_roc_auc: float | None = None
    champion_roc_auc: float | None = None
    champion_after: str = ""
    bento_after: str = ""
    seconds: float = 0.0


@dataclass
class ReplaySummary:
    """The whole replay: the bootstrap and every month."""

    initial_months: list[str]
    months: list[MonthOutcome]
    first_champion: str = ""
    bootstrap_seconds: float = 0.0
    seconds: float = 0.0
    report: str = ""
    workdir: str = ""
    sensor_cursor: str = ""  # where the sensor stands after the last month


# ------------------------------------------------------------------------------ pure helpers
def month_traffic(frame: pd.DataFrame, month: str, rows: int, seed: int) -> pd.DataFrame:
    """A reproducible sample of ``rows`` flights of ``month`` (all of them when fewer).

    Raises:
        ValueError: the frame has no flight of that month.
    """
    of_month = frame[frame["flight_month"].astype(str) == month]
    if of_month.empty:
        raise ValueError(
            f"no flight of {month} in the traffic source; its months are "
            f"{sorted(frame['flight_month'].astype(str).unique())}"
        )
    if len(of_month) <= rows:
        return of_month
    return of_month.sample(n=rows, random_state=seed).sort_values("event_timestamp")


def batches(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """``records`` in consecutive batches of at most ``size``."""
    if size < 1:
        raise ValueError(f"batch size must be positive, got {size}")
    return [records[start : start + size] for start in range(0, len(records), size)]


def outcome_line(outcome: MonthOutcome) -> str:
    """One line of the terminal summary."""
    drifted = ",".join(outcome.drifted[:4]) + ("…" if len(outcome.drifted) > 4 else "")
    auc = f"{outcome.roc_auc:.3f}" if outcome.roc_auc is not None else "  -  "
    return (
        f"  {outcome.month}  served {outcome.served_model:<18} traffic {outcome.traffic_rows:>5} "
        f"serving {outcome.serving_verdict or '-':<14} month {outcome.drift_verdict or '-':<14}"
        f"[{drifted}]  AUC {auc} ({outcome.performance_verdict or '-'})  "
        f"-> {outcome.decision}"
    )


# ------------------------------------------------------------------------------ Dagster reads
def _latest(instance: dg.DagsterInstance, asset: str, partition: str | None = None):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None
        ),
        limit=1,
        ascending=False,
    ).records
    if not records:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def champion_bento(instance: dg.DagsterInstance, registered_model: str, version: str) -> dict:
    """The metadata of the newest ``bento`` materialization that packaged this version.

    Raises:
        RuntimeError: no bento of it was built.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("bento")), limit=200, ascending=False
    ).records
    for record in records:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if (
            str(metadata.get("model_version")) == str(version)
            and metadata.get("registered_model") == registered_model
        ):
            return metadata
    raise RuntimeError(f"no bento was built for {registered_model} v{version}")


# ------------------------------------------------------------------------------ the loop
class Replay:
    """The replay's steps, over one Dagster instance and the project's definitions."""

    def __init__(
        self,
        traffic_source: pd.DataFrame,
        workdir: Path,
        rows_per_month: int,
        seed: int = 42,
        progress: Callable[[str], None] = log.info,
    ) -> None:
        from flight_delays.definitions import build_defs

        self.defs = build_defs()
        self.instance = dg.DagsterInstance.get()
        self.traffic_source = traffic_source
        self.workdir = workdir
        self.rows_per_month = rows_per_month
        self.seed = seed
        self.progress = progress
        self.cursor: str | None = None

    # ---------------------------------------------------------------- bootstrap
    def bootstrap(self, months: list[str]) -> str:
        """The first months arrive; the golden path trains the first champion and its bento."""
        from flight_delays.defs import sensors
        from twelve.cli.runner import run_golden_path

        run_config = sensors.retraining_run_config(months[-1])
        if run_config is None:
            raise ValueError(
                f"initial months {months}: the newest is the holdout and training needs at least "
                f"one month {sensors.GAP_MONTHS + 1} months before it; give more initial months"
            )
        run_golden_path(
            self.defs,
            self.instance,
            partitioned_job="monthly_arrival",
            partitions=[f"{month}-01" for month in months],
            main_job="golden_path",
            run_config=run_config,
            progress=lambda line: self.progress(f"  {line}"),
        )
        # The sensor is switched on now: the bootstrap months are its starting point.
        self.cursor = sensors.RetrainingCursor.starting_now(self.instance).dump()
        return self._champion_label()

    def _champion(self):
        from flight_delays import resources
        from twelve.core.project import Project
        from twelve.training.champion import current_champion

        return current_champion(
            resources.mlflow(), Project.of_package("flight_delays").registered_model
        )

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
        from flight_delays import contract
        from twelve.core import paths as twelve_paths
        from twelve.deploy import bento_server

        champion = self._champion()
        if champion is None:
            raise RuntimeError("no champion to serve: the bootstrap did not promote one")
        bento = champion_bento(self.instance, champion.registered_model, champion.version)
        outcome.served_bento, outcome.served_model = str(bento["bento_tag"]), champion.label
        self._served_model_version = str(bento["bentoml_model_tag"]).rsplit(":", 1)[-1]
        rows = month_traffic(self.traffic_source, month, self.rows_per_month, self.seed)
        records = bento_server.json_rows(rows, contract.FEATURE_COLUMNS)
        self.progress(f"  traffic: {len(records)} flights of {month} -> {outcome.served_bento}")
        home = twelve_paths.state_dir() / "bentoml"
        latencies = []
        self._traffic_started = datetime.now(UTC)
        with bento_server.serving(outcome.served_bento, home, self.workdir / "serve") as server:
            for batch in batches(records, BATCH_ROWS):
                t0 = time.perf_counter()
                status, _ = server.post("/predict_features", {"rows": batch})
                latencies.append((time.perf_counter() - t0) * 1000)
                outcome.traffic_requests += 1
                if status != 200:
                    outcome.traffic_errors += 1
        # Leaving the block stopped the server: its monitor wrote the last profile on shutdown.
        outcome.traffic_rows = len(records)
        outcome.traffic_p95_ms = float(pd.Series(latencies).quantile(0.95)) if latencies else 0.0
        if outcome.traffic_errors:
            raise RuntimeError(
                f"{outcome.traffic_errors} of {outcome.traffic_requests} requests of {month} "
                f"failed: see {self.workdir / 'serve'}"
            )

    def _judge_serving_window(self, outcome: MonthOutcome) -> None:
        hours = (datetime.now(UTC) - self._traffic_started).total_seconds() / 3600 + 1 / 60
        job = self.defs.resolve_job_def("serving_window")
        result = job.execute_in_process(
            instance=self.instance,
            run_config={
                "ops": {
                    "serving_skew": {
                        "config": {
                            "model_version": self._served_model_version,
                            "window_hours": hours,
                        }
                    }
                },
                "loggers": quiet_loggers(),
            },
            raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"serving_window run {result.run_id} failed: see the Dagster UI")
        metadata = _latest(self.instance, "serving_skew")
        outcome.serving_verdict = str(metadata.get("verdict", ""))
        outcome.serving_drifted = list(metadata.get("drifted_features") or [])
        outcome.serving_report = str(metadata.get("report", ""))
        self.progress(
            f"  serving window: {outcome.serving_verdict} {outcome.serving_drifted or ''}"
        )

    def _arrive(self, month: str) -> None:
        job = self.defs.resolve_job_def("monthly_arrival")
        result = job.execute_in_process(
            instance=self.instance,
            partition_key=f"{month}-01",
            run_config={"loggers": quiet_loggers()},
            raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"monthly_arrival[{month}] failed (run {result.run_id})")
        self.progress(f"  arrived: raw_flights[{month}] (a new DVC version)")

    def _tick_until_quiet(self, outcome: MonthOutcome, limit: int = 5) -> None:
        from twelve.cli import sensor_ticks

        for _ in range(limit):
            tick = sensor_ticks.tick(self.defs, SENSOR, self.instance, self.cursor)
            self.cursor = tick.cursor
            if not tick.requests:
                return
            for request in tick.requests:
                self.progress(f"  sensor -> {request.job_name} ({request.run_key})")
                launched = sensor_ticks.launch(self.defs, self.instance, SENSOR, request)
                outcome.runs.append(
                    {
                        "job": launched.job,
                        "run_key": launched.run_key,
                        "run_id": launched.run_id,
                        "success": launched.success,
                        "skipped": launched.skipped,
                        "error": launched.error,
                        "trigger": launched.tags.get("twelve/trigger", ""),
                    }
                )
                state = "done" if launched.success else f"FAILED: {launched.error}"
                self.progress(f"    {launched.job} run {launched.run_id[:8]} {state}")
                if launched.job == "retraining":
                    outcome.trigger = launched.tags.get("twelve/trigger", "")
                    if not launched.success:
                        outcome.decision = f"retraining failed ({launched.error[:80]})"
        raise RuntimeError(f"the sensor still requested runs after {limit} ticks")

    def _read_results(self, month: str, outcome: MonthOutcome) -> None:
        partition = f"{month}-01"
        drift = _latest(self.instance, "month_drift", partition)
        outcome.drift_verdict = str(drift.get("verdict", ""))
        outcome.drifted = list(drift.get("drifted_features") or [])
        outcome.drift_scores = dict(drift.get("scores") or {})
        outcome.drift_report = str(drift.get("report", ""))
        performance = _latest(self.instance, "month_performance", partition)
        outcome.roc_auc = performance.get("roc_auc")
        outcome.baseline_roc_auc = performance.get("baseline_roc_auc")
        outcome.late_rate = performance.get("late_rate")
        outcome.performance_verdict = str(performance.get("verdict", ""))
        retrained = [r for r in outcome.runs if r["job"] == "retraining" and r["success"]]
        if retrained:
            alias = _latest(self.instance, "model_alias")
            outcome.decision = str(alias.get("decision") or alias.get("alias", ""))
            outcome.challenger_roc_auc = alias.get("score")
            outcome.champion_roc_auc = alias.get("champion_score")
            outcome.bento_after = str(_latest(self.instance, "bento").get("bento_tag", ""))
        outcome.champion_after = self._champion_label()


# ------------------------------------------------------------------------------ the report
def _chart(months: list[MonthOutcome]) -> str:
    from twelve.monitoring import reports

    labels = [m.month for m in months]
    with reports._style():
        figure, axes = reports._figure(width=9, height=2.8)
        auc = [m.roc_auc if m.roc_auc is not None else float("nan") for m in months]
        base = [m.baseline_roc_auc if m.baseline_roc_auc is not None else float("nan")
                for m in months]  # fmt: skip
        # Positions, not the month strings: matplotlib would guess they are dates.
        x = list(range(len(labels)))
        axes.plot(x, auc, marker="o", color="#1f6feb", label="champion ROC AUC")
        axes.plot(x, base, marker=".", color="#8a949e", label="naive baseline")
        axes.set_xticks(x, labels)
        for index, outcome in enumerate(months):
            if outcome.decision == "promoted":
                axes.annotate("promoted", (index, auc[index]), textcoords="offset points",
                              xytext=(0, 8), ha="center", fontsize=7, color="#1a7f37")  # fmt: skip
        axes.set_ylabel("ROC AUC on the month")
        late = axes.twinx()
        late.bar(x, [m.late_rate or 0 for m in months], alpha=0.15, color="#d1242f")
        late.set_ylabel("late rate")
        axes.set_zorder(late.get_zorder() + 1)
        axes.patch.set_visible(False)
        axes.legend(frameon=False, fontsize=7, loc="lower left")
        return reports._svg(figure)


def render_report(summary: ReplaySummary) -> str:
    """The replay as one self-contained HTML page (inline SVG chart, links to the reports)."""

    def link(path: str, text: str) -> str:
        return f"<a href='file://{html.escape(path)}'>{text}</a>" if path else "—"

    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    rows = "".join(
        f"<tr><td>{m.month}</td><td class='l'>{html.escape(m.served_model)}</td>"
        f"<td>{m.traffic_rows}</td>"
        f"<td class='l'>{link(m.serving_report, html.escape(m.serving_verdict or '—'))}</td>"
        f"<td class='l'>{link(m.drift_report, html.escape(m.drift_verdict or '—'))}</td>"
        f"<td class='l'>{html.escape(', '.join(m.drifted) or '—')}</td>"
        f"<td>{number(m.late_rate)}</td><td>{number(m.roc_auc)}</td>"
        f"<td class='l'>{html.escape(m.performance_verdict or '—')}</td>"
        f"<td class='l'>{html.escape(m.trigger or '—')}</td>"
        f"<td class='l'>{html.escape(m.decision)}</td>"
        f"<td>{number(m.challenger_roc_auc)} / {number(m.champion_roc_auc)}</td>"
        f"<td class='l'>{html.escape(m.champion_after)}</td></tr>"
        for m in summary.months
    )
    chart = _chart(summary.months) if summary.months else ""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Continuous training replay</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;color:#1d2733;margin:0;background:#f6f8fa}}
main{{max-width:1200px;margin:0 auto;padding:24px}}table{{border-collapse:collapse;
background:#fff;width:100%}}th,td{{border-bottom:1px solid #e4e8ec;padding:4px 8px;
text-align:right;font-size:13px}}td.l,th.l{{text-align:left}}svg{{max-width:100%;height:auto}}
</style></head><body><main>
<h1>Continuous training, replayed month by month</h1>
<p>Bootstrap on {", ".join(summary.initial_months)}: first champion {
        html.escape(summary.first_champion)
    } ({summary.bootstrap_seconds:.0f} s). Then each month: its
flights are served to the champion's bento, the serving window is judged, the month's raw data
arrive, the sensor checks the month (drift against the champion's training rows, the champion's
ROC AUC on the month's labels) and, on evidence, starts one retraining whose gate decides.
Replay state: {html.escape(summary.workdir)}. Generated {generated}.</p>
{chart}
<table><thead><tr><th>month</th><th class='l'>served</th><th>traffic rows</th>
<th class='l'>serving window</th><th class='l'>month drift</th><th class='l'>drifted features</th>
<th>late rate</th><th>champion AUC</th><th class='l'>performance</th><th class='l'>trigger</th>
<th class='l'>decision</th><th>challenger / champion AUC on the month</th>
<th class='l'>champion after</th></tr></thead><tbody>{rows}</tbody></table>
</main></body></html>
"""


def run_replay(
    initial_months: list[str],
    months: list[str],
    traffic_source: Path,
    workdir: Path,
    rows_per_month: int = 1000,
    progress: Callable[[str], None] = log.info,
) -> ReplaySummary:
    """Bootstrap on ``initial_months``, then replay ``months`` one by one (see the module doc).

    The caller has pointed TWELVE_HOME, TWELVE_DATA_DIR, DAGSTER_HOME and BENTOML_HOME at the
    replay's own environment (``twelve replay`` does).

    Raises:
        ValueError: bad months, or the traffic source lacks a month (named).
        RuntimeError: a step failed (the message says which; the runs are in the instance).
    """
    from twelve.monitoring import reports

    if not initial_months or not months:
        raise ValueError("give at least one initial month and one replayed month")
    if max(initial_months) >= min(months):
        raise ValueError(
            f"replayed months {months} must come after the initial months {initial_months}"
        )
    if not traffic_source.is_file():
        raise ValueError(
            f"the traffic source {traffic_source} does not exist: run `make demo` first (the "
            "replay sends each month's flights with their features from it)"
        )
    frame = pd.read_parquet(traffic_source)
    for month in months:
        month_traffic(frame, month, 1, 0)  # fails now, naming the month, not after an hour
    started = time.perf_counter()
    replay = Replay(frame, workdir, rows_per_month, progress=progress)
    progress(f"bootstrap: {', '.join(initial_months)} arrive; the golden path trains a champion")
    summary = ReplaySummary(initial_months=list(initial_months), months=[], workdir=str(workdir))
    summary.first_champion = replay.bootstrap(list(initial_months))
    summary.bootstrap_seconds = time.perf_counter() - started
    progress(f"first champion: {summary.first_champion} ({summary.bootstrap_seconds:.0f} s)")
    for index, month in enumerate(months, start=1):
        progress(f"[{index}/{len(months)}] {month}")
        outcome = replay.month(month)
        summary.months.append(outcome)
        progress(outcome_line(outcome).strip())
    summary.seconds = time.perf_counter() - started
    summary.sensor_cursor = replay.cursor or ""
    report = workdir / "replay.html"
    summary.report = str(report)
    reports.write_report(render_report(summary), report)
    report.with_suffix(".json").write_text(json.dumps(asdict(summary), indent=2, default=str))
    return summary
