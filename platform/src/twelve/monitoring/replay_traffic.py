"""The replay's traffic (pure helpers and one client loop): a month's rows sent to a served bento.

The requests come from the main environment's training set: a client that already assembled each
row's features (``/predict_features``), since the online store only holds the newest values and a
replay of the past needs the values as of each row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

BATCH_ROWS = 100
ENDPOINT = "/predict_features"


def month_traffic(
    frame: pd.DataFrame, period: str, timestamp: str, month: str, rows: int, seed: int
) -> pd.DataFrame:
    """A reproducible sample of ``rows`` rows of ``month`` (all of them when fewer), in time order.

    Args:
        frame: the traffic source (a training set).
        period: its month column (``YYYY-MM``).
        timestamp: its time column (the sample is sent in that order).
        month: the month.
        rows: how many.
        seed: of the sample.

    Raises:
        ValueError: the frame has no row of that month (its months are named).
    """
    of_month = frame[frame[period].astype(str) == month]
    if of_month.empty:
        raise ValueError(
            f"no row of {month} in the traffic source; its months are "
            f"{sorted(frame[period].astype(str).unique())}"
        )
    if len(of_month) <= rows:
        return of_month
    return of_month.sample(n=rows, random_state=seed).sort_values(timestamp)


def batches(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """``records`` in consecutive batches of at most ``size``."""
    if size < 1:
        raise ValueError(f"batch size must be positive, got {size}")
    return [records[start : start + size] for start in range(0, len(records), size)]


@dataclass
class TrafficSent:
    """How the requests of one month went."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def p95_ms(self) -> float:
        """95th percentile of the request latencies (0 without request)."""
        return float(pd.Series(self.latencies_ms).quantile(0.95)) if self.latencies_ms else 0.0


def send(bento_tag: str, records: list[dict[str, Any]], home: Path, workdir: Path) -> TrafficSent:
    """Serve ``bento_tag`` (``bentoml serve`` on 127.0.0.1) and send it the records in batches.

    Leaving the server stops it: its monitor writes the last serving profile on shutdown.
    """
    from twelve.deploy import bento_server

    sent = TrafficSent()
    with bento_server.serving(bento_tag, home, workdir) as server:
        for batch in batches(records, BATCH_ROWS):
            started = time.perf_counter()
            status, _ = server.post(ENDPOINT, {"rows": batch})
            sent.latencies_ms.append((time.perf_counter() - started) * 1000)
            sent.requests += 1
            sent.errors += status != 200
    return sent
