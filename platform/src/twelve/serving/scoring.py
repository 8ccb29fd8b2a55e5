"""Scoring a batch of requests: online features, contract gate, compiled model, monitoring, metrics.

:meth:`Scorer.score_many` is the whole hot path of a served model, for one or several concurrent
requests (:mod:`twelve.serving.batching`), with no data frame and no server around it (unit tests
call it directly):

1. the entity features of every row, one online-store read for the batch
   (:class:`twelve.serving.online.reader.DirectOnlineFeatures`);
2. each request's model input typed as the contract says (:func:`twelve.serving.columns.
   typed_columns`) and checked by the gate: a request that breaks it is refused alone (422);
3. the accepted rows scored by the compiled model in one call;
4. the scored rows appended to the monitoring buffer (profiled in the background), the metrics
   counted once per batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twelve.serving import columns as cols
from twelve.serving.gate import FieldProblem


@dataclass
class Job:
    """One request to score.

    Attributes:
        endpoint: the API it came to (a metrics label).
        values: column name -> one value per row: request features (and join keys when the
            entity features are to be looked up), or the whole model input.
        rows: its number of rows.
        lookup: whether the entity features come from the online store.
    """

    endpoint: str
    values: dict[str, Sequence[Any]]
    rows: int
    lookup: bool = True


@dataclass
class Outcome:
    """What a request gets: its rows' outputs, or the contract problems that refused it."""

    outputs: list[float] = field(default_factory=list)
    labels: list[int] | None = None
    unknown: list[list[str]] = field(default_factory=list)
    problems: list[FieldProblem] = field(default_factory=list)


class Scorer:
    """The hot path of one served model.

    Args:
        model: the served model (``twelve.serving.model.ServedModel``).
        gate: the contract gate; None when the contract is switched off (never in production).
        features: the online features reader (``fetch(entity_rows)``, ``join_keys``).
        monitor: the monitoring buffer (``add(columns, requests)``); None when switched off.
        metrics: the service's metrics (``twelve.serving.metrics.ServingMetrics``).
    """

    def __init__(self, model: Any, gate: Any, features: Any, monitor: Any, metrics: Any) -> None:
        self.model, self.gate, self.features = model, gate, features
        self.monitor, self.metrics = monitor, metrics
        specs = model.contract["columns"]
        self.order = [spec["name"] for spec in specs]
        self.dtypes = {spec["name"]: spec["dtype"] for spec in specs}

    def score_many(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Score concurrent requests together; one outcome per job, in order."""
        unknown = self._look_up([job for job in jobs if job.lookup])
        outcomes, accepted = [], []
        for job in jobs:
            outcome = Outcome(unknown=unknown.get(id(job)) or [[] for _ in range(job.rows)])
            columns = cols.typed_columns(job.values, self.dtypes, self.order)
            if self.gate is not None:
                outcome.problems = self.gate.problems(columns)
            if not outcome.problems:
                accepted.append((job, columns, outcome))
            outcomes.append(outcome)
        if accepted:
            self._score_accepted(accepted)
        self._count(jobs, outcomes)
        return outcomes

    def _look_up(self, jobs: Sequence[Job]) -> dict[int, list[list[str]]]:
        """Add the entity features to each job's values; the unknown keys of its rows, by job."""
        if not jobs:
            return {}
        keys = self.features.join_keys
        entity_rows = [
            dict(zip(keys, values, strict=True))
            for job in jobs
            for values in zip(*(job.values[key] for key in keys), strict=True)
        ]
        lookup = self.features.fetch(entity_rows)
        unknown, start = {}, 0
        for job in jobs:
            end = start + job.rows
            for name, values in lookup.features.items():
                job.values[name] = values[start:end]
            unknown[id(job)] = lookup.unknown[start:end]
            start = end
        return unknown

    def _score_accepted(self, accepted: list[tuple[Job, cols.Columns, Outcome]]) -> None:
        batch = cols.concat([columns for _, columns, _ in accepted])
        outputs = self.model.outputs(batch)
        scored: dict[str, np.ndarray] = dict(batch)
        if self.model.is_classifier:
            labels = (outputs >= self.model.threshold).astype(np.int64)
            scored.update(probability=outputs, label=labels)
        else:
            labels = None
            scored["prediction"] = outputs
        start = 0
        for job, _, outcome in accepted:
            end = start + job.rows
            outcome.outputs = outputs[start:end].tolist()
            outcome.labels = None if labels is None else labels[start:end].tolist()
            start = end
        if self.monitor is not None:
            self.monitor.add(scored, requests=len(accepted))

    def _count(self, jobs: Sequence[Job], outcomes: Sequence[Outcome]) -> None:
        metrics = self.metrics
        rows: Counter[str] = Counter()
        keys: Counter[str] = Counter()
        for job, outcome in zip(jobs, outcomes, strict=True):
            if outcome.problems:
                for problem in outcome.problems:
                    metrics.rejections.labels(problem.field, problem.kind).inc()
                continue
            rows[job.endpoint] += job.rows
            keys.update(key for row in outcome.unknown for key in row)
        for endpoint, count in rows.items():
            metrics.rows.labels(endpoint).inc(count)
        for key, count in keys.items():
            metrics.unknown_entities.labels(key).inc(count)
        metrics.batch_rows.observe(sum(rows.values()))
