"""Feast's SQLite online store, read directly: one query per view over a batch's keys."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from twelve.serving.config import ServingConfigError
from twelve.serving.online.plan import Record, ViewPlan

# Bound parameters per SQLite statement: far below SQLite's limit, and a batch rarely exceeds it.
SQLITE_MAX_KEYS_PER_QUERY = 900


class SqliteReader:
    """Reads Feast's SQLite online store tables directly, one connection per thread.

    Read-only connections (a serving process never writes the store); one per thread because a
    SQLite connection serializes its statements, while several connections read in parallel.

    Args:
        path: the online store file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,
                cached_statements=256,
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def check(self, plans: Sequence[ViewPlan]) -> None:
        """Fail now, naming the table, when a view's table is not in the store.

        Raises:
            ServingConfigError: a table is missing (the feature repo was not applied here).
        """
        tables = {
            name
            for (name,) in self.connection().execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        for plan in plans:
            if plan.table not in tables:
                raise ServingConfigError(
                    f"the SQLite online store {self.path} has no table {plan.table!r} for "
                    f"feature view {plan.name!r}: apply and materialize the feature repo"
                )

    def version(self) -> int:
        """This thread's connection's ``PRAGMA data_version``.

        It moves when another connection (a materialization) writes the store.
        """
        return self.connection().execute("PRAGMA data_version").fetchone()[0]

    def read(self, requests: Sequence[tuple[ViewPlan, list[bytes]]]) -> list[dict[bytes, Record]]:
        """Records of the given keys, one query per view (``IN`` over the batch's keys).

        A key is known when every requested feature has a row: Feast reports a feature without
        a row NOT_FOUND, and a NOT_FOUND feature makes its join keys unknown.
        """
        conn = self.connection()
        found: list[dict[bytes, Record]] = []
        for plan, keys in requests:
            positions = plan.positions
            blobs: dict[bytes, list[bytes | None]] = {}
            width = len(plan.features)
            for start in range(0, len(keys), SQLITE_MAX_KEYS_PER_QUERY):
                chunk = keys[start : start + SQLITE_MAX_KEYS_PER_QUERY]
                for key, name, blob in conn.execute(plan.select(len(chunk)), chunk):
                    position = positions.get(name)
                    if position is None:
                        continue  # a feature of the view the service does not read
                    record = blobs.get(key)
                    if record is None:
                        record = blobs[key] = [None] * width
                    record[position] = blob
            found.append({key: (None not in record, record) for key, record in blobs.items()})
        return found

    def close(self) -> None:
        """Close every connection opened so far."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
