"""Continuous training (factors 6, 10, 11): a sensor that checks every new month and retrains.

Every tick, ``drift_retraining`` reads what was recorded since its cursor and plans runs (pure:
:func:`plan_ticks`):

1. **A new raw month** (a ``raw_flights`` materialization: a new DVC version): one run of
   ``drift_check`` for that partition (``run_key`` = partition @ data version). It refreshes the
   features and the training set, then judges the month: ``month_drift`` (against the
   champion's training rows) and ``month_performance`` (the champion on the month's labels).
2. **Evidence** from those checks and from serving: a ``month_drift`` verdict ``drift``, a
   ``month_performance`` verdict ``below`` (ROC AUC under ``performance.min_roc_auc``), or a
   ``serving_skew`` window with verdict ``drift``. All new evidence of a tick starts ONE run of
   ``retraining`` whose tags carry it (trigger, features, scores, p-values, windows, new data
   versions). Its config makes the newest arrived month the holdout and trains up to
   ``gap_months + 1`` months before it, so the challenger and the champion are scored on the
   newest labelled month and the gate decides. Serving drift alone waits (kept in the cursor)
   until a month newer than the last retraining's holdout has arrived: without new labels, a
   retraining would fit the same data again.

The cursor (JSON: storage ids read up to, events handled, data versions and serving evidence
pending) advances on every tick, so an event starts one run, not one per tick; run keys make it
idempotent even if the cursor is reset.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import json
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import dagster as dg
import pandas as pd

from flight_delays import jobs
from flight_delays import paths as project_paths
from twelve.core.config import load_defaults

_DEFAULTS = load_defaults(project_paths.CONF_DIR / "drift.yaml", "sensor")
RAW_FLIGHTS = dg.AssetKey("raw_flights")
MONTH_DRIFT = dg.AssetKey("month_drift")
MONTH_PERFORMANCE = dg.AssetKey("month_performance")
SERVING_SKEW = dg.AssetKey("serving_skew")
CHECK_JOB = jobs.drift_check_job.name
RETRAINING_JOB = jobs.retraining_job.name
MINIMUM_INTERVAL_SECONDS = int(_DEFAULTS["minimum_interval_seconds"])
GAP_MONTHS = int(_DEFAULTS["gap_months"])
RETRAINING_MIN_ROC_AUC = float(_DEFAULTS["retraining_min_roc_auc"])
HANDLED_KEPT = 500  # events remembered in the cursor (the run keys guard older ones)
FETCH_LIMIT = 1000
TAG_PREFIX = "twelve/"


@dataclass
class RetrainingCursor:
    """What the sensor has already seen.

    Attributes:
        raw_after: storage id of the last ``raw_flights`` materialization read.
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
    def parse(cls, text: str | None) -> "RetrainingCursor":
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

    @classmethod
    def starting_now(cls, instance: dg.DagsterInstance) -> "RetrainingCursor":
        """The cursor of a sensor switched on now: everything recorded so far counts as seen.

        What ``twelve replay`` starts from after its bootstrap (the months that trained the
        first champion are not checked against it).
        """
        latest = {}
        for key in (RAW_FLIGHTS, MONTH_DRIFT, MONTH_PERFORMANCE, SERVING_SKEW):
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key), limit=1, ascending=False
            ).records
            latest[key] = records[0].storage_id if records else 0
        arrived = sorted(instance.get_materialized_partitions(RAW_FLIGHTS))
        return cls(
            raw_after=latest[RAW_FLIGHTS],
            drift_after=latest[MONTH_DRIFT],
            performance_after=latest[MONTH_PERFORMANCE],
            skew_after=latest[SERVING_SKEW],
            last_holdout=arrived[-1][:7] if arrived else "",
            newest_checked=arrived[-1][:7] if arrived else "",
        )


@dataclass(frozen=True)
class DataVersionSeen:
    """A new data version of a raw month."""

    storage_id: int
    partition: str
    data_version: str


@dataclass(frozen=True)
class Finding:
    """A result of ``month_drift``, ``month_performance`` or ``serving_skew``."""

    storage_id: int
    partition: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Evidence:
    """Why a retraining is wanted: one event of one kind, with what shows it."""

    kind: str  # "drift" | "performance" | "serving_drift"
    event: str
    window: str  # the month, or the serving window
    month: str  # the labelled month it concerns ('' for serving evidence)
    features: list[str]
    scores: dict[str, float]
    p_values: dict[str, float]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the cursor while it waits)."""
        return asdict(self)


def drift_evidence(finding: Finding) -> Evidence | None:
    """The evidence of a ``month_drift`` result, None unless its verdict is ``drift``."""
    metadata = finding.metadata
    if metadata.get("verdict") != "drift":
        return None
    return Evidence(
        kind="drift",
        event=f"drift:{metadata['drift_event']}",
        window=str(metadata.get("month", finding.partition[:7])),
        month=str(metadata.get("month", finding.partition[:7])),
        features=list(metadata.get("drifted_features") or []),
        scores=dict(metadata.get("scores") or {}),
        p_values=dict(metadata.get("p_values") or {}),
        detail=f"reference {metadata.get('reference_version', '')}",
    )


def performance_evidence(finding: Finding) -> Evidence | None:
    """The evidence of a ``month_performance`` result, None unless its verdict is ``below``."""
    metadata = finding.metadata
    if metadata.get("verdict") != "below":
        return None
    month = str(metadata.get("month", finding.partition[:7]))
    return Evidence(
        kind="performance",
        event=f"performance:{metadata['performance_event']}",
        window=month,
        month=month,
        features=[],
        scores={"roc_auc": float(metadata["roc_auc"])},
        p_values={},
        detail=(
            f"{metadata.get('model', 'the champion')} ROC AUC {metadata['roc_auc']} < "
            f"{metadata.get('min_roc_auc')}"
        ),
    )


def serving_evidence(finding: Finding) -> Evidence | None:
    """The evidence of a ``serving_skew`` window, None unless its verdict is ``drift``."""
    metadata = finding.metadata
    if metadata.get("verdict") != "drift" or "skew_event" not in metadata:
        return None
    return Evidence(
        kind="serving_drift",
        event=f"serving:{metadata['skew_event']}",
        window=str(metadata.get("serving_window", "")),
        month="",
        features=list(metadata.get("drifted_features") or []),
        scores=dict(metadata.get("scores") or {}),
        p_values=dict(metadata.get("p_values") or {}),
        detail=f"served model {metadata.get('model_version', '')}",
    )


def _tag_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def evidence_tags(evidence: list[Evidence], pending: dict[str, str]) -> dict[str, str]:
    """The run tags of a retraining: why it was started (all values are strings).

    The first drift evidence (else the first of any kind) gives the ``drift_*`` tags; every
    piece is listed in ``twelve/evidence``.
    """
    lead = next((e for e in evidence if e.kind == "drift"), evidence[0])
    kinds = sorted({e.kind for e in evidence})
    return {
        f"{TAG_PREFIX}trigger": ",".join(kinds),
        f"{TAG_PREFIX}events": ",".join(e.event for e in evidence),
        f"{TAG_PREFIX}drift_event": lead.event,
        f"{TAG_PREFIX}drift_window": lead.window,
        f"{TAG_PREFIX}drift_features": ",".join(lead.features),
        f"{TAG_PREFIX}drift_scores": _tag_json(lead.scores),
        f"{TAG_PREFIX}drift_p_values": _tag_json(lead.p_values),
        f"{TAG_PREFIX}drift_reference": lead.detail,
        f"{TAG_PREFIX}evidence": _tag_json([e.to_dict() for e in evidence]),
        f"{TAG_PREFIX}new_data_versions": _tag_json(pending),
    }


def retraining_run_config(
    month: str, gap_months: int = GAP_MONTHS, graph: Any = None
) -> dict[str, Any] | None:
    """Run config of a retraining on the data up to ``month`` (the newest labelled month).

    ``month`` becomes the holdout (on which the challenger and the champion are both scored);
    every pipeline trains up to ``gap_months + 1`` months before it (the gap keeps the 28-day
    carrier late rate of holdout flights free of training labels). The gate's required score
    is ``sensor.retraining_min_roc_auc``: a model of a few months scores lower on one month than
    the full-year model on December (the other gate checks and the champion margin still hold).
    The training block's assets are found in the asset graph by their role tags
    (``twelve.training.config.retraining_run_config``).

    Returns:
        The run config, or None when no training month would be left after the configured first
        training month (the retraining then runs with the YAML defaults).
    """
    from twelve.training import config as training_config

    graph = graph if graph is not None else _asset_graph()
    holdout = pd.Period(month, freq="M")
    last = holdout - (gap_months + 1)
    if last < pd.Period(training_config.first_training_month(graph), freq="M"):
        return None
    return training_config.retraining_run_config(
        graph, str(holdout), str(last), RETRAINING_MIN_ROC_AUC
    )


@cache
def _asset_graph():
    # The project's own definitions (built once per process): the training block's assets and
    # their configured defaults are read from it by role.
    from flight_delays.definitions import build_defs

    return build_defs().resolve_asset_graph()


def check_request(seen: DataVersionSeen) -> dg.RunRequest:
    """The ``drift_check`` run of a new raw month (one per partition and data version)."""
    return dg.RunRequest(
        run_key=f"check:{seen.partition[:7]}@{seen.data_version}",
        job_name=CHECK_JOB,
        partition_key=seen.partition,
        tags={
            f"{TAG_PREFIX}trigger": "new_data",
            f"{TAG_PREFIX}data_version": seen.data_version,
        },
    )


def plan_ticks(
    cursor: RetrainingCursor,
    new_versions: list[DataVersionSeen],
    drift_results: list[Finding],
    performance_results: list[Finding] = (),
    skew_results: list[Finding] = (),
) -> tuple[list[dg.RunRequest], RetrainingCursor]:
    """Decide the runs of one tick (pure).

    Args:
        cursor: the state after the previous tick.
        new_versions: ``raw_flights`` materializations after ``cursor.raw_after``.
        drift_results: ``month_drift`` materializations after ``cursor.drift_after``.
        performance_results: ``month_performance`` materializations after the cursor.
        skew_results: ``serving_skew`` materializations after the cursor.

    Returns:
        One ``drift_check`` request per new raw data version, at most one ``retraining``
        request for all new evidence, and the advanced cursor.
    """
    requests = [check_request(seen) for seen in sorted(new_versions, key=lambda s: s.storage_id)]
    pending = dict(cursor.pending)
    for seen in sorted(new_versions, key=lambda s: s.storage_id):
        pending[seen.partition] = seen.data_version
    handled = list(cursor.handled)
    evidence: list[Evidence] = []
    for results, read in (
        (drift_results, drift_evidence),
        (performance_results, performance_evidence),
    ):
        for finding in sorted(results, key=lambda s: s.storage_id):
            found = read(finding)
            if found and found.event not in handled and found not in evidence:
                evidence.append(found)
    waiting = [Evidence(**item) for item in cursor.serving_pending]
    for finding in sorted(skew_results, key=lambda s: s.storage_id):
        found = serving_evidence(finding)
        if found and found.event not in handled and found not in waiting:
            waiting.append(found)

    # A month is in the training set once it was checked (drift_check refreshed it first).
    checked = [
        str(f.metadata.get("month", f.partition[:7]))
        for f in (*drift_results, *performance_results)
    ]
    newest = max([cursor.newest_checked, *checked])
    if waiting and newest > cursor.last_holdout:
        evidence += waiting  # serving drift joins the retraining once newer labels exist
        waiting = []
    last_holdout = cursor.last_holdout
    if evidence:
        # The newest labelled month: the challenger and the champion are scored on it.
        holdout = max([newest, *(e.month for e in evidence if e.month)])
        tags = evidence_tags(evidence, pending)
        run_config = retraining_run_config(holdout)
        tags[f"{TAG_PREFIX}holdout_month"] = holdout
        tags[f"{TAG_PREFIX}training_window"] = (
            f"up to {run_config['ops']['holdout_set']['config']['month']} (holdout), "
            f"trained to {GAP_MONTHS + 1} month(s) before it"
            if run_config
            else "YAML defaults"
        )
        requests.append(
            dg.RunRequest(
                run_key="retrain:" + "+".join(e.event for e in evidence),
                job_name=RETRAINING_JOB,
                run_config=run_config or {},
                tags=tags,
            )
        )
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


def _records(instance: dg.DagsterInstance, key: dg.AssetKey, after: int):
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after or None),
        limit=FETCH_LIMIT,
        ascending=True,
    )
    return result.records


def _metadata(materialization: dg.AssetMaterialization) -> dict[str, Any]:
    return {key: value.value for key, value in materialization.metadata.items()}


def _findings(instance: dg.DagsterInstance, key: dg.AssetKey, after: int) -> list[Finding]:
    return [
        Finding(
            storage_id=record.storage_id,
            partition=str(record.asset_materialization.partition or ""),
            metadata=_metadata(record.asset_materialization),
        )
        for record in _records(instance, key, after)
    ]


def read_new_events(instance: dg.DagsterInstance, cursor: RetrainingCursor) -> dict[str, Any]:
    """Everything recorded after the cursor (oldest first), as :func:`plan_ticks` takes it."""
    versions = []
    for record in _records(instance, RAW_FLIGHTS, cursor.raw_after):
        materialization = record.asset_materialization
        versions.append(
            DataVersionSeen(
                storage_id=record.storage_id,
                partition=str(materialization.partition),
                data_version=str(materialization.tags.get("dagster/data_version", "")),
            )
        )
    return {
        "new_versions": versions,
        "drift_results": _findings(instance, MONTH_DRIFT, cursor.drift_after),
        "performance_results": _findings(instance, MONTH_PERFORMANCE, cursor.performance_after),
        "skew_results": _findings(instance, SERVING_SKEW, cursor.skew_after),
    }


@dg.sensor(
    name="drift_retraining",
    jobs=[jobs.drift_check_job, jobs.retraining_job],
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Checks every new raw month (a drift_check run: features, month_drift, "
        "month_performance), then starts one retraining per batch of new evidence (month drift, "
        "performance below the minimum, serving drift once newer labels exist). Run tags carry "
        "the evidence (features, scores, p-values, windows, new raw data versions)."
    ),
)
def drift_retraining(context: dg.SensorEvaluationContext):
    """One check per new raw month, one retraining per new evidence; the cursor always advances."""
    try:
        cursor = RetrainingCursor.parse(context.cursor)
    except ValueError as error:
        raise dg.Failure(description=f"{error}: reset the sensor's cursor in the UI") from error
    seen = read_new_events(context.instance, cursor)
    requests, advanced = plan_ticks(cursor, **seen)
    context.update_cursor(advanced.dump())
    if requests:
        for request in requests:
            context.log.info("%s for %s", request.job_name, request.run_key)
        return requests
    return dg.SkipReason(
        f"no new raw month and no new evidence ({len(seen['drift_results'])} drift, "
        f"{len(seen['performance_results'])} performance, {len(seen['skew_results'])} serving "
        f"result(s) read; {len(advanced.serving_pending)} serving finding(s) waiting for labels)"
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The `drift_retraining` sensor and the jobs it starts (`drift_check`, `retraining`)."""
    return dg.Definitions(sensors=[drift_retraining])
