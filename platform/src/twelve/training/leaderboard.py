"""The leaderboard of a problem (factor 10): every run, ranked only against its own holdout.

A run's metrics mean something next to another run's only when both were scored on the same
data. Every training run records the DVC md5 of its holdout (``twelve.holdout_md5``); the
leaderboard groups runs by that md5 and ranks inside a group only. The group of the current
holdout comes first; runs scored on another holdout are shown apart, each group ranked on its own,
never merged into one ranking.

Pure functions turn run records into groups, a text table and JSON; the self-contained HTML page
is drawn by ``twelve.training.leaderboard_page``. ``gather_runs`` is the one function that reads
MLflow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from twelve.training.evaluation import ROC_POINTS_ARTIFACT

log = logging.getLogger(__name__)

# Metrics shown, and which way is better for each (ranking uses one of them).
METRICS = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False}
# Columns of every table; the other metrics get one only when a run of the board has them.
ALWAYS_SHOWN = tuple(METRICS)
# A numeric label's (regression projects): errors, lower is better.
METRICS.update({"rmse": False, "mae": False})
DEFAULT_METRIC = "roc_auc"
HOLDOUT_TAG = "twelve.holdout_md5"


@dataclass(frozen=True)
class RunRecord:
    """What the leaderboard knows of one training run (from its MLflow tags, params, metrics)."""

    run_id: str
    run_name: str
    pipeline: str
    estimator: str
    started_ms: int
    metrics: Mapping[str, float]
    holdout_md5: str
    training_set_md5: str
    git_commit: str
    git_dirty: bool
    config_hash: str
    feature_service: str
    roc: Mapping[str, Any] | None = None


@dataclass
class Entry:
    """A run in its group: its rank there (1 = best on the ranking metric)."""

    rank: int
    run: RunRecord


@dataclass
class HoldoutGroup:
    """The runs scored on one holdout version, ranked among themselves only."""

    holdout_md5: str
    current: bool
    entries: list[Entry] = field(default_factory=list)
    unranked: list[RunRecord] = field(default_factory=list)


@dataclass
class Leaderboard:
    """Every group of a problem, the current holdout's first."""

    experiment: str
    metric: str
    groups: list[HoldoutGroup]
    generated_at: str

    @property
    def best(self) -> RunRecord | None:
        """The best run on the current holdout (None when no run was scored on it)."""
        for group in self.groups:
            if group.current and group.entries:
                return group.entries[0].run
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (curves left out: they are in each run's artifacts)."""

        def run_dict(run: RunRecord) -> dict[str, Any]:
            data = asdict(run)
            data.pop("roc")
            data["metrics"] = dict(run.metrics)
            return data

        return {
            "experiment": self.experiment,
            "metric": self.metric,
            "generated_at": self.generated_at,
            "groups": [
                {
                    "holdout_md5": group.holdout_md5,
                    "current": group.current,
                    "ranking": [
                        {"rank": entry.rank, **run_dict(entry.run)} for entry in group.entries
                    ],
                    "unranked": [run_dict(run) for run in group.unranked],
                }
                for group in self.groups
            ],
        }


# ------------------------------------------------------------------------------------ records
def record_from_run(run, roc: Mapping[str, Any] | None = None) -> RunRecord | None:
    """A ``RunRecord`` from an MLflow ``Run``; None for a run that is not a scored training run.

    Args:
        run: an ``mlflow.entities.Run`` (anything with ``info`` and ``data`` like it).
        roc: the run's ROC points (``evaluation.roc_points``), when loaded.

    Returns:
        The record, or None when the run has no holdout md5 tag (not a training run).
    """
    tags, params = run.data.tags, run.data.params
    holdout = tags.get(HOLDOUT_TAG)
    if not holdout:
        return None
    return RunRecord(
        run_id=run.info.run_id,
        run_name=run.info.run_name or tags.get("mlflow.runName", run.info.run_id[:8]),
        pipeline=tags.get("twelve.pipeline", params.get("estimator", "unknown")),
        estimator=params.get("estimator", "unknown"),
        started_ms=int(run.info.start_time or 0),
        metrics={
            name: float(run.data.metrics[name]) for name in METRICS if name in run.data.metrics
        },
        holdout_md5=holdout,
        training_set_md5=tags.get("twelve.training_set_md5", ""),
        git_commit=tags.get("twelve.git_commit", ""),
        git_dirty=tags.get("twelve.git_dirty") == "true",
        config_hash=tags.get("twelve.config_hash", ""),
        feature_service=tags.get("twelve.feature_service", ""),
        roc=roc,
    )


def build(
    records: Iterable[RunRecord],
    *,
    experiment: str,
    current_holdout: str | None = None,
    metric: str = DEFAULT_METRIC,
    now: datetime | None = None,
) -> Leaderboard:
    """Group runs by holdout md5 and rank each group on ``metric`` (pure).

    Args:
        records: the runs.
        experiment: the problem's experiment name (shown in the report).
        current_holdout: md5 of the holdout in force; None means the holdout of the newest run.
        metric: ranking metric, a key of ``METRICS`` (higher or lower is better as declared).
        now: the report's time stamp (for tests).

    Returns:
        The leaderboard: the current holdout's group first, then the others newest first. Runs
        lacking the metric are listed in their group's ``unranked``.

    Raises:
        ValueError: an unknown metric.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown ranking metric '{metric}'; choose one of {sorted(METRICS)}")
    records = list(records)
    if current_holdout is None and records:
        current_holdout = max(records, key=lambda r: r.started_ms).holdout_md5
    by_holdout: dict[str, list[RunRecord]] = {}
    for record in records:
        by_holdout.setdefault(record.holdout_md5, []).append(record)
    higher_is_better = METRICS[metric]
    groups = []
    for md5, runs in by_holdout.items():
        scored = [run for run in runs if metric in run.metrics]
        # Best first; equal scores: the earlier run first (it got there first).
        scored.sort(
            key=lambda r: (
                -r.metrics[metric] if higher_is_better else r.metrics[metric],
                r.started_ms,
            )
        )
        groups.append(
            HoldoutGroup(
                holdout_md5=md5,
                current=md5 == current_holdout,
                entries=[Entry(rank, run) for rank, run in enumerate(scored, start=1)],
                unranked=[run for run in runs if metric not in run.metrics],
            )
        )
    groups.sort(key=lambda g: (not g.current, -max(r.started_ms for r in runs_of(g))))
    if current_holdout and not any(group.current for group in groups):
        groups.insert(0, HoldoutGroup(holdout_md5=current_holdout, current=True))
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return Leaderboard(experiment=experiment, metric=metric, groups=groups, generated_at=stamp)


def runs_of(group: HoldoutGroup) -> list[RunRecord]:
    """Every run of a group: the ranked ones in rank order, then the unranked."""
    return [entry.run for entry in group.entries] + list(group.unranked)


# --------------------------------------------------------------------------------------- text
def started_text(ms: int) -> str:
    """A run's start time (epoch milliseconds) as ``YYYY-MM-DD HH:MM`` UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def text_table(board: Leaderboard) -> str:
    """The leaderboard as plain text: one table per holdout group."""
    lines = [f"leaderboard of {board.experiment}, ranked by {board.metric}"]
    metric_names = shown_metrics(run for group in board.groups for run in runs_of(group))
    for group in board.groups:
        title = "CURRENT holdout" if group.current else "another holdout (not comparable)"
        lines += ["", f"{title} {group.holdout_md5}: {len(runs_of(group))} run(s)"]
        if not runs_of(group):
            lines.append("  no run scored on it yet")
            continue
        header = ["rank", "run", "pipeline", *metric_names, "training set", "commit", "started"]
        rows = [header]
        for entry in group.entries:
            rows.append(_text_row(str(entry.rank), entry.run, metric_names))
        for run in group.unranked:
            rows.append(_text_row("-", run, metric_names))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            lines.append(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            )
    return "\n".join(lines)


def shown_metrics(runs: Iterable[RunRecord]) -> list[str]:
    """The metric columns of a table: the classification ones, and any other a run has."""
    present = {name for run in runs for name in run.metrics}
    return [name for name in METRICS if name in ALWAYS_SHOWN or name in present]


def _text_row(rank: str, run: RunRecord, metric_names: Sequence[str]) -> list[str]:
    metrics = [f"{run.metrics[m]:.4f}" if m in run.metrics else "n/a" for m in metric_names]
    commit = run.git_commit[:8] + ("+dirty" if run.git_dirty else "")
    return [
        rank,
        run.run_id[:8],
        run.pipeline,
        *metrics,
        run.training_set_md5[:8],
        commit,
        started_text(run.started_ms),
    ]


# --------------------------------------------------------------------------------------- HTML
def render_html(board: Leaderboard) -> str:
    """The self-contained HTML page of the board (``twelve.training.leaderboard_page``)."""
    from twelve.training.leaderboard_page import render_page

    return render_page(board)


def gather_runs(client, experiment: str, *, with_curves: bool = True) -> list[RunRecord]:
    """Every finished, scored training run of an experiment, as records.

    Args:
        client: an ``MlflowClient``.
        experiment: the experiment name (the problem).
        with_curves: also load each run's ROC points artifact (absent: no curve for that run).

    Returns:
        The records (empty when the experiment does not exist or has no scored run).
    """
    import mlflow

    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    records = []
    page_token = None
    while True:
        page = client.search_runs(
            [found.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            max_results=500,
            page_token=page_token,
        )
        for run in page:
            roc = None
            if with_curves and run.data.tags.get(HOLDOUT_TAG):
                try:
                    roc = mlflow.artifacts.load_dict(
                        f"{run.info.artifact_uri}/{ROC_POINTS_ARTIFACT}"
                    )
                except Exception as error:  # an older run without the artifact: no curve
                    log.debug("run %s has no ROC points: %s", run.info.run_id, error)
            record = record_from_run(run, roc)
            if record is not None:
                records.append(record)
        page_token = page.token
        if not page_token:
            return records
