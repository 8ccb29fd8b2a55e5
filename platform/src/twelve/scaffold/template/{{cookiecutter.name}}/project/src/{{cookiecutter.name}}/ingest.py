"""The project's source: a PLACEHOLDER sample of events, arriving month by month.

Each row is one event of an entity (its entity keys) at a UTC time, with a request feature known
when the event happens (``amount``), a count (``visits``, aggregated by dbt into the entity's
activity) and the label (0/1 for classification, a number for regression). The label depends on
the entity's recent activity, so the Feast features carry signal. Replace :func:`make_events`
with a reader of the team's own source and keep its columns, or change the dbt models, the Feast
view and the contract in the same change.
"""

import numpy as np
import pandas as pd

from .contract import ENTITY_KEYS, PROBLEM_TYPE

DEFAULT_ROWS = int("{{ cookiecutter.sample_rows }}")
START = pd.Timestamp("2024-01-01", tz="UTC")
DAYS = 91  # January to March 2024: the months of [tool.twelve] in pyproject.toml
# About 25 entities in all (combinations of the keys), so each has a history of ~80 events.
ENTITIES_PER_KEY = max(2, round(25 ** (1 / len(ENTITY_KEYS))))


def make_events(rows: int = DEFAULT_ROWS, seed: int = 0) -> pd.DataFrame:
    """The sample events, the same for the same ``rows`` and ``seed``.

    Args:
        rows: Number of events (at least 50).
        seed: Random seed.

    Returns:
        event_id (str), the entity keys (str), event_timestamp (UTC), amount (float64), visits
        (int64), label (int64 0/1 or float64), sorted by event_timestamp.

    Raises:
        ValueError: fewer than 50 rows.
    """
    if rows < 50:
        raise ValueError(f"rows must be at least 50, got {rows}")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"event_id": [f"e{i:07d}" for i in range(rows)]})
    for key in ENTITY_KEYS:
        frame[key] = [f"{key}_{n:03d}" for n in rng.integers(0, ENTITIES_PER_KEY, rows)]
    seconds = rng.integers(0, DAYS * 86_400, rows)
    frame["event_timestamp"] = START + pd.to_timedelta(seconds, unit="s")
    # Each entity has a fixed propensity (from its numbers): its recent history reveals it.
    numbers = sum(frame[key].str.rsplit("_", n=1).str[1].astype("int64") for key in ENTITY_KEYS)
    propensity = (numbers % 10) / 10.0
    frame["amount"] = np.round(np.clip(20 + 80 * propensity + rng.normal(0, 10, rows), 0, None), 2)
    frame["visits"] = rng.poisson(1 + 4 * propensity).astype("int64")
    signal = 2.5 * propensity + 0.01 * (frame["amount"] - 60) + rng.normal(0, 0.4, rows)
    if PROBLEM_TYPE == "classification":
        frame["label"] = (signal > 1.4).astype("int64")
    else:
        frame["label"] = np.round(10 * signal, 3).astype("float64")
    return frame.sort_values("event_timestamp", ignore_index=True)


def read_events(month: str) -> pd.DataFrame:
    """The events of one month as they arrive (the sample's events of that month, UTC).

    Args:
        month: ``YYYY-MM``.

    Returns:
        The month's events (see :func:`make_events`); none for a month outside the sample.
    """
    events = make_events()
    return events[events["event_timestamp"].dt.strftime("%Y-%m") == month].reset_index(drop=True)
