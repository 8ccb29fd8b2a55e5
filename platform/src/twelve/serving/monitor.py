"""Monitoring off the hot path: scored rows buffered, profiled in the background (factors 9, 11).

A request only appends its columns to a bounded buffer (a list append under a lock). A daemon
thread takes the buffer every interval and has it profiled with whylogs (in a child process for
a served bento, :mod:`twelve.serving.profiler`) into the serving profile store::

    <TWELVE_HOME>/serving_profiles/<model version>/<UTC timestamp>-<pid>.bin   (+ .json sidecar)

the layout the skew report reads (``twelve.monitoring.skew``); the pid keeps the files of several
workers apart. Bounded: rows beyond ``max_buffer_rows`` (counting those being profiled) are
dropped and counted, so memory stays bounded when profiling falls behind. Lossless otherwise: a
profile that cannot be written leaves its rows in the buffer, ahead of newer ones, for the next
attempt; :meth:`ProfileRoller.stop` writes what is left.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twelve.serving import columns as cols
from twelve.serving.config import DEFAULT_MAX_BUFFER_ROWS, DEFAULT_PROFILE_INTERVAL_S
from twelve.serving.profiler import InProcessProfiler, ProfileJob

log = logging.getLogger(__name__)


@dataclass
class _Chunk:
    """The rows of one add (one request, or one batch of requests)."""

    columns: cols.Columns
    rows: int
    requests: int
    at: float


def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")


class ProfileRoller:
    """Rows buffered in memory, profiled in the background once per interval.

    Args:
        root: the profile store folder (``<TWELVE_HOME>/serving_profiles``).
        model_version: the served model version (a folder of the store).
        interval_seconds: time between two profiles.
        extra: JSON facts for every sidecar (model tag, reference profile, bento tag).
        max_buffer_rows: rows kept (buffered or being profiled) at most.
        on_flush: called with (rows, seconds) after each profile is written (metrics).
        on_drop: called with the rows dropped because the buffer was full (metrics).
        on_failure: called when a profile could not be written (metrics).
        profiler: what writes a profile (default: in this process).
    """

    def __init__(
        self,
        root: Path,
        model_version: str,
        *,
        interval_seconds: float = DEFAULT_PROFILE_INTERVAL_S,
        extra: Mapping[str, Any] | None = None,
        max_buffer_rows: int = DEFAULT_MAX_BUFFER_ROWS,
        on_flush: Callable[[int, float], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
        profiler: Any = None,
    ) -> None:
        from twelve.monitoring.profiling import check_name

        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self.root = Path(root)
        self.model_version = check_name("model version", model_version)
        self.interval_seconds = float(interval_seconds)
        self.extra = dict(extra or {})
        self.max_buffer_rows = int(max_buffer_rows)
        self.on_flush, self.on_drop, self.on_failure = on_flush, on_drop, on_failure
        self.profiler = profiler or InProcessProfiler()
        self.dropped_rows = 0  # since the last profile written (its sidecar says how many)
        self._chunks: list[_Chunk] = []
        self._held = 0  # rows buffered or being profiled: what the bound counts
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the request path
    def add(self, batch: pd.DataFrame | Mapping[str, np.ndarray], requests: int = 1) -> bool:
        """Buffer scored rows (cheap: no profiling here); False when they were dropped."""
        columns = (
            {str(name): batch[name].to_numpy() for name in batch.columns}
            if isinstance(batch, pd.DataFrame)
            else dict(batch)
        )
        rows = cols.row_count(columns)
        with self._lock:
            if self._held + rows > self.max_buffer_rows:
                self.dropped_rows += rows
                dropped = True
            else:
                self._chunks.append(_Chunk(columns, rows, requests, time.time()))
                self._held += rows
                dropped = False
        if dropped and self.on_drop is not None:
            self.on_drop(rows)
        return not dropped

    @property
    def buffered_rows(self) -> int:
        """Rows waiting for a profile (being profiled included)."""
        return self._held

    # ------------------------------------------------------------------ the background
    def flush(self) -> Path | None:
        """Profile and store the buffered rows now; None when there were none.

        Raises:
            Exception: whatever writing the profile raised; the rows are back in the buffer.
        """
        with self._flush_lock:
            with self._lock:
                chunks, self._chunks = self._chunks, []
                dropped, self.dropped_rows = self.dropped_rows, 0
            if not chunks:
                with self._lock:
                    self.dropped_rows += dropped
                return None
            started = time.perf_counter()
            rows = sum(chunk.rows for chunk in chunks)
            try:
                path = Path(self.profiler.write(self._job(chunks, dropped)))
            except Exception:
                with self._lock:  # kept, ahead of what arrived meanwhile, for the next attempt
                    self._chunks[:0] = chunks
                    self.dropped_rows += dropped
                if self.on_failure is not None:
                    self.on_failure()
                raise
            with self._lock:
                self._held -= rows
            if self.on_flush is not None:
                self.on_flush(rows, time.perf_counter() - started)
            return path

    def _job(self, chunks: list[_Chunk], dropped: int) -> ProfileJob:
        now = time.time()
        extra = {
            **self.extra,
            "kind": "serving",
            "model_version": self.model_version,
            "window_start": datetime.fromtimestamp(chunks[0].at, UTC).isoformat(),
            "window_end": datetime.fromtimestamp(now, UTC).isoformat(),
            "requests": sum(chunk.requests for chunk in chunks),
            "dropped_rows": dropped,
            "pid": os.getpid(),
        }
        return ProfileJob(
            root=str(self.root),
            model_version=self.model_version,
            version=f"{_stamp(now)}-{os.getpid()}",
            columns=cols.concat([chunk.columns for chunk in chunks]),
            extra=extra,
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.flush()
            except Exception:  # the next interval retries with the same rows; logged, not hidden
                log.exception("profiling the served rows failed; their rows are kept")

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="twelve-profiler", daemon=True)
            self._thread.start()

    def stop(self) -> Path | None:
        """Stop the thread, profile what is left, release the profiler."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        try:
            return self.flush()
        finally:
            self.profiler.close()
