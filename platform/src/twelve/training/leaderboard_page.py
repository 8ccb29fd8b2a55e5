"""The leaderboard as a self-contained HTML page (factor 10): tables and inline SVG charts.

The metric by run as bars and the ROC curves overlaid, drawn as inline SVG: no script, nothing
fetched, so the page renders offline and inside MLflow's artifact viewer. Pure functions of a
:class:`twelve.training.leaderboard.Leaderboard`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from twelve.training.leaderboard import (
    METRICS,
    Entry,
    HoldoutGroup,
    Leaderboard,
    runs_of,
    shown_metrics,
    started_text,
)

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
    shown = shown_metrics(runs_of(group))
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
            f"<td><code>{_e(run.config_hash[:10])}</code></td><td>{started_text(run.started_ms)}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render_page(board: Leaderboard) -> str:
    """The leaderboard as one self-contained HTML page (inline SVG, no script, no link out)."""
    sections = []
    for group in board.groups:
        runs = runs_of(group)
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
