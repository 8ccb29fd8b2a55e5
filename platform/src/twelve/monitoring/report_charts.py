"""The charts of the data, drift and skew reports: matplotlib figures as inline SVG.

Drawn with matplotlib's Agg/SVG backends on bare ``Figure`` objects (no pyplot, no GUI backend):
a histogram from the KLL sketch for numbers and dates, bars of the most frequent values for
categories and small integer ranges, missing values per column. Text stays ``<text>`` (small
files in the page's font) and element ids are deterministic.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twelve.monitoring import profile_summary
from twelve.monitoring.report_format import (
    MISSING_WARN_SHARE,
    format_count,
    format_number,
    format_value,
    is_missing,
    percent,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType
    from whylogs.core import DatasetProfileView

# Numeric columns with at most this many distinct values are drawn as bars per value (hour of
# day, month, number of engines), not as a histogram with empty bins between the integers.
DISCRETE_MAX_VALUES = 31
TOP_BARS = 12
HISTOGRAM_BINS = 40
PRIMARY = "#3b6ea5"


# --------------------------------------------------------------------------- charts
# Chart style, applied while a chart is drawn *and* saved (svg.* settings are read at save time).
_STYLE: dict[RcKeyType, Any] = {
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
def chart_style() -> Iterator[None]:
    """Matplotlib settings of the report charts, for the ``with`` block only."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        yield


def new_figure(width: float = 4.6, height: float = 2.3) -> tuple[Figure, Axes]:
    """A figure of ``width`` x ``height`` inches and its axes, with a light horizontal grid."""
    # A bare Figure, not pyplot: no global figure registry, no GUI backend, nothing to close.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    axes = figure.add_subplot()
    axes.grid(axis="y", color="#eceff2", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def to_svg(figure) -> str:
    """A figure as an inline ``<svg>`` element (no XML prolog, DOCTYPE or metadata)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # The RDF metadata block names external vocabularies (http://purl.org/...): not needed inline.
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)


def plain_axis(axis: Axis) -> None:
    """Tick labels as the reports write numbers (:func:`format_number`), never 1e6 offsets."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _pos: format_number(value)))


def short_label(text: str, width: int = 22) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _bars_chart(labels: list[str], counts: list[float], total: int, *, horizontal: bool) -> str:
    figure, axes = new_figure(height=max(1.6, 0.2 * len(labels) + 0.5) if horizontal else 2.3)
    shares = [count / total if total else 0 for count in counts]
    if horizontal:
        positions = np.arange(len(labels))[::-1]
        axes.barh(positions, counts, color=PRIMARY, height=0.7)
        axes.set_yticks(positions, [short_label(label) for label in labels])
        axes.grid(axis="y", visible=False)
        axes.grid(axis="x", color="#eceff2", linewidth=0.8)
        plain_axis(axes.xaxis)
        for position, count, share in zip(positions, counts, shares, strict=True):
            axes.annotate(
                f" {percent(share)}", (count, position), va="center", fontsize=7, color="#44505c"
            )
        axes.margins(x=0.15)
        axes.set_xlabel("rows")
    else:
        positions = np.arange(len(labels))
        axes.bar(positions, counts, color=PRIMARY, width=0.8)
        step = max(1, math.ceil(len(labels) / 16))
        axes.set_xticks(positions[::step], labels[::step])
        plain_axis(axes.yaxis)
        axes.set_ylabel("rows")
    return to_svg(figure)


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
    edges, counts = profile_summary.numeric_histogram(view, name, edges=edges)
    figure, axes = new_figure()
    if summary["kind"] == "datetime":
        import matplotlib.dates as mdates

        edges = mdates.date2num(pd.to_datetime(edges, unit="s", utc=True).tz_localize(None))
        locator = mdates.AutoDateLocator(maxticks=6)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        plain_axis(axes.xaxis)
    axes.stairs(counts, edges, fill=True, color=PRIMARY, alpha=0.9)
    if summary["kind"] != "datetime" and not is_missing(summary["median"]):
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
    plain_axis(axes.yaxis)
    axes.set_ylabel("rows (est.)")
    return to_svg(figure), caption.strip()


def _discrete_numeric(summary: Mapping[str, Any]) -> list[tuple[str, int]] | None:
    """Frequent items of a small-range integer column, sorted by value, when they cover it."""
    items = summary["top_items"]
    cardinality = summary["cardinality"]
    if not items or is_missing(cardinality) or round(cardinality) > DISCRETE_MAX_VALUES:
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
    with chart_style():
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
                f"{percent(other / non_null)} of the rows."
            )
        return _bars_chart(labels, counts, non_null, horizontal=True), caption
    return "", "No distribution is kept for this type."


def missing_chart(summary: pd.DataFrame) -> str:
    """Horizontal bars of the share of missing values per column that has any ('' if none)."""
    with chart_style():
        return _missing_chart(summary)


def _missing_chart(summary: pd.DataFrame) -> str:
    missing = summary[summary["null_count"] > 0].sort_values("null_share")
    if missing.empty:
        return ""
    figure, axes = new_figure(width=6.4, height=max(1.2, 0.24 * len(missing) + 0.5))
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
            f" {percent(share)} ({format_number(count)})",
            (share * 100, position),
            va="center",
            fontsize=7,
            color="#44505c",
        )
    axes.margins(x=0.25)
    axes.set_xlabel("% of rows missing")
    return to_svg(figure)
