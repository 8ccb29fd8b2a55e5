"""Continuous training (factors 6, 10, 11): the ``drift_retraining`` sensor, a thin decorator.

Every tick it reads what was recorded since its cursor (new data versions of the arriving raw
sources, the results of ``month_drift``, ``month_performance`` and ``serving_skew``) and lets
:func:`twelve.monitoring.retraining.plan_ticks` decide (pure). What it watches and what a
retraining configures are found in the code location's asset graph by role tags, never by name:
the sensor is the same for every project. The cursor advances on every tick, so an event starts
one run, not one per tick; run keys make it idempotent even if the cursor is reset.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
from dataclasses import dataclass
from typing import Any

import dagster as dg

from twelve.core import tags
from twelve.core.project import Project
from twelve.monitoring.evidence import DataVersionSeen, Finding
from twelve.monitoring.retraining import RetrainingCursor, RetrainingTargets, plan_ticks

SENSOR_NAME = "drift_retraining"
FETCH_LIMIT = 1000
GAP_MONTHS, REQUIRED_SCORE = "gap_months", "retraining_required_score"


@dataclass(frozen=True)
class WatchedKeys:
    """The assets the sensor reads: arriving sources and the three checks."""

    arrivals: tuple[dg.AssetKey, ...]
    drift: dg.AssetKey
    performance: dg.AssetKey
    skew: dg.AssetKey


def _by_role(asset_graph, role: str) -> list[dg.AssetKey]:
    keys = asset_graph.get_all_asset_keys()
    return sorted(k for k in keys if asset_graph.get(k).tags.get(tags.ROLE) == role)


def watched_keys(project: Project, asset_graph) -> WatchedKeys:
    """The arriving raw sources and the project's check assets.

    The sources are the ``arrival`` assets with no ``arrival`` parent (not their profiles).
    """
    arriving = set(_by_role(asset_graph, tags.ARRIVAL))
    sources = [k for k in sorted(arriving) if not set(asset_graph.get(k).parent_keys) & arriving]
    return WatchedKeys(
        arrivals=tuple(sources),
        drift=project.key("month_drift"),
        performance=project.key("month_performance"),
        skew=project.key("serving_skew"),
    )


def _op_name(asset_graph, key: dg.AssetKey) -> str:
    return asset_graph.get(key).assets_def.node_def.name


def _config_default(asset_graph, key: dg.AssetKey, name: str) -> Any:
    """The default of a config field of an asset's op (None when it has no such default)."""
    config_field = asset_graph.get(key).assets_def.op.config_field
    fields = getattr(config_field.config_type, "fields", {}) if config_field else {}
    found = fields.get(name)
    return found.default_value if found is not None and found.default_provided else None


def retraining_targets(
    project: Project, asset_graph, gap_months: int, required_score: float | None
) -> RetrainingTargets:
    """What a retraining configures: the training block's assets, by role.

    The first training month is the latest default ``first_month`` of the pipelines (each keeps
    at least one training month), else the project's first month.

    Raises:
        ValueError: the code location has no holdout or no trained model (no training block).
    """
    holdouts = _by_role(asset_graph, tags.HOLDOUT)
    models = _by_role(asset_graph, tags.TRAINED_MODEL)
    if not holdouts or not models:
        raise ValueError(
            f"no asset tagged {tags.ROLE}={tags.HOLDOUT} or ={tags.TRAINED_MODEL}: the retraining "
            "sensor needs the training block in the code location"
        )
    firsts = [_config_default(asset_graph, key, "first_month") for key in models]
    return RetrainingTargets(
        holdouts=tuple(_op_name(asset_graph, key) for key in holdouts),
        models=tuple(_op_name(asset_graph, key) for key in models),
        evaluations=tuple(
            _op_name(asset_graph, key) for key in _by_role(asset_graph, tags.MODEL_EVALUATION)
        ),
        first_month=max([str(m) for m in firsts if m] or [project.months[0]]),
        gap_months=gap_months,
        required_score=required_score,
    )


def sensor_targets(defs: dg.Definitions, project: Project) -> RetrainingTargets:
    """What the project's sensor configures a retraining with (its settings are its metadata)."""
    metadata: dict[str, Any] = {
        k: v.value for k, v in defs.resolve_sensor_def(SENSOR_NAME).metadata.items()
    }
    required = metadata.get(REQUIRED_SCORE)
    return retraining_targets(
        project,
        defs.resolve_asset_graph(),
        int(metadata[GAP_MONTHS]),
        None if required is None else float(required),
    )


def _records(instance: dg.DagsterInstance, key: dg.AssetKey, after: int):
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after or None),
        limit=FETCH_LIMIT,
        ascending=True,
    ).records


def _findings(instance: dg.DagsterInstance, key: dg.AssetKey, after: int) -> list[Finding]:
    return [
        Finding(
            storage_id=record.storage_id,
            partition=str(record.asset_materialization.partition or ""),
            metadata={k: v.value for k, v in record.asset_materialization.metadata.items()},
        )
        for record in _records(instance, key, after)
    ]


def read_new_events(
    instance: dg.DagsterInstance, cursor: RetrainingCursor, keys: WatchedKeys
) -> dict[str, Any]:
    """Everything recorded after the cursor (oldest first), as ``plan_ticks`` takes it."""
    versions = [
        DataVersionSeen(
            storage_id=record.storage_id,
            partition=str(record.asset_materialization.partition),
            data_version=str(record.asset_materialization.tags.get("dagster/data_version", "")),
        )
        for key in keys.arrivals
        for record in _records(instance, key, cursor.raw_after)
    ]
    return {
        "new_versions": sorted(versions, key=lambda seen: seen.storage_id),
        "drift_results": _findings(instance, keys.drift, cursor.drift_after),
        "performance_results": _findings(instance, keys.performance, cursor.performance_after),
        "skew_results": _findings(instance, keys.skew, cursor.skew_after),
    }


def starting_now(instance: dg.DagsterInstance, keys: WatchedKeys) -> RetrainingCursor:
    """The cursor of a sensor switched on now: everything recorded so far counts as seen.

    What ``twelve replay`` starts from after its bootstrap (the months that trained the first
    champion are not checked against it).
    """

    def latest(key: dg.AssetKey) -> int:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key), limit=1, ascending=False
        ).records
        return records[0].storage_id if records else 0

    arrived = sorted(p for key in keys.arrivals for p in instance.get_materialized_partitions(key))
    newest = arrived[-1][:7] if arrived else ""
    return RetrainingCursor(
        raw_after=max([0, *(latest(key) for key in keys.arrivals)]),
        drift_after=latest(keys.drift),
        performance_after=latest(keys.performance),
        skew_after=latest(keys.skew),
        last_holdout=newest,
        newest_checked=newest,
    )


def retraining_sensor(
    project: Project,
    jobs: list,
    *,
    minimum_interval_seconds: int,
    gap_months: int,
    required_score: float | None,
) -> dg.SensorDefinition:
    """The ``drift_retraining`` sensor of a project (stopped by default: switch it on in the UI)."""

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=jobs,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        # What a retraining is given, shown in the UI and read by `twelve replay`'s bootstrap.
        metadata={
            GAP_MONTHS: gap_months,
            **({REQUIRED_SCORE: required_score} if required_score is not None else {}),
        },
        description=(
            "Checks every new raw month (a drift_check run: features, month_drift, "
            "month_performance), then starts one retraining per batch of new evidence (month "
            "drift, performance worse than required, serving drift once newer labels exist). Run "
            "tags carry the evidence (features, scores, p-values, windows, new raw data versions)."
        ),
    )
    def drift_retraining(context: dg.SensorEvaluationContext):
        """One check per new raw month, one retraining per new evidence; the cursor advances."""
        try:
            cursor = RetrainingCursor.parse(context.cursor)
        except ValueError as error:
            raise dg.Failure(description=f"{error}: reset the sensor's cursor in the UI") from error
        if context.repository_def is None:
            raise dg.Failure(description="the sensor needs its code location's definitions")
        graph = context.repository_def.asset_graph
        seen = read_new_events(context.instance, cursor, watched_keys(project, graph))
        targets = retraining_targets(project, graph, gap_months, required_score)
        requests, advanced = plan_ticks(cursor, targets, **seen)
        context.update_cursor(advanced.dump())
        if requests:
            for request in requests:
                context.log.info("%s for %s", request.job_name, request.run_key)
            return requests
        return dg.SkipReason(
            f"no new raw month and no new evidence ({len(seen['drift_results'])} drift, "
            f"{len(seen['performance_results'])} performance, {len(seen['skew_results'])} serving "
            f"result(s) read; {len(advanced.serving_pending)} serving finding(s) waiting for "
            "labels)"
        )

    return drift_retraining
