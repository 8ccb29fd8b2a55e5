"""Readable data reports (factor 8): one self-contained HTML page per data version.

Built from a whylogs profile (and optionally a few sample rows): an overview, alerts, a summary
table, missing values, and one card per column with its chart -- a histogram from the KLL sketch for
numbers and dates, bars of the most frequent values for categories and small integer ranges.

Charts are inline SVG drawn with matplotlib's Agg/SVG backends; the page has no script and loads
nothing from anywhere (whylogs' own HTML reports fetch d3, jQuery and Bootstrap from CDNs and stay
blank offline), so it opens from a file, an MLflow artifact or an air-gapped machine alike.
"""

from __future__ import annotations

import contextlib
import html
import io
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twelve.core import paths
from twelve.monitoring import profiling

if TYPE_CHECKING:
    from whylogs.core import DatasetProfileView

log = logging.getLogger(__name__)

# Stored with every report's MLflow run: bump it when the profile or the report changes, so
# versions documented in the old format are documented again instead of being reused.
FORMAT_VERSION = "1"
# Numeric columns with at most this many distinct values are drawn as bars per value (hour of
# day, month, number of engines), not as a histogram with empty bins between the integers.
DISCRETE_MAX_VALUES = 31
TOP_BARS = 12
HISTOGRAM_BINS = 40
MISSING_WARN_SHARE = 0.05
NONE = "\N{EN DASH}"  # shown where a statistic does not exist
PRIMARY = "#3b6ea5"


def report_path(dataset: str, version: str, root: str | Path | None = None) -> Path:
    """Where the report of a dataset at a version lives.

    ``<TWELVE_HOME>/reports/<dataset>/<version>.html``, beside the profile of the same key.

    Args:
        dataset: the dataset's name (as in the profile store).
        version: its data version.
        root: the reports folder; default ``<TWELVE_HOME>/reports``.
    """
    base = Path(root) if root else paths.state_dir() / "reports"
    # The same naming rules as the profile store, so a report always sits beside a profile key.
    profiling.check_name("dataset", dataset)
    profiling.check_name("version", version)
    return base / dataset / f"{version}.html"


# --------------------------------------------------------------------------- formatting
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: Any) -> str:
    """A short, readable rendering of a statistic (a dash when there is none)."""
    if _is_missing(value):
        return NONE
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == round(value) and abs(value) < 1e15:
        return f"{value:,.0f}"
    if abs(value) >= 100_000:
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_count(value: Any) -> str:
    """An estimated count (distinct values) as a whole number."""
    return NONE if _is_missing(value) else f"{round(float(value)):,}"


def format_value(value: Any, kind: str) -> str:
    """Render a statistic of a column: dates for datetime columns, numbers otherwise."""
    if kind == "datetime" and not _is_missing(value):
        return pd.to_datetime(float(value), unit="s", utc=True).strftime("%Y-%m-%d %H:%M")
    return format_number(value)


def _percent(share: float) -> str:
    if _is_missing(share):
        return NONE
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share:.1%}"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fact(value: Any) -> str:
    """A header fact as text: lists comma-joined, mappings as 'key: value; ...'."""
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_fact(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _anchor(name: str) -> str:
    return "col-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


# --------------------------------------------------------------------------- charts
# Chart style, applied while a chart is drawn *and* saved (svg.* settings are read at save time).
_STYLE = {
    "svg.fonttype": "none",  # text stays <text>: small files, drawn in the page's font
    "svg.hashsalt": "twelve",  # deterministic element ids
    "font.family": ["DejaVu Sans"],
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#c7cdd4",
    "axes.labelcolor": "#44505c",
    "xtick.color": "#44505c",
    "ytick.color": "#44505c",
}


@contextlib.contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        yield


def _figure(width: float = 4.6, height: float = 2.3):
    # A bare Figure, not pyplot: no global figure registry, no GUI backend, nothing to close.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    axes = figure.add_subplot()
    axes.grid(axis="y", color="#eceff2", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def _svg(figure) -> str:
    """A figure as an inline ``<svg>`` element (no XML prolog, DOCTYPE or metadata)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # The RDF metadata block names external vocabularies (http://purl.org/...): not needed inline.
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)


def _plain_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _pos: format_number(value)))


def _label(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _bars_chart(labels: list[str], counts: list[float], total: int, *, horizontal: bool) -> str:
    figure, axes = _figure(height=max(1.6, 0.2 * len(labels) + 0.5) if horizontal else 2.3)
    shares = [count / total if total else 0 for count in counts]
    if horizontal:
        positions = np.arange(len(labels))[::-1]
        axes.barh(positions, counts, color=PRIMARY, height=0.7)
        axes.set_yticks(positions, [_label(label) for label in labels])
        axes.grid(axis="y", visible=False)
        axes.grid(axis="x", color="#eceff2", linewidth=0.8)
        _plain_axis(axes.xaxis)
        for position, count, share in zip(positions, counts, shares, strict=True):
            axes.annotate(
                f" {_percent(share)}", (count, position), va="center", fontsize=7, color="#44505c"
            )
        axes.margins(x=0.15)
        axes.set_xlabel("rows")
    else:
        positions = np.arange(len(labels))
        axes.bar(positions, counts, color=PRIMARY, width=0.8)
        step = max(1, math.ceil(len(labels) / 16))
        axes.set_xticks(positions[::step], labels[::step])
        _plain_axis(axes.yaxis)
        axes.set_ylabel("rows")
    return _svg(figure)


def _whole_numbers_only(view: DatasetProfileView, name: str) -> bool:
    """Whether a float column looks like whole numbers stored as floats (NaN forces float64).

    Judged from the sketch's extremes and 101 quantiles: plane seats, engines or years with
    missing values are drawn with integer-aligned bins instead of a comb of empty bins.
    """
    sketch = view.get_column(name).get_metric("distribution").kll.value
    values = np.asarray(
        [
            sketch.get_min_value(),
            sketch.get_max_value(),
            *sketch.get_quantiles(np.linspace(0, 1, 101)),
        ]
    )
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _bin_edges(low: float, high: float, *, integral: bool) -> np.ndarray:
    """Equal-width bin edges; for whole numbers, bins of whole widths centred on the integers.

    Without this a column of minutes (0..59) in 40 bins gets bins holding one or two integers
    alternately: a comb pattern that is an artefact, not a property of the data.
    """
    if not high > low:
        return np.array([low - 0.5, high + 0.5])
    if not integral:
        return np.linspace(low, high, HISTOGRAM_BINS + 1)
    low, high = math.floor(low), math.ceil(high)
    width = max(1, math.ceil((high - low + 1) / HISTOGRAM_BINS))
    count = math.ceil((high - low + 1) / width)
    return low - 0.5 + width * np.arange(count + 1)


def _histogram_chart(
    view: DatasetProfileView, name: str, summary: Mapping[str, Any]
) -> tuple[str, str]:
    """A histogram of a numeric or datetime column and a caption saying what was clipped."""
    low, high = summary["min"], summary["max"]
    caption = "Times in UTC." if summary["kind"] == "datetime" else ""
    # One extreme value squeezes everything else into one bar: if the tails stretch the range far
    # beyond the central 98 %, draw that central part and give the full range in the caption.
    q01, q99 = summary["q_01"], summary["q_99"]
    if q99 > q01 and (high - low) > 4 * (q99 - q01):
        low, high = q01, q99
        caption += (
            f" Axis clipped to the 1st to 99th percentile ({format_value(q01, summary['kind'])} to "
            f"{format_value(q99, summary['kind'])}); full range "
            f"{format_value(summary['min'], summary['kind'])} to "
            f"{format_value(summary['max'], summary['kind'])}."
        )
    integral = summary["kind"] == "numeric" and (
        summary["integral"] or _whole_numbers_only(view, name)
    )
    edges = _bin_edges(low, high, integral=integral)
    edges, counts = profiling.numeric_histogram(view, name, edges=edges)
    figure, axes = _figure()
    if summary["kind"] == "datetime":
        import matplotlib.dates as mdates

        edges = mdates.date2num(pd.to_datetime(edges, unit="s", utc=True).tz_localize(None))
        locator = mdates.AutoDateLocator(maxticks=6)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        _plain_axis(axes.xaxis)
    axes.stairs(counts, edges, fill=True, color=PRIMARY, alpha=0.9)
    if summary["kind"] != "datetime" and not _is_missing(summary["median"]):
        median = summary["median"]
        if low <= median <= high:
            axes.axvline(median, color="#d1495b", linewidth=1, linestyle="--")
            axes.annotate(
                f" median {format_number(median)}",
                (median, 1),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=7,
                color="#d1495b",
            )
    _plain_axis(axes.yaxis)
    axes.set_ylabel("rows (est.)")
    return _svg(figure), caption.strip()


def _discrete_numeric(summary: Mapping[str, Any]) -> list[tuple[str, int]] | None:
    """Frequent items of a small-range integer column, sorted by value, when they cover it."""
    items = summary["top_items"]
    cardinality = summary["cardinality"]
    if not items or _is_missing(cardinality) or round(cardinality) > DISCRETE_MAX_VALUES:
        return None
    if len(items) < round(cardinality):
        return None
    try:
        return sorted(items, key=lambda item: float(item[0]))
    except ValueError:
        return None


def column_chart(
    view: DatasetProfileView, name: str, summary: Mapping[str, Any]
) -> tuple[str, str]:
    """The chart of one column as inline SVG ('' when there is nothing to draw) and a caption."""
    with _style():
        return _column_chart(view, name, summary)


def _column_chart(
    view: DatasetProfileView, name: str, summary: Mapping[str, Any]
) -> tuple[str, str]:
    kind = summary["kind"]
    non_null = summary["count"] - summary["null_count"]
    if non_null <= 0:
        return "", "Every value is missing."
    if kind == "numeric":
        discrete = _discrete_numeric(summary)
        if discrete is not None:
            labels = [value for value, _ in discrete]  # as written: 2013, not 2,013
            return _bars_chart(
                labels, [count for _, count in discrete], non_null, horizontal=False
            ), "One bar per value."
    if kind in ("numeric", "datetime"):
        return _histogram_chart(view, name, summary)
    items = summary["top_items"]
    if kind in ("categorical", "boolean"):
        if summary["cardinality"] >= 0.95 * non_null and non_null > 50:
            return "", "Nearly every value is distinct (an identifier?): no frequency chart."
        if not items:
            return "", (
                f"About {format_count(summary['cardinality'])} distinct values, none frequent "
                "enough for the frequent-items sketch to count it apart."
            )
        shown = items[:TOP_BARS]
        labels = [value for value, _ in shown]
        counts = [count for _, count in shown]
        other = non_null - sum(counts)
        caption = f"The {len(shown)} most frequent values."
        if other > 0 and summary["cardinality"] > len(shown):
            caption += (
                f" The other ~{format_count(summary['cardinality'] - len(shown))} values hold "
                f"{_percent(other / non_null)} of the rows."
            )
        return _bars_chart(labels, counts, non_null, horizontal=True), caption
    return "", "No distribution is kept for this type."


def missing_chart(summary: pd.DataFrame) -> str:
    """Horizontal bars of the share of missing values per column that has any ('' if none)."""
    with _style():
        return _missing_chart(summary)


def _missing_chart(summary: pd.DataFrame) -> str:
    missing = summary[summary["null_count"] > 0].sort_values("null_share")
    if missing.empty:
        return ""
    figure, axes = _figure(width=6.4, height=max(1.2, 0.24 * len(missing) + 0.5))
    positions = np.arange(len(missing))
    colors = [
        "#d1495b" if share > MISSING_WARN_SHARE else "#edae49" for share in missing["null_share"]
    ]
    axes.barh(positions, missing["null_share"] * 100, color=colors, height=0.7)
    axes.set_yticks(positions, list(missing.index))
    axes.grid(axis="y", visible=False)
    axes.grid(axis="x", color="#eceff2", linewidth=0.8)
    for position, share, count in zip(
        positions, missing["null_share"], missing["null_count"], strict=True
    ):
        axes.annotate(
            f" {_percent(share)} ({format_number(count)})",
            (share * 100, position),
            va="center",
            fontsize=7,
            color="#44505c",
        )
    axes.margins(x=0.25)
    axes.set_xlabel("% of rows missing")
    return _svg(figure)


# --------------------------------------------------------------------------- alerts
def alerts(summary: pd.DataFrame) -> list[str]:
    """Things a reader should notice, as plain sentences (escaped later)."""
    found = []
    for name, row in summary.iterrows():
        non_null = row["count"] - row["null_count"]
        if row["count"] and non_null == 0:
            found.append(f"{name}: every value is missing.")
            continue
        if row["null_share"] > MISSING_WARN_SHARE:
            found.append(f"{name}: {_percent(row['null_share'])} of the values are missing.")
        if non_null > 1 and row["cardinality"] < 1.5:
            found.append(f"{name}: a single distinct value (constant column).")
        if row["kind"] == "categorical" and non_null > 50 and row["cardinality"] >= 0.95 * non_null:
            found.append(f"{name}: nearly every value is distinct (an identifier?).")
    return found


# --------------------------------------------------------------------------- the page
_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --accent:#3b6ea5; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:var(--bg);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; }
main { max-width:1280px; margin:0 auto; padding:24px 28px 48px; }
header h1 { margin:0 0 4px; font-size:24px; }
header .version { font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  background:#e9eef5; color:#243b53; padding:2px 8px; border-radius:4px; margin-left:6px;
  vertical-align:middle; }
header p { margin:2px 0; color:var(--muted); font-size:13px; }
nav { margin:14px 0 4px; font-size:13px; }
nav a { margin-right:14px; color:var(--accent); text-decoration:none; }
h2 { font-size:17px; margin:28px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
.tiles { display:flex; flex-wrap:wrap; gap:12px; margin-top:16px; }
.tile { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 16px;
  min-width:140px; }
.tile b { display:block; font-size:20px; }
.tile span { color:var(--muted); font-size:12px; }
ul.alerts { background:#fff8e6; border:1px solid #f0d9a0; border-radius:8px; padding:10px 28px;
  margin:0; }
ul.alerts li { margin:2px 0; }
p.ok { background:#eef8f0; border:1px solid #b9e0c2; border-radius:8px; padding:10px 16px;
  margin:0; }
.scroll { overflow-x:auto; background:#fff; border:1px solid var(--line); border-radius:8px; }
table { border-collapse:collapse; width:100%; font-size:12.5px; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
th { background:#f0f3f7; position:sticky; top:0; font-weight:600; }
td.l, th.l { text-align:left; }
td.top { text-align:left; white-space:normal; min-width:200px; max-width:320px; color:#334e68; }
tr:hover td { background:#f8fafc; }
td a { color:var(--accent); text-decoration:none; font-weight:600; }
.kind { display:inline-block; font-size:11px; padding:0 6px; border-radius:10px;
  background:#e9eef5; color:#334e68; }
.kind.numeric { background:#e3f0ff; } .kind.categorical { background:#f3e8ff; }
.kind.datetime { background:#e6f6f1; } .kind.boolean { background:#fff1e0; }
.warn { color:#b42318; font-weight:600; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(560px,1fr)); gap:14px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card h3 { margin:0 0 6px; font-size:15px; }
.card .body { display:flex; gap:14px; align-items:flex-start; }
.card dl { margin:0; display:grid; grid-template-columns:auto auto; gap:1px 10px; font-size:12px;
  min-width:170px; }
.card dt { color:var(--muted); }
.card dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; }
.card .chart { flex:1; min-width:0; }
.card .chart svg { width:100%; height:auto; }
.card p.caption { color:var(--muted); font-size:12px; margin:4px 0 0; }
.missing svg { max-width:760px; width:100%; height:auto; background:#fff; }
footer { margin-top:32px; color:var(--muted); font-size:12px; }
"""


def _summary_table(summary: pd.DataFrame) -> str:
    head = (
        "<tr><th class='l'>column</th><th class='l'>kind</th><th>rows</th><th>missing</th>"
        "<th>distinct ≈</th><th>mean</th><th>min</th><th>median</th><th>max</th>"
        "<th class='l'>most frequent</th></tr>"
    )
    rows = []
    for name, row in summary.iterrows():
        kind = row["kind"]
        missing = _percent(row["null_share"])
        if row["null_share"] > MISSING_WARN_SHARE:
            missing = f"<span class='warn'>{missing}</span>"
        non_null = max(1, row["count"] - row["null_count"])
        top = ", ".join(
            f"{_e(_label(value, 18))} ({_percent(count / non_null)})"
            for value, count in row["top_items"][:3]
        )
        mean = format_value(row["mean"], kind)
        rows.append(
            f"<tr><td class='l'><a href='#{_anchor(name)}'>{_e(name)}</a></td>"
            f"<td class='l'><span class='kind {_e(kind)}'>{_e(kind)}</span></td>"
            f"<td>{format_number(row['count'])}</td><td>{missing}</td>"
            f"<td>{format_count(row['cardinality'])}</td><td>{_e(mean)}</td>"
            f"<td>{_e(format_value(row['min'], kind))}</td>"
            f"<td>{_e(format_value(row['median'], kind))}</td>"
            f"<td>{_e(format_value(row['max'], kind))}</td><td class='top'>{top}</td></tr>"
        )
    return f"<div class='scroll'><table>{head}{''.join(rows)}</table></div>"


def _column_card(view: DatasetProfileView, name: str, row: Mapping[str, Any]) -> str:
    kind = row["kind"]
    chart, caption = column_chart(view, name, row)
    stats: list[tuple[str, str]] = [
        ("rows", format_number(row["count"])),
        ("missing", f"{format_number(row['null_count'])} ({_percent(row['null_share'])})"),
        ("distinct ≈", format_count(row["cardinality"])),
    ]
    if kind in ("numeric", "datetime"):
        if kind == "numeric":
            stats += [("mean", format_number(row["mean"])), ("std", format_number(row["std"]))]
        stats += [
            (label, format_value(row[field], kind))
            for label, field in (
                ("min", "min"),
                ("1 %", "q_01"),
                ("25 %", "q_25"),
                ("median", "median"),
                ("75 %", "q_75"),
                ("99 %", "q_99"),
                ("max", "max"),
            )
        ]
    else:
        non_null = max(1, row["count"] - row["null_count"])
        stats += [
            (_label(str(value), 16), _percent(count / non_null))
            for value, count in row["top_items"][:5]
        ]
    listing = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in stats)
    caption_html = f"<p class='caption'>{_e(caption)}</p>" if caption else ""
    return (
        f"<section class='card' id='{_anchor(name)}'><h3>{_e(name)} "
        f"<span class='kind {_e(kind)}'>{_e(kind)}</span></h3>"
        f"<div class='body'><dl>{listing}</dl><div class='chart'>{chart}{caption_html}</div></div>"
        "</section>"
    )


def render_report(
    view: DatasetProfileView,
    *,
    dataset: str,
    version: str,
    sample: pd.DataFrame | None = None,
    source: str | Path | None = None,
    facts: Mapping[str, Any] | None = None,
    sample_rows: int = 10,
) -> str:
    """Render the HTML data report of one data version.

    Args:
        view: the whylogs profile of the data.
        dataset: the dataset's name (the heading).
        version: the data version (DVC md5 or file md5), shown beside the name.
        sample: optionally the frame itself; its first ``sample_rows`` rows are shown.
        source: the file profiled, shown in the header.
        facts: more ``label -> value`` pairs for the header (e.g. partition, MLflow run).
        sample_rows: how many sample rows to show.

    Returns:
        A complete, self-contained HTML document.
    """
    # Keep every frequent item the sketch holds: the charts decide how many to draw.
    summary = profiling.summary_frame(view, top=10_000)
    rows = profiling.row_count(view)
    cells = int(summary["count"].sum())
    missing_cells = int(summary["null_count"].sum())
    kinds = summary["kind"].value_counts()

    header_facts = {"version": version, **({"source": source} if source else {}), **(facts or {})}
    header_facts["profiled"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta_lines = "".join(
        f"<p><b>{_e(label)}</b>: {_e(_fact(value))}</p>"
        for label, value in header_facts.items()
        if label != "version"
    )
    tiles = [
        (format_number(rows), "rows"),
        (format_number(len(summary)), "columns"),
        (_percent(missing_cells / cells if cells else math.nan), "missing cells"),
        *[(format_number(count), f"{kind} columns") for kind, count in kinds.items()],
    ]
    tiles_html = "".join(
        f"<div class='tile'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in tiles
    )

    found = alerts(summary)
    alerts_html = (
        "<ul class='alerts'>" + "".join(f"<li>{_e(text)}</li>" for text in found) + "</ul>"
        if found
        else "<p class='ok'>Nothing stands out: no column is much missing, constant or unique.</p>"
    )
    missing_svg = missing_chart(summary)
    missing_html = (
        f"<div class='missing'>{missing_svg}</div>"
        if missing_svg
        else "<p class='ok'>No value is missing in any column.</p>"
    )
    cards = []
    for name, row in summary.iterrows():
        cards.append(_column_card(view, name, dict(row)))

    sample_html = ""
    if sample is not None and not sample.empty:
        table = sample.head(sample_rows).to_html(index=False, na_rep=NONE, border=0, escape=True)
        sample_html = (
            f"<h2 id='sample'>Sample rows (first {min(sample_rows, len(sample))})</h2>"
            f"<div class='scroll'>{table}</div>"
        )

    title = f"{dataset} @ {version}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · data report</title>
<style>{_CSS}</style></head>
<body><main>
<header><h1>{_e(dataset)}<span class="version">{_e(version)}</span></h1>{meta_lines}</header>
<nav><a href="#alerts">Alerts</a><a href="#summary">Summary</a><a href="#missing">Missing values</a>
<a href="#columns">Columns</a>{'<a href="#sample">Sample</a>' if sample_html else ""}</nav>
<div class="tiles">{tiles_html}</div>
<h2 id="alerts">Alerts</h2>{alerts_html}
<h2 id="summary">Summary</h2>{_summary_table(summary)}
<h2 id="missing">Missing values</h2>{missing_html}
<h2 id="columns">Columns</h2><div class="grid">{"".join(cards)}</div>
{sample_html}
<footer>Generated by twelve.monitoring.reports from a whylogs profile. Means, counts, missing
values, min and
max are exact; quantiles and histograms come from a KLL sketch (rank error about 0.3 %), distinct
counts from a HyperLogLog sketch (about 2 %), frequent values from a frequent-items sketch.</footer>
</main></body></html>
"""


def write_report(html_text: str, path: str | Path) -> Path:
    """Write a report, creating its folder.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_text, encoding="utf-8")
    return path


def markdown_summary(summary: pd.DataFrame) -> str:
    """A compact markdown table of a summary frame (for Dagster metadata and MLflow)."""
    lines = [
        "| column | kind | missing | distinct ≈ | mean | min | max | most frequent |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in summary.iterrows():
        kind = row["kind"]
        top = ", ".join(str(value) for value, _ in row["top_items"][:3]).replace("|", "\\|")
        mean = format_value(row["mean"], kind) if kind != "datetime" else NONE
        lines.append(
            f"| {name} | {kind} | {_percent(row['null_share'])} | "
            f"{format_count(row['cardinality'])} | {mean} | {format_value(row['min'], kind)} | "
            f"{format_value(row['max'], kind)} | {top} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- one call
@dataclass(frozen=True)
class DocumentedVersion:
    """What documenting one data version produced."""

    profile: profiling.StoredProfile
    report: Path
    summary: pd.DataFrame
    seconds_profile: float
    seconds_report: float


def document_version(
    frame: pd.DataFrame,
    *,
    dataset: str,
    version: str,
    store: profiling.ProfileStore,
    source: str | Path | None = None,
    facts: Mapping[str, Any] | None = None,
    reports_root: str | Path | None = None,
    sample_rows: int = 10,
) -> DocumentedVersion:
    """Profile a data version, store the profile under its version and write its HTML report.

    Args:
        frame: the data of that version.
        dataset: the dataset's name.
        version: the data version (the key of the profile and the report).
        store: where the profile goes.
        source: the file the frame was read from.
        facts: JSON-serializable facts for the sidecar and the report header.
        reports_root: the reports folder; default ``<TWELVE_HOME>/reports``.
        sample_rows: rows of ``frame`` shown in the report (0: none).

    Returns:
        The stored profile, the report's path, the summary and the time each part took.
    """
    started = time.perf_counter()
    view = profiling.profile_frame(frame)
    stored = store.write(dataset, version, view, source=source, extra=facts)
    profiled = time.perf_counter()
    page = render_report(
        view,
        dataset=dataset,
        version=version,
        sample=frame if sample_rows else None,
        source=source,
        facts=facts,
        sample_rows=sample_rows,
    )
    report = write_report(page, report_path(dataset, version, reports_root))
    done = time.perf_counter()
    log.info(
        "documented %s@%s: profile %.2f s, report %.2f s -> %s",
        dataset, version, profiled - started, done - profiled, report,
    )  # fmt: skip
    return DocumentedVersion(
        profile=stored,
        report=report,
        summary=profiling.summary_frame(view),
        seconds_profile=profiled - started,
        seconds_report=done - profiled,
    )
