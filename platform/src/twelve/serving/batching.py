"""Adaptive batching of concurrent requests: what arrives while the model is busy is scored at once.

A request coroutine :meth:`Batcher.submit` s its job and awaits the result. One task takes every
job waiting (up to ``max_rows`` rows) and scores them with one call: one online-store read per
view, one compiled-model call, one monitoring append. Nothing waits for a batch to fill: alone, a
request is scored as soon as it is submitted (no added latency at concurrency 1); under load, the
requests that arrived during the previous batch form the next one, so the batch grows with the
load and the per-call costs are shared.

Why not BentoML's ``@bentoml.api(batchable=True)``: it splits its result into one bare list per
request, so an answer could not carry the model version and threshold beside its predictions,
and a request refused by the contract (422) would have to fail its whole batch. The idea is the
same (its ``CorkDispatcher`` batches what is queued); this one runs inside the API method.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)


class Batcher:
    """Scores the jobs submitted by concurrent requests in batches, on the running event loop.

    Args:
        score_many: scores a list of jobs, returning one result per job (in order); an exception
            fails every job of that batch.
        rows_of: the number of rows of a job.
        max_rows: rows of one batch at most (a larger job is scored alone).
    """

    def __init__(
        self,
        score_many: Callable[[Sequence[Any]], Sequence[Any]],
        rows_of: Callable[[Any], int],
        max_rows: int,
    ) -> None:
        self.score_many, self.rows_of, self.max_rows = score_many, rows_of, max(1, max_rows)
        self._waiting: list[tuple[Any, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, job: Any) -> Any:
        """Queue ``job`` for the next batch and return its result."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="twelve-batcher")
        future = loop.create_future()
        self._waiting.append((job, future))
        assert self._wake is not None  # made with the task above
        self._wake.set()
        return await future

    def _take(self) -> list[tuple[Any, asyncio.Future]]:
        taken: list[tuple[Any, asyncio.Future]] = []
        rows = 0
        while self._waiting:
            rows += self.rows_of(self._waiting[0][0])
            if taken and rows > self.max_rows:
                break
            taken.append(self._waiting.pop(0))
        return taken

    async def _run(self) -> None:
        wake = self._wake  # each task is started with its own event (submit)
        assert wake is not None
        while True:
            await wake.wait()
            wake.clear()
            while self._waiting:
                taken = [(job, future) for job, future in self._take() if not future.done()]
                if taken:
                    self._score(taken)
                # Let the requests that arrived meanwhile be parsed and queued: the next batch.
                await asyncio.sleep(0)

    def _score(self, taken: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            results = self.score_many([job for job, _ in taken])
        except Exception as error:  # each request of the batch fails with it (and logs it)
            for _, future in taken:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(taken, results, strict=True):
            if not future.done():  # a request cancelled meanwhile (its client went away)
                future.set_result(result)
