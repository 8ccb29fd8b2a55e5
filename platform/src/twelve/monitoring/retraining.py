"""The retraining sensor's decisions (pure): which runs one tick requests, and its cursor.

Per tick (:func:`plan_ticks`):

1. **A new raw month** (a new data version of an arriving source): one ``drift_check`` run for
   that partition (``run_key`` = month @ data version).
2. **Evidence** (``twelve.monitoring.evidence``): a ``month_drift`` verdict ``drift``, a
   ``month_performance`` verdict ``below``, or a ``serving_skew`` window with verdict ``drift``.
   All new evidence of a tick starts ONE ``retraining`` run whose tags carry it. Its run config
   (:func:`retraining_run_config`) makes the newest labelled month the holdout and trains every
   pipeline up to ``gap_months + 1`` months before it, so the challenger and the champion are
   scored on the newest month and the gate decides. Serving drift alone waits (in the cursor)
   until a month newer than the last retraining's holdout was checked: without new labels, a
   retraining would fit the same data again.

The run config is written for the training block's assets, found by role (``twelve.core.tags``):
every ``trained_model`` gets ``last_month``, every ``model_evaluation`` ``required_score``, the
``holdout`` its ``month`` (:class:`RetrainingTargets`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from twelve.core.jobs import DRIFT_CHECK, RETRAINING
from twelve.monitoring.evidence import (
    TAG_PREFIX,
    DataVersionSeen,
    Evidence,
    Finding,
    drift_evidence,
    evidence_tags,
    performance_evidence,
    serving_evidence,
)

HANDLED_KEPT = 500  # events remembered in the cursor (the run keys guard older ones)


@dataclass
class RetrainingCursor:
    """What the sensor has already seen.

    Attributes:
        raw_after: storage id of the last arriving-source materialization read.
        drift_after: storage id of the last ``month_drift`` materialization read.
        performance_after: storage id of the last ``month_performance`` materialization read.
        skew_after: storage id of the last ``serving_skew`` materialization read.
        handled: events a retraining was requested for (newest last).
        pending: partition -> data version of raw months seen since the last retraining.
        serving_pending: serving drift evidence waiting for a newer labelled month.
        last_holdout: the holdout month of the last retraining requested ('' before any).
        newest_checked: the newest month a drift or performance result was read for.
    """

    raw_after: int = 0
    drift_after: int = 0
    performance_after: int = 0
    skew_after: int = 0
    handled: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    serving_pending: list[dict[str, Any]] = field(default_factory=list)
    last_holdout: str = ""
    newest_checked: str = ""

    @classmethod
    def parse(cls, text: str | None) -> RetrainingCursor:
        """Read a cursor (None or empty: a fresh one).

        Raises:
            ValueError: the text is not a cursor of this sensor.
        """
        if not text:
            return cls()
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as error:
            raise ValueError(f"not a drift_retraining cursor: {text[:200]!r}") from error

    def dump(self) -> str:
        """The cursor as JSON text."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class RetrainingTargets:
    """The training block's ops a retraining configures, and how.

    Attributes:
        holdouts: op names of the assets tagged ``holdout`` (config ``month``).
        models: op names of every ``trained_model`` (config ``last_month``).
        evaluations: op names of every ``model_evaluation`` (config ``required_score``).
        first_month: the earliest first training month of the pipelines ('YYYY-MM').
        gap_months: months left out between the training window and the holdout.
        required_score: the gate's absolute requirement in a retraining (None: the YAML's).
    """

    holdouts: tuple[str, ...]
    models: tuple[str, ...]
    evaluations: tuple[str, ...]
    first_month: str
    gap_months: int = 1
    required_score: float | None = None


def retraining_run_config(month: str, targets: RetrainingTargets) -> dict[str, Any] | None:
    """Run config of a retraining on the data up to ``month`` (the newest labelled month).

    ``month`` becomes the holdout (on which the challenger and the champion are both scored);
    every pipeline trains up to ``gap_months + 1`` months before it (a gap keeps features
    computed over past labels, such as a 28-day late rate, free of holdout labels).

    Returns:
        The run config, or None when no training month would be left after the first training
        month (the retraining then runs with the YAML defaults).
    """
    holdout = pd.Period(month, freq="M")
    last = holdout - (targets.gap_months + 1)
    if last < pd.Period(targets.first_month, freq="M"):
        return None
    ops: dict[str, Any] = {name: {"config": {"month": str(holdout)}} for name in targets.holdouts}
    for name in targets.models:
        ops[name] = {"config": {"last_month": str(last)}}
    if targets.required_score is not None:
        for name in targets.evaluations:
            ops[name] = {"config": {"required_score": targets.required_score}}
    return {"ops": ops}


def check_request(seen: DataVersionSeen) -> dg.RunRequest:
    """The ``drift_check`` run of a new raw month (one per partition and data version)."""
    return dg.RunRequest(
        run_key=f"check:{seen.partition[:7]}@{seen.data_version}",
        job_name=DRIFT_CHECK,
        partition_key=seen.partition,
        tags={
            f"{TAG_PREFIX}trigger": "new_data",
            f"{TAG_PREFIX}data_version": seen.data_version,
        },
    )


def _new_evidence(
    handled: list[str],
    drift_results: Sequence[Finding],
    performance_results: Sequence[Finding],
) -> list[Evidence]:
    evidence: list[Evidence] = []
    for results, read in (
        (drift_results, drift_evidence),
        (performance_results, performance_evidence),
    ):
        for finding in sorted(results, key=lambda s: s.storage_id):
            found = read(finding)
            if found and found.event not in handled and found not in evidence:
                evidence.append(found)
    return evidence


def _waiting_serving(cursor: RetrainingCursor, skew_results: Sequence[Finding]) -> list[Evidence]:
    waiting = [Evidence(**item) for item in cursor.serving_pending]
    for finding in sorted(skew_results, key=lambda s: s.storage_id):
        found = serving_evidence(finding)
        if found and found.event not in cursor.handled and found not in waiting:
            waiting.append(found)
    return waiting


def retraining_request(
    evidence: list[Evidence], holdout: str, pending: dict[str, str], targets: RetrainingTargets
) -> dg.RunRequest:
    """The one ``retraining`` run of a tick's evidence, holdout = ``holdout``."""
    tags = evidence_tags(evidence, pending)
    run_config = retraining_run_config(holdout, targets)
    tags[f"{TAG_PREFIX}holdout_month"] = holdout
    tags[f"{TAG_PREFIX}training_window"] = (
        f"up to {holdout} (holdout), trained to {targets.gap_months + 1} month(s) before it"
        if run_config
        else "YAML defaults"
    )
    return dg.RunRequest(
        run_key="retrain:" + "+".join(e.event for e in evidence),
        job_name=RETRAINING,
        run_config=run_config or {},
        tags=tags,
    )


def plan_ticks(
    cursor: RetrainingCursor,
    targets: RetrainingTargets,
    new_versions: Sequence[DataVersionSeen] = (),
    drift_results: Sequence[Finding] = (),
    performance_results: Sequence[Finding] = (),
    skew_results: Sequence[Finding] = (),
) -> tuple[list[dg.RunRequest], RetrainingCursor]:
    """Decide the runs of one tick (pure).

    Args:
        cursor: the state after the previous tick.
        targets: what a retraining configures (:class:`RetrainingTargets`).
        new_versions: arriving-source materializations after ``cursor.raw_after``.
        drift_results: ``month_drift`` materializations after ``cursor.drift_after``.
        performance_results: ``month_performance`` materializations after the cursor.
        skew_results: ``serving_skew`` materializations after the cursor.

    Returns:
        One ``drift_check`` request per new raw data version, at most one ``retraining``
        request for all new evidence, and the advanced cursor.
    """
    arrived = sorted(new_versions, key=lambda s: s.storage_id)
    requests = [check_request(seen) for seen in arrived]
    pending = {**cursor.pending, **{seen.partition: seen.data_version for seen in arrived}}
    handled = list(cursor.handled)
    evidence = _new_evidence(handled, drift_results, performance_results)
    waiting = _waiting_serving(cursor, skew_results)
    # A month is in the training set once it was checked (drift_check refreshed it first).
    checked = [f.month for f in (*drift_results, *performance_results)]
    newest = max([cursor.newest_checked, *checked])
    if waiting and newest > cursor.last_holdout:
        evidence += waiting  # serving drift joins the retraining once newer labels exist
        waiting = []
    last_holdout = cursor.last_holdout
    if evidence:
        # The newest labelled month: the challenger and the champion are scored on it.
        holdout = max([newest, *(e.month for e in evidence if e.month)])
        requests.append(retraining_request(evidence, holdout, pending, targets))
        handled += [e.event for e in evidence]
        pending = {}  # the retraining sees them: the next one lists only newer versions
        last_holdout = max(holdout, cursor.last_holdout)

    def after(previous: int, results) -> int:
        return max([previous, *(s.storage_id for s in results)])

    return requests, RetrainingCursor(
        raw_after=after(cursor.raw_after, new_versions),
        drift_after=after(cursor.drift_after, drift_results),
        performance_after=after(cursor.performance_after, performance_results),
        skew_after=after(cursor.skew_after, skew_results),
        handled=handled[-HANDLED_KEPT:],
        pending=pending,
        serving_pending=[e.to_dict() for e in waiting],
        last_holdout=last_holdout,
        newest_checked=newest,
    )
