"""Continuous training (factors 6 and 10): a sensor that starts one retraining per drift event.

Every tick, ``drift_retraining`` reads what happened since its cursor:

- new data versions: materializations of ``raw_flights`` partitions (the DVC md5 is the data
  version); they are remembered until the next retraining, whose tags list them;
- drift results: materializations of ``month_drift``; one whose verdict is ``drift`` and whose
  event (the month judged against one training-set version, ``drift_event``) was not handled yet
  requests ONE run of the retraining job, with ``run_key`` = the event and tags carrying the
  evidence (month, features, scores, adjusted p-values, reference version, new data versions).
  The run's config makes the drifted month the holdout and trains up to the month before the
  gap, so the challenger and the champion are scored on the newest labelled month.

The cursor (JSON: storage ids read up to, events handled, data versions pending) advances on
every tick, so a drift event starts one run, not one per tick; the run key makes it idempotent
even if the cursor is reset.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from flight_delays import paths as project_paths
from twelve.config import load_defaults

_DEFAULTS = load_defaults(project_paths.CONF_DIR / "drift.yaml", "sensor")
RAW_FLIGHTS = dg.AssetKey("raw_flights")
MONTH_DRIFT = dg.AssetKey("month_drift")
# The job a drift event starts: the unpartitioned golden path rebuilds features, the training
# set, the model, its evaluation and gated alias, and the bento (definitions.py).
RETRAINING_JOB = _DEFAULTS["job"]
MINIMUM_INTERVAL_SECONDS = int(_DEFAULTS["minimum_interval_seconds"])
GAP_MONTHS = int(_DEFAULTS["gap_months"])
HANDLED_KEPT = 500  # events remembered in the cursor (the run key guards older ones)
FETCH_LIMIT = 1000
TAG_PREFIX = "twelve/"


@dataclass
class RetrainingCursor:
    """What the sensor has already seen.

    Attributes:
        raw_after: storage id of the last ``raw_flights`` materialization read.
        drift_after: storage id of the last ``month_drift`` materialization read.
        handled: drift events a run was requested for (newest last).
        pending: partition -> data version of raw months seen since the last retraining.
    """

    raw_after: int = 0
    drift_after: int = 0
    handled: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)

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


@dataclass(frozen=True)
class DataVersionSeen:
    """A new data version of a raw month."""

    storage_id: int
    partition: str
    data_version: str


@dataclass(frozen=True)
class DriftSeen:
    """A ``month_drift`` result."""

    storage_id: int
    partition: str
    metadata: dict[str, Any]


def _tag_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def evidence_tags(finding: DriftSeen, pending: dict[str, str]) -> dict[str, str]:
    """The run tags of a retraining: why it was started (all values are strings)."""
    metadata = finding.metadata
    return {
        f"{TAG_PREFIX}trigger": "drift",
        f"{TAG_PREFIX}drift_event": str(metadata["drift_event"]),
        f"{TAG_PREFIX}drift_window": str(metadata.get("month", finding.partition[:7])),
        f"{TAG_PREFIX}drift_verdict": str(metadata["verdict"]),
        f"{TAG_PREFIX}drift_features": ",".join(metadata.get("drifted_features") or []),
        f"{TAG_PREFIX}drift_scores": _tag_json(metadata.get("scores") or {}),
        f"{TAG_PREFIX}drift_p_values": _tag_json(metadata.get("p_values") or {}),
        f"{TAG_PREFIX}drift_reference": str(metadata.get("reference_version", "")),
        f"{TAG_PREFIX}new_data_versions": _tag_json(pending),
    }


def retraining_run_config(month: str, gap_months: int = GAP_MONTHS) -> dict[str, Any] | None:
    """Run config of a retraining on the data up to the drifted month.

    The drifted month becomes the holdout (the newest labelled data, on which the challenger and
    the champion are both scored); every pipeline trains up to ``gap_months + 1`` months before
    it (the gap keeps the 28-day carrier late rate of holdout flights free of training labels).

    Returns:
        The run config, or None when no training month would be left after the configured first
        training month (the retraining then runs with the YAML defaults).
    """
    from flight_delays.config_training import TrainingConfig, pipeline_specs

    holdout = pd.Period(month, freq="M")
    last = holdout - (gap_months + 1)
    if last < pd.Period(TrainingConfig().first_month, freq="M"):
        return None
    ops: dict[str, Any] = {"holdout_set": {"config": {"month": str(holdout)}}}
    for spec in pipeline_specs():
        ops[spec.asset("trained_model")] = {"config": {"last_month": str(last)}}
    return {"ops": ops}


def plan_retraining(
    cursor: RetrainingCursor,
    new_versions: list[DataVersionSeen],
    drift_results: list[DriftSeen],
    job_name: str = RETRAINING_JOB,
) -> tuple[list[dg.RunRequest], RetrainingCursor]:
    """Decide the runs of one tick (pure).

    Args:
        cursor: the state after the previous tick.
        new_versions: ``raw_flights`` materializations after ``cursor.raw_after``.
        drift_results: ``month_drift`` materializations after ``cursor.drift_after``, oldest
            first.
        job_name: the retraining job.

    Returns:
        One run request per new drift event, and the advanced cursor.
    """
    pending = dict(cursor.pending)
    for seen in sorted(new_versions, key=lambda s: s.storage_id):
        pending[seen.partition] = seen.data_version
    handled = list(cursor.handled)
    requests = []
    for finding in sorted(drift_results, key=lambda s: s.storage_id):
        if finding.metadata.get("verdict") != "drift":
            continue
        event = str(finding.metadata["drift_event"])
        if event in handled:
            continue
        handled.append(event)
        tags = evidence_tags(finding, pending)
        run_config = retraining_run_config(tags[f"{TAG_PREFIX}drift_window"])
        tags[f"{TAG_PREFIX}training_window"] = (
            "up to the drifted month (holdout = that month)" if run_config else "YAML defaults"
        )
        requests.append(
            dg.RunRequest(
                run_key=f"drift:{event}",
                job_name=job_name,
                run_config=run_config or {},
                tags=tags,
            )
        )
        pending = {}  # the retraining sees them: the next one lists only newer versions
    return requests, RetrainingCursor(
        raw_after=max([cursor.raw_after, *(s.storage_id for s in new_versions)]),
        drift_after=max([cursor.drift_after, *(s.storage_id for s in drift_results)]),
        handled=handled[-HANDLED_KEPT:],
        pending=pending,
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


def read_new_events(
    instance: dg.DagsterInstance, cursor: RetrainingCursor
) -> tuple[list[DataVersionSeen], list[DriftSeen]]:
    """The raw data versions and drift results recorded after the cursor (oldest first)."""
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
    findings = [
        DriftSeen(
            storage_id=record.storage_id,
            partition=str(record.asset_materialization.partition),
            metadata=_metadata(record.asset_materialization),
        )
        for record in _records(instance, MONTH_DRIFT, cursor.drift_after)
    ]
    return versions, findings


@dg.sensor(
    name="drift_retraining",
    job_name=RETRAINING_JOB,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Starts one retraining run (the golden path) per drift event: a `month_drift` result "
        "with verdict drift not handled yet. Run tags carry the evidence (month, features, "
        "scores, p-values, reference, new raw data versions)."
    ),
)
def drift_retraining(context: dg.SensorEvaluationContext):
    """One retraining per drift event, evidence in the run tags; the cursor advances every tick."""
    try:
        cursor = RetrainingCursor.parse(context.cursor)
    except ValueError as error:
        raise dg.Failure(description=f"{error}: reset the sensor's cursor in the UI") from error
    versions, findings = read_new_events(context.instance, cursor)
    requests, advanced = plan_retraining(cursor, versions, findings)
    context.update_cursor(advanced.dump())
    if requests:
        for request in requests:
            context.log.info("retraining for drift event %s", request.run_key)
        return requests
    return dg.SkipReason(
        f"no new drift event ({len(findings)} drift result(s), {len(versions)} new raw data "
        f"version(s) read; {len(advanced.pending)} waiting for the next retraining)"
    )


def defs() -> dg.Definitions:
    """The `drift_retraining` sensor; its job (`golden_path`) is defined in definitions.py."""
    return dg.Definitions(sensors=[drift_retraining])
