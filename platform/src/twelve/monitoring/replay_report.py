"""What a replay of a project's months found (``twelve.monitoring.replay``), and its report.

One :class:`MonthOutcome` per replayed month (served model, serving verdict, month drift,
the champion's score on the month, what triggered a retraining, the gate's decision, the champion
after it); :func:`outcome_line` is the terminal's line of it, :func:`render_report` the whole
replay as one self-contained HTML page (inline SVG chart, links to every report).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NO_RETRAINING = "no retraining"


@dataclass
class MonthOutcome:
    """What happened in one replayed month (scores in the project's metric)."""

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
    label_mean: float | None = None
    score: float | None = None
    baseline_score: float | None = None
    performance_verdict: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    trigger: str = ""
    decision: str = NO_RETRAINING
    challenger_score: float | None = None
    champion_score: float | None = None
    champion_after: str = ""
    bento_after: str = ""
    seconds: float = 0.0


@dataclass
class ReplaySummary:
    """The whole replay: the bootstrap and every month."""

    project: str
    metric: str
    initial_months: list[str]
    months: list[MonthOutcome]
    first_champion: str = ""
    bootstrap_seconds: float = 0.0
    seconds: float = 0.0
    report: str = ""
    workdir: str = ""
    sensor_cursor: str = ""  # where the sensor stands after the last month


def outcome_line(outcome: MonthOutcome, metric: str = "score") -> str:
    """One line of the terminal summary."""
    drifted = ",".join(outcome.drifted[:4]) + ("…" if len(outcome.drifted) > 4 else "")
    score = f"{outcome.score:.3f}" if outcome.score is not None else "  -  "
    return (
        f"  {outcome.month}  served {outcome.served_model:<18} traffic {outcome.traffic_rows:>5} "
        f"serving {outcome.serving_verdict or '-':<14} month {outcome.drift_verdict or '-':<14}"
        f"[{drifted}]  {metric} {score} ({outcome.performance_verdict or '-'})  "
        f"-> {outcome.decision}"
    )


def _chart(months: list[MonthOutcome], metric: str) -> str:
    from twelve.monitoring import report_charts

    labels = [m.month for m in months]
    with report_charts.chart_style():
        figure, axes = report_charts.new_figure(width=9, height=2.8)
        score = [m.score if m.score is not None else float("nan") for m in months]
        base = [m.baseline_score if m.baseline_score is not None else float("nan")
                for m in months]  # fmt: skip
        # Positions, not the month strings: matplotlib would guess they are dates.
        x = list(range(len(labels)))
        axes.plot(x, score, marker="o", color="#1f6feb", label=f"champion {metric}")
        axes.plot(x, base, marker=".", color="#8a949e", label="naive baseline")
        axes.set_xticks(x, labels)
        for index, outcome in enumerate(months):
            if outcome.decision == "promoted":
                axes.annotate("promoted", (index, score[index]), textcoords="offset points",
                              xytext=(0, 8), ha="center", fontsize=7, color="#1a7f37")  # fmt: skip
        axes.set_ylabel(f"{metric} on the month")
        mean = axes.twinx()
        mean.bar(x, [m.label_mean or 0 for m in months], alpha=0.15, color="#d1242f")
        mean.set_ylabel("mean label")
        axes.set_zorder(mean.get_zorder() + 1)
        axes.patch.set_visible(False)
        axes.legend(frameon=False, fontsize=7, loc="lower left")
        return report_charts.to_svg(figure)


def _row(m: MonthOutcome) -> str:
    def link(path: str, text: str) -> str:
        return f"<a href='file://{html.escape(path)}'>{text}</a>" if path else "—"

    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    return (
        f"<tr><td>{m.month}</td><td class='l'>{html.escape(m.served_model)}</td>"
        f"<td>{m.traffic_rows}</td>"
        f"<td class='l'>{link(m.serving_report, html.escape(m.serving_verdict or '—'))}</td>"
        f"<td class='l'>{link(m.drift_report, html.escape(m.drift_verdict or '—'))}</td>"
        f"<td class='l'>{html.escape(', '.join(m.drifted) or '—')}</td>"
        f"<td>{number(m.label_mean)}</td><td>{number(m.score)}</td>"
        f"<td class='l'>{html.escape(m.performance_verdict or '—')}</td>"
        f"<td class='l'>{html.escape(m.trigger or '—')}</td>"
        f"<td class='l'>{html.escape(m.decision)}</td>"
        f"<td>{number(m.challenger_score)} / {number(m.champion_score)}</td>"
        f"<td class='l'>{html.escape(m.champion_after)}</td></tr>"
    )


_STYLE = """body{font:14px/1.45 system-ui,sans-serif;color:#1d2733;margin:0;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:24px}table{border-collapse:collapse;
background:#fff;width:100%}th,td{border-bottom:1px solid #e4e8ec;padding:4px 8px;
text-align:right;font-size:13px}td.l,th.l{text-align:left}svg{max-width:100%;height:auto}"""


def render_report(summary: ReplaySummary) -> str:
    """The replay as one self-contained HTML page (inline SVG chart, links to the reports)."""
    metric = html.escape(summary.metric)
    rows = "".join(_row(m) for m in summary.months)
    chart = _chart(summary.months, summary.metric) if summary.months else ""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Continuous training replay</title>
<style>{_STYLE}</style></head><body><main>
<h1>Continuous training of {html.escape(summary.project)}, replayed month by month</h1>
<p>Bootstrap on {", ".join(summary.initial_months)}: first champion {
        html.escape(summary.first_champion)
    } ({summary.bootstrap_seconds:.0f} s). Then each month: its
rows are served to the champion's bento, the serving window is judged, the month's raw data
arrive, the sensor checks the month (drift against the champion's training rows, the champion's
{metric} on the month's labels) and, on evidence, starts one retraining whose gate decides.
Replay state: {html.escape(summary.workdir)}. Generated {generated}.</p>
{chart}
<table><thead><tr><th>month</th><th class='l'>served</th><th>traffic rows</th>
<th class='l'>serving window</th><th class='l'>month drift</th><th class='l'>drifted features</th>
<th>mean label</th><th>champion {metric}</th><th class='l'>performance</th>
<th class='l'>trigger</th><th class='l'>decision</th>
<th>challenger / champion {metric} on the month</th>
<th class='l'>champion after</th></tr></thead><tbody>{rows}</tbody></table>
</main></body></html>
"""
