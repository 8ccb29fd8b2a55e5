"""The skew and drift report (factors 6 and 9): one self-contained HTML page per comparison.

Per feature the verdict, the Hellinger distance, the test and its Holm-adjusted p-value, and a
chart of both distributions (inline SVG in the data reports' style, ``twelve.monitoring.reports``);
nothing is fetched from the network. Used for serving windows (``twelve.monitoring.skew``) and for
arriving months (``month_drift``, with ``target_label`` the month).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from twelve.monitoring import drift, profile_summary, report_charts

VERDICT_COLORS = {"drift": "#d1495b", "warn": "#edae49", "ok": "#2e8b57", "skipped": "#8a949e"}
REFERENCE_COLOR = "#8a949e"


# --------------------------------------------------------------------------- the report
def _chart(
    reference, target, name: str, result: drift.FeatureDrift, target_label: str = "serving"
) -> str:
    with report_charts.chart_style():  # the data reports' chart style (same look, inline SVG)
        if result.kind in ("numeric", "datetime") and result.test == "ks":
            return _numeric_chart(reference, target, name, target_label)
        if result.test == "chi2":
            return _category_chart(reference, target, name, target_label)
    return ""


def _numeric_chart(reference, target, name: str, target_label: str = "serving") -> str:
    ref = profile_summary.column_summary(reference, name)
    tgt = profile_summary.column_summary(target, name)
    low = min(ref["q_01"], tgt["q_01"])
    high = max(ref["q_99"], tgt["q_99"])
    if not high > low:
        low, high = min(ref["min"], tgt["min"]) - 0.5, max(ref["max"], tgt["max"]) + 0.5
    edges = np.linspace(low, high, 31)
    figure, axes = report_charts.new_figure()
    for view, label, color, fill in (
        (reference, "training", REFERENCE_COLOR, True),
        (target, target_label, "#1f6feb", False),
    ):
        _, counts = profile_summary.numeric_histogram(view, name, edges=edges)
        total = counts.sum()
        shares = counts / total if total > 0 else counts
        axes.stairs(shares, edges, fill=fill, color=color, alpha=0.45 if fill else 1, label=label)
    report_charts.plain_axis(axes.xaxis)
    axes.set_ylabel("share of rows")
    axes.legend(frameon=False, fontsize=7)
    return report_charts.to_svg(figure)


def _category_chart(reference, target, name: str, target_label: str = "serving") -> str:
    ref = profile_summary.column_summary(reference, name, top=drift.CATEGORY_TOP)
    tgt = profile_summary.column_summary(target, name, top=drift.CATEGORY_TOP)
    labels, table = drift.category_table(ref, tgt)
    if not labels:
        return ""
    shares = table / np.clip(table.sum(axis=1, keepdims=True), 1, None)
    order = np.argsort(-(shares[0] + shares[1]))[:12]
    figure, axes = report_charts.new_figure(height=max(1.6, 0.25 * len(order) + 0.6))
    positions = np.arange(len(order))[::-1]
    axes.barh(
        positions + 0.2, shares[0][order], height=0.4, color=REFERENCE_COLOR, label="training"
    )
    axes.barh(positions - 0.2, shares[1][order], height=0.4, color="#1f6feb", label=target_label)
    axes.set_yticks(positions, [report_charts.short_label(labels[i]) for i in order])
    axes.set_xlabel("share of rows")
    axes.grid(axis="y", visible=False)
    axes.legend(frameon=False, fontsize=7)
    return report_charts.to_svg(figure)


def _number(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1d2733;margin:0;
background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta p{margin:2px 0;color:#44505c}
.tiles{display:flex;gap:10px;flex-wrap:wrap;margin:16px 0}
.tile{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:8px 14px;min-width:90px}
.tile b{display:block;font-size:20px}.tile span{color:#5b6770;font-size:12px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e4e8ec;padding:4px 8px;text-align:right;font-size:13px}
th:first-child,td:first-child,td.l,th.l{text-align:left}
.badge{border-radius:10px;padding:1px 8px;color:#fff;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:10px}
.card h3{font-size:15px;margin:0 0 4px}.card p{margin:2px 0;color:#44505c;font-size:12px}
.card svg{max-width:100%;height:auto}
footer{margin-top:28px;color:#5b6770;font-size:12px}
"""


def _badge(verdict: str) -> str:
    color = VERDICT_COLORS.get(verdict, "#8a949e")
    return f"<span class='badge' style='background:{color}'>{html.escape(verdict)}</span>"


def render_skew_report(
    reference,
    target,
    results: Sequence[drift.FeatureDrift],
    *,
    title: str,
    facts: dict[str, Any],
    thresholds: drift.DriftThresholds,
    target_label: str = "serving",
    kind: str = "training-serving skew",
) -> str:
    """The skew report as one self-contained HTML document (inline SVG, no external resource).

    The drift reports of arriving months use the same page with ``target_label="month"`` and
    ``kind="drift"``: the target is then a month of data, not serving traffic.

    Args:
        reference: the training reference profile.
        target: the merged serving profile (or the profile of the judged data).
        results: :func:`twelve.monitoring.drift.compare_profiles` output.
        title: the heading.
        facts: label -> value pairs for the header (model, bento, rows, window...).
        thresholds: the thresholds used (stated in the report).
        target_label: what the target is, in the table and chart legends.
        kind: the report's kind, in the page title.
    """
    label = html.escape(target_label)
    frame = drift.drift_frame(results)
    counts = dict.fromkeys(drift.VERDICTS, 0)
    for result in results:
        counts[result.verdict] += 1
    tiles = "".join(
        f"<div class='tile'><b>{counts[v]}</b><span>{v}</span></div>" for v in drift.VERDICTS
    )
    meta = "".join(
        f"<p><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</p>" for k, v in facts.items()
    )
    rows = []
    for feature, row in frame.iterrows():
        rows.append(
            f"<tr><td><a href='#f-{html.escape(feature)}'>{html.escape(feature)}</a></td>"
            f"<td class='l'>{html.escape(row['kind'])}</td><td>{_badge(row['verdict'])}</td>"
            f"<td>{_number(row['distance'])}</td><td class='l'>{html.escape(row['test'])}</td>"
            f"<td>{_number(row['statistic'])}</td><td>{_number(row['p_value'])}</td>"
            f"<td>{_number(row['p_adjusted'])}</td>"
            f"<td>{_number(row['reference_null_share'])}</td>"
            f"<td>{_number(row['target_null_share'])}</td>"
            f"<td>{row['target_rows']}</td></tr>"
        )
    by_name = {r.feature: r for r in results}
    cards = []
    for feature in frame.index:
        result = by_name[feature]
        chart = _chart(reference, target, feature, result, target_label)
        cards.append(
            f"<div class='card' id='f-{html.escape(feature)}'><h3>{html.escape(feature)} "
            f"{_badge(result.verdict)}</h3><p>Hellinger {_number(result.distance)} · "
            f"{html.escape(result.test)} p (Holm) {_number(result.p_adjusted)}"
            + (f" · {html.escape(result.note)}" if result.note else "")
            + f"</p>{chart}</div>"
        )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(kind)}</title><style>{_CSS}</style></head>
<body><main><header><h1>{html.escape(title)}</h1><div class="meta">{meta}
<p><b>generated</b>: {generated}</p></div></header>
<div class="tiles">{tiles}</div>
<h2>Per feature</h2>
<table><thead><tr><th>feature</th><th class='l'>kind</th><th>verdict</th><th>Hellinger</th>
<th class='l'>test</th><th>statistic</th><th>p</th><th>p (Holm)</th><th>null share train</th>
<th>null share {label}</th><th>{label} rows</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<h2>Distributions (grey: training reference, blue: {label})</h2>
<div class="grid">{"".join(cards)}</div>
<footer>Verdict: <b>drift</b> when the Holm-adjusted p-value is below {thresholds.alpha} and the
Hellinger distance reaches {thresholds.drift_distance}; <b>warn</b> from a distance of
{thresholds.warn_distance}; <b>skipped</b> below {thresholds.min_rows} non-null values on a side.
Numbers: two-sample Kolmogorov-Smirnov on the KLL sketches (rank error about 1 %), Hellinger on the
deciles of both sides. Categories: chi-squared homogeneity over the values frequent on both sides
(rare values pooled). Generated by twelve.monitoring.skew from whylogs profiles.</footer>
</main></body></html>
"""


def results_markdown(results: Sequence[drift.FeatureDrift]) -> str:
    """A markdown table of the results (Dagster metadata), worst first."""
    frame = drift.drift_frame(results)
    lines = ["| feature | verdict | Hellinger | test | p (Holm) |", "|---|---|---:|---|---:|"]
    for feature, row in frame.iterrows():
        lines.append(
            f"| {feature} | {row['verdict']} | {_number(row['distance'])} | {row['test']} | "
            f"{_number(row['p_adjusted'])} |"
        )
    return "\n".join(lines)
