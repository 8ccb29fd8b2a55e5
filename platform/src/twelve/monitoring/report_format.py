"""How numbers read in the data reports (factor 8): one place for every formatted value."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

NONE = "\N{EN DASH}"  # shown where a statistic does not exist
# A column missing in more than this share of rows is flagged (alerts, missing-values chart).
MISSING_WARN_SHARE = 0.05


NONE = "\N{EN DASH}"  # shown where a statistic does not exist
# A column missing in more than this share of rows is flagged (alerts, missing-values chart).
MISSING_WARN_SHARE = 0.05


# --------------------------------------------------------------------------- formatting
def is_missing(value: Any) -> bool:
    """Whether ``value`` is None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: Any) -> str:
    """A short, readable rendering of a statistic (a dash when there is none)."""
    if is_missing(value):
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
    return NONE if is_missing(value) else f"{round(float(value)):,}"


def format_value(value: Any, kind: str) -> str:
    """Render a statistic of a column: dates for datetime columns, numbers otherwise."""
    if kind == "datetime" and not is_missing(value):
        return pd.to_datetime(float(value), unit="s", utc=True).strftime("%Y-%m-%d %H:%M")
    return format_number(value)


def percent(share: float) -> str:
    """A share as a percentage for the reports (``<0.1%`` for tiny shares, a dash if missing)."""
    if is_missing(share):
        return NONE
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share:.1%}"


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
            found.append(f"{name}: {percent(row['null_share'])} of the values are missing.")
        if non_null > 1 and row["cardinality"] < 1.5:
            found.append(f"{name}: a single distinct value (constant column).")
        if row["kind"] == "categorical" and non_null > 50 and row["cardinality"] >= 0.95 * non_null:
            found.append(f"{name}: nearly every value is distinct (an identifier?).")
    return found


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
            f"| {name} | {kind} | {percent(row['null_share'])} | "
            f"{format_count(row['cardinality'])} | {mean} | {format_value(row['min'], kind)} | "
            f"{format_value(row['max'], kind)} | {top} |"
        )
    return "\n".join(lines)
