"""The leaderboard of a problem (factor 10): every run, ranked only against its own holdout.

A run's metrics mean something next to another run's only when both were scored on the same
data. Every training run records the DVC md5 of its holdout (``twelve.holdout_md5``); the
leaderboard groups runs by that md5 and ranks inside a group only. The group of the current
holdout comes first; runs scored on another holdout are shown apart, each group ranked on its own,
never merged into one ranking.

Pure functions turn run records into groups, a text table, JSON and a self-contained HTML page
(inline SVG charts: the metric by run, the ROC curves overlaid; no script, nothing fetched).
``gather_runs`` is the one function that reads MLflow.
"""

from __future__ import annotations

import html
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
PALETTE = (
    "#3b6ea5",
    "#d1603d",
    "#3a9a5b",
    "#8e5ea2",
    "#c49a00",
    "#2aa3a3",
    "#b0417a",
    "#6b6b6b",
)


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
    groups.sort(key=lambda g: (not g.current, -max(r.started_ms for r in _runs(g))))
    if current_holdout and not any(group.current for group in groups):
        groups.insert(0, HoldoutGroup(holdout_md5=current_holdout, current=True))
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return Leaderboard(experiment=experiment, metric=metric, groups=groups, generated_at=stamp)


def _runs(group: HoldoutGroup) -> list[RunRecord]:
    return [entry.run for entry in group.entries] + list(group.unranked)


# --------------------------------------------------------------------------------------- text
def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def text_table(board: Leaderboard) -> str:
    """The leaderboard as plain text: one table per holdout group."""
    lines = [f"leaderboard of {board.experiment}, ranked by {board.metric}"]
    metric_names = shown_metrics(run for group in board.groups for run in _runs(group))
    for group in board.groups:
        title = "CURRENT holdout" if group.current else "another holdout (not comparable)"
        lines += ["", f"{title} {group.holdout_md5}: {len(_runs(group))} run(s)"]
        if not _runs(group):
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
        _when(run.started_ms),
    ]


# --------------------------------------------------------------------------------------- HTML
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def metric_bars_svg(entries: Sequence[Entry], metric: str) -> str:
    """Horizontal bars of ``metric`` per ranked run (inline SVG)."""
    if not entries:
        return ""
    values = [entry.run.metrics[metric] for entry in entries]
    low = min(0.0, *values) if not METRICS[metric] else min(0.5, min(values) - 0.02)
    high = max(values) + (max(values) - low) * 0.08 or 1.0
    label_w, bar_w, row_h, top = 230, 320, 22, 8
    height = top + row_h * len(entries) + 24
    width = label_w + bar_w + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(metric)} by run" '
        'font-family="sans-serif" font-size="11">'
    ]
    for index, (entry, value) in enumerate(zip(entries, values, strict=True)):
        y = top + index * row_h
        length = max(1.0, (value - low) / (high - low) * bar_w)
        label = f"#{entry.rank} {entry.run.pipeline} {entry.run.run_id[:8]}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
            f'fill="{_color(index)}"><title>{_e(label)}: {value:.4f}</title></rect>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 14}">{value:.4f}</text>'
        )
    axis_y = top + row_h * len(entries) + 4
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + bar_w}" y2="{axis_y}" stroke="#999"/>'
        f'<text x="{label_w}" y="{axis_y + 14}" fill="#555">{low:.2f}</text>'
        f'<text x="{label_w + bar_w}" y="{axis_y + 14}" text-anchor="end" fill="#555">'
        f"{high:.2f}</text></svg>"
    )
    return "".join(parts)


def roc_svg(entries: Sequence[Entry]) -> str:
    """The ROC curves of the ranked runs that logged them, overlaid, with the chance diagonal."""
    curves = [(index, entry) for index, entry in enumerate(entries) if entry.run.roc]
    if not curves:
        return '<p class="muted">No run of this group logged its ROC points.</p>'
    size, pad, legend_w = 300, 36, 330
    width, height = pad + size + 20 + legend_w, pad + size + 30

    def xy(fpr: float, tpr: float) -> str:
        return f"{pad + fpr * size:.1f},{pad + (1 - tpr) * size:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="ROC curves" '
        'font-family="sans-serif" font-size="11">',
        f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" stroke="#bbb"/>',
        f'<polyline points="{xy(0, 0)} {xy(1, 1)}" fill="none" stroke="#aaa" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{pad + size / 2}" y="{pad + size + 24}" text-anchor="middle" fill="#555">'
        "false positive rate</text>",
        f'<text x="12" y="{pad + size / 2}" fill="#555" transform="rotate(-90 12 '
        f'{pad + size / 2})" text-anchor="middle">true positive rate</text>',
    ]
    for row, (index, entry) in enumerate(curves):
        roc = entry.run.roc or {}
        points = " ".join(
            xy(f, t) for f, t in zip(roc.get("fpr", []), roc.get("tpr", []), strict=True)
        )
        label = f"#{entry.rank} {entry.run.pipeline} {entry.run.run_id[:8]}"
        auc = roc.get("auc")
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{_color(index)}" '
            f'stroke-width="1.6"><title>{_e(label)}</title></polyline>'
        )
        legend_y = pad + 6 + row * 16
        parts.append(
            f'<line x1="{pad + size + 20}" y1="{legend_y}" x2="{pad + size + 40}" '
            f'y2="{legend_y}" stroke="{_color(index)}" stroke-width="3"/>'
            f'<text x="{pad + size + 46}" y="{legend_y + 4}">{_e(label)}'
            + (f" (AUC {auc:.3f})" if isinstance(auc, float | int) else "")
            + "</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2.2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e3e6ea;padding:.3rem .55rem;text-align:left}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666}.apart{border-left:4px solid #d1603d;padding-left:1rem;margin-top:2rem}
.current{border-left:4px solid #3a9a5b;padding-left:1rem}code{font-size:.85em}
.charts{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start}
"""


def _html_table(group: HoldoutGroup) -> str:
    shown = shown_metrics(_runs(group))
    head = (
        "".join(
            f"<th>{_e(h)}</th>"
            for h in ("rank", "run", "pipeline", "estimator", *shown, "training set", "commit")
        )
        + "<th>config</th><th>started</th>"
    )
    rows = []
    for rank, run in [(str(e.rank), e.run) for e in group.entries] + [
        ("&ndash;", r) for r in group.unranked
    ]:
        metrics = "".join(
            f'<td class="num">{run.metrics[m]:.4f}</td>' if m in run.metrics else "<td>n/a</td>"
            for m in shown
        )
        dirty = ' <span title="uncommitted changes">+dirty</span>' if run.git_dirty else ""
        rows.append(
            f"<tr><td>{rank}</td><td><code title='{_e(run.run_id)} {_e(run.run_name)}'>"
            f"{_e(run.run_id[:8])}</code></td><td>{_e(run.pipeline)}</td>"
            f"<td>{_e(run.estimator)}</td>"
            f"{metrics}<td><code>{_e(run.training_set_md5[:10])}</code></td>"
            f"<td><code>{_e(run.git_commit[:10])}</code>{dirty}</td>"
            f"<td><code>{_e(run.config_hash[:10])}</code></td><td>{_when(run.started_ms)}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render_html(board: Leaderboard) -> str:
    """The leaderboard as one self-contained HTML page (inline SVG, no script, no link out)."""
    sections = []
    for group in board.groups:
        runs = _runs(group)
        if group.current:
            title = f"Current holdout <code>{_e(group.holdout_md5)}</code>"
            note = "Every run below was scored on exactly this holdout version: ranked together."
        else:
            title = f"Another holdout <code>{_e(group.holdout_md5)}</code>"
            note = (
                "Scored on a different holdout: not comparable with the runs above, ranked only "
                "among themselves."
            )
        body = [f'<section class="{"current" if group.current else "apart"}">', f"<h2>{title}</h2>"]
        body.append(f'<p class="muted">{note} {len(runs)} run(s).</p>')
        if runs:
            body.append(_html_table(group))
            body.append(
                '<div class="charts"><figure>'
                + metric_bars_svg(group.entries, board.metric)
                + f"<figcaption>{_e(board.metric)} by run</figcaption></figure><figure>"
                + roc_svg(group.entries)
                + "<figcaption>ROC curves on this holdout</figcaption></figure></div>"
            )
        else:
            body.append("<p>No run has been scored on it yet.</p>")
        body.append("</section>")
        sections.append("".join(body))
    best = board.best
    summary = (
        f"Best on the current holdout: <b>{_e(best.pipeline)}</b> run "
        f"<code>{_e(best.run_id[:8])}</code> ({_e(board.metric)} "
        f"{best.metrics[board.metric]:.4f})."
        if best
        else "No run on the current holdout yet."
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Leaderboard: {_e(board.experiment)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Leaderboard: {_e(board.experiment)}</h1>"
        f'<p class="muted">Ranked by {_e(board.metric)} within each holdout version; generated '
        f"{_e(board.generated_at)}.</p><p>{summary}</p>" + "".join(sections) + "</body></html>"
    )


# ---------------------------------------------------------------------------------- MLflow I/O
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
