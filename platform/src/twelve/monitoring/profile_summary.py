"""What a whylogs profile says about each column, as numbers a report or a test can read.

The summary of a stored profile (``twelve.monitoring.profiling``): per column its kind, counts,
missing share, distinct values, mean, quantiles and most frequent values, and histograms drawn from
the KLL sketch. Read by the data reports, the drift scores and the skew report; the serving bento
needs none of it (it only writes profiles).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twelve.monitoring.profiling import column_names, datetime_columns

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from whylogs.core import DatasetProfileView


SUMMARY_QUANTILES = ("q_01", "q_05", "q_25", "median", "q_75", "q_95", "q_99")


SUMMARY_COLUMNS = (
    "kind", "integral", "count", "null_count", "null_share", "cardinality",
    "mean", "std", "min", *SUMMARY_QUANTILES, "max", "top_items",
)  # fmt: skip


# --------------------------------------------------------------------------- summaries
def _kind(name: str, stats: Mapping[str, Any], dates: Sequence[str]) -> str:
    if name in dates:
        return "datetime"
    numbers = stats.get("types/integral", 0) + stats.get("types/fractional", 0)
    strings = stats.get("types/string", 0)
    booleans = stats.get("types/boolean", 0)
    if booleans and booleans >= numbers + strings:
        return "boolean"
    if numbers and numbers >= strings:
        return "numeric"
    if strings:
        return "categorical"
    if stats.get("counts/n", 0) and stats.get("counts/null", 0) >= stats.get("counts/n", 0):
        return "empty"
    return "other"


def _number(value: Any) -> float:
    return float(value) if value is not None else math.nan


def _top_items(stats: Mapping[str, Any], top: int) -> list[tuple[str, int]]:
    frequent = stats.get("frequent_items/frequent_strings") or []
    items = [(item.value, int(item.est)) for item in frequent]
    # Ties broken by value: the sketch's own order of equal counts is not stable.
    return sorted(items, key=lambda item: (-item[1], item[0]))[:top]


def column_summary(view: DatasetProfileView, name: str, top: int = 10) -> dict[str, Any]:
    """Summary statistics of one profiled column (see :func:`summary_frame` for the fields).

    Raises:
        KeyError: the profile has no column ``name``.
    """
    column = view.get_column(name)
    if column is None:
        raise KeyError(f"the profile has no column {name!r}; it has {column_names(view)}")
    stats = column.to_summary_dict()
    count = int(stats.get("counts/n", 0))
    nulls = int(stats.get("counts/null", 0))
    has_distribution = stats.get("distribution/n", 0) > 0
    numeric = {
        field: _number(stats.get(f"distribution/{field}")) if has_distribution else math.nan
        for field in ("mean", "min", *SUMMARY_QUANTILES, "max")
    }
    return {
        "kind": _kind(name, stats, datetime_columns(view)),
        # Only whole numbers seen: histograms align their bins to the integers.
        "integral": bool(stats.get("types/integral", 0)) and not stats.get("types/fractional", 0),
        "count": count,
        "null_count": nulls,
        "null_share": nulls / count if count else math.nan,
        "cardinality": _number(stats.get("cardinality/est")),
        **numeric,
        "std": _number(stats.get("distribution/stddev")) if has_distribution else math.nan,
        "top_items": _top_items(stats, top),
    }


def summary_frame(view: DatasetProfileView, top: int = 10) -> pd.DataFrame:
    """One row of readable statistics per column of a profile.

    Args:
        view: a whylogs profile view.
        top: how many frequent items to keep per column.

    Returns:
        A frame indexed by column name with: ``kind`` (numeric / categorical / boolean / datetime /
        empty / other), ``integral`` (only whole numbers were seen), ``count`` (rows, nulls
        included), ``null_count``, ``null_share``,
        ``cardinality`` (HLL estimate of distinct non-null values), ``mean``, ``std``, ``min``,
        the quantiles ``q_01 .. q_99`` and ``median`` (KLL sketch), ``max`` (NaN where a column
        has no numbers; datetimes in seconds since the epoch, UTC) and ``top_items`` (a list of
        ``(value as str, estimated count)``, most frequent first; whylogs keeps frequent items for
        strings and integers only).
    """
    rows = {name: column_summary(view, name, top=top) for name in column_names(view)}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(SUMMARY_COLUMNS))
    frame.index.name = "column"
    return frame


def numeric_histogram(
    view: DatasetProfileView,
    name: str,
    bins: int = 30,
    value_range: tuple[float, float] | None = None,
    edges: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """An (estimated) histogram of a numeric column from its KLL sketch.

    Args:
        view: a whylogs profile view.
        name: a numeric (or datetime) column of the profile.
        bins: number of equal-width bins (when ``edges`` is not given).
        value_range: ``(low, high)`` of the bins; default the column's min and max.
        edges: explicit increasing bin edges (e.g. shared by a reference and a target profile);
            overrides ``bins`` and ``value_range``.

    Returns:
        ``(edges, counts)``: the bin edges and the estimated count of each bin. Bins are
        ``[left, right)``, the last one closed; values outside the edges are not counted.

    Raises:
        KeyError: no such column.
        ValueError: the column has no numeric distribution (all null, or not numeric), or the
            edges are not strictly increasing.
    """
    column = view.get_column(name)
    if column is None:
        raise KeyError(f"the profile has no column {name!r}; it has {column_names(view)}")
    metric = column.get_metric("distribution")
    if metric is None or metric.kll.value.is_empty():
        raise ValueError(f"column {name!r} has no numeric values to draw a histogram of")
    sketch = metric.kll.value
    if edges is None:
        low, high = value_range or (sketch.get_min_value(), sketch.get_max_value())
        if not high > low:  # a constant column: one bin around its value
            low, high, bins = low - 0.5, high + 0.5, 1
        edges = np.linspace(low, high, bins + 1)
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError(f"histogram edges for {name!r} must be at least 2 increasing values")
    # get_pmf(split points) gives the mass of (-inf, e0), [e0, e1), ..., [e_last, inf) (the last
    # interval holds the maximum): add the mass at e_last to the last bin when e_last is the max.
    masses = np.asarray(sketch.get_pmf(list(edges)))
    counts = masses[1:-1] * sketch.get_n()
    if edges[-1] >= sketch.get_max_value():
        counts[-1] += masses[-1] * sketch.get_n()
    return edges, counts
