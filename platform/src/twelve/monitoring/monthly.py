"""The logic of the monthly checks (factor 6), pure: which rows, which features, which verdict.

A month arrives; ``month_drift`` compares its rows of the training set with the champion's
training rows and ``month_performance`` scores the champion on its labels. What both select and
decide is here, on plain frames and numbers, so tests need no Dagster, MLflow or file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

BELOW, OK, IN_TRAINING = "below", "ok", "trained on"


def compared_features(feature_columns: Sequence[str], excluded: Sequence[str]) -> list[str]:
    """The model-input columns compared, without the excluded ones.

    Raises:
        ValueError: an excluded name is not a model input (a typo would silently compare it).
    """
    unknown = sorted(set(excluded) - set(feature_columns))
    if unknown:
        raise ValueError(f"exclude_features names unknown model inputs: {unknown}")
    return [name for name in feature_columns if name not in excluded]


def month_rows(
    frame: pd.DataFrame, period: str, month: str | Sequence[str], columns: Sequence[str]
) -> pd.DataFrame:
    """The ``columns`` of the rows of ``month`` (the ``period`` column, ``YYYY-MM``, or a list).

    Raises:
        ValueError: a column is missing, or a month has no row (named).
    """
    missing = [name for name in [period, *columns] if name not in frame.columns]
    if missing:
        raise ValueError(f"the training set lacks column(s) {missing}")
    months = [month] if isinstance(month, str) else list(month)
    present = frame[period].astype(str)
    absent = [m for m in months if not (present == m).any()]
    if absent:
        raise ValueError(
            f"the training set has no row of {', '.join(absent)}: its months are "
            f"{sorted(present.unique())}"
        )
    return frame.loc[present.isin(months), list(columns)]


def read_columns(path: Path, wanted: Sequence[str]) -> pd.DataFrame:
    """The wanted columns the parquet file has (a missing one is named by :func:`month_rows`)."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[name for name in wanted if name in present])


def drift_event(month: str, reference: str) -> str:
    """The identity of a drift finding: one month judged against one reference.

    ``reference`` is the champion (``flight_delays v3``) or, before there is one, the training
    set version. The same month judged again against the same reference is the same event (the
    sensor starts one retraining for it, not one per materialization).
    """
    return f"{month}@{reference.replace(' ', '-')[:24]}"


def performance_event(month: str, champion_label: str) -> str:
    """The identity of a performance finding: one month scored by one champion."""
    return f"{month}@{champion_label.replace(' ', '-')}"


def is_worse(score: float, required: float, higher_is_better: bool) -> bool:
    """Whether ``score`` misses ``required`` (below a ROC AUC, above an RMSE)."""
    return score < required if higher_is_better else score > required


def performance_verdict(
    score: float, required: float, trained_on: bool, higher_is_better: bool = True
) -> str:
    """``below`` / ``ok``, or ``trained on`` for a month inside the training window.

    ``below`` means worse than required, whichever way the metric goes. A month the champion was
    fitted on says nothing about how it generalizes: it never triggers.
    """
    if trained_on:
        return IN_TRAINING
    return BELOW if is_worse(score, required, higher_is_better) else OK
