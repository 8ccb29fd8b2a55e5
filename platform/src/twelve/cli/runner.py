"""Run a project's golden path through Dagster, materializing only what is stale or missing.

This is what ``make demo`` and ``twelve run`` call. Every step is a real Dagster run recorded in
the instance (``DAGSTER_HOME``), so the UI shows it afterwards. Root assets that ingest a source
are always re-run (they are cheap and are how new data is noticed); downstream assets run only when
Dagster's data versions say they are stale (an upstream data version, code version or dependency
changed) or missing, which is how unchanged data is not reprocessed (factor 4 without waste).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg

log = logging.getLogger(__name__)


@dataclass
class Step:
    """One Dagster run of the plan: a job, an optional partition, the assets it materializes."""

    job: str
    assets: list[dg.AssetKey]
    partition: str | None = None
    seconds: float = 0.0
    run_id: str = ""

    @property
    def label(self) -> str:
        """The step as logged: ``job[partition] asset, asset``."""
        names = ", ".join(key.to_user_string() for key in self.assets)
        return f"{self.job}[{self.partition}] {names}" if self.partition else f"{self.job} {names}"


@dataclass
class RunSummary:
    """What a golden-path run did: the steps that ran and the assets found fresh and skipped."""

    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _stale_resolver(instance: dg.DagsterInstance, defs: dg.Definitions):
    # Dagster's own staleness logic (what the UI shows as "Stale"); internal API, pinned version.
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._core.definitions.data_version import CachingStaleStatusResolver
    from dagster._time import get_current_datetime

    asset_graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    return CachingStaleStatusResolver(
        instance=instance, asset_graph=asset_graph, loading_context=view
    )


def needs_run(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    keys: Sequence[dg.AssetKey],
    partition: str | None = None,
) -> list[dg.AssetKey]:
    """The keys (of ``keys``) that are stale or missing, for one partition or unpartitioned.

    Root assets (no upstream) are always included: ingesting is how a changed source is noticed.
    """
    from dagster._core.definitions.data_version import StaleStatus

    resolver = _stale_resolver(instance, defs)
    graph = defs.resolve_asset_graph()
    selected = []
    for key in keys:
        is_root = not graph.get(key).parent_keys
        status = resolver.get_status(key, partition)
        if is_root or status in (StaleStatus.STALE, StaleStatus.MISSING):
            selected.append(key)
    return selected


def run_golden_path(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    partitioned_job: str | None,
    partitions: Sequence[str],
    main_job: str,
    force: bool = False,
    progress: Callable[[str], None] = log.info,
    dagster_log_level: str = "WARNING",
    run_config: dict | None = None,
) -> RunSummary:
    """Materialize every partition of the partitioned job, then the main job, stale-only.

    Args:
        defs: the project's definitions.
        instance: the Dagster instance that records the runs.
        partitioned_job: job of the assets partitioned like the arriving data; None for a project
            without one (a project made by `twelve new`: one unpartitioned ``main_job``).
        partitions: partition keys to run, oldest first.
        main_job: job of everything downstream that is not partitioned.
        force: materialize everything, stale or not.
        progress: called with a human-readable line per step.
        dagster_log_level: level of Dagster's console logger during the runs.
        run_config: run config of the main job's runs (``{"ops": {asset: {"config": ...}}}``),
            only the entries of the assets a run selects are passed to it.

    Returns:
        The steps run, the assets skipped as fresh, and the wall time.

    Raises:
        dagster.DagsterExecutionStepExecutionError: a step failed (the run is in the instance).
    """
    started = time.perf_counter()
    summary = RunSummary()

    def job_keys(name: str) -> list[dg.AssetKey]:
        # Dagster orders the steps inside a run itself; sorting only keeps the progress readable.
        return sorted(defs.resolve_job_def(name).asset_layer.selected_asset_keys)

    def execute(step: Step, total: int) -> None:
        progress(f"[{len(summary.steps) + 1}/{total}] {step.label} ...")
        t0 = time.perf_counter()
        result = defs.resolve_job_def(step.job).execute_in_process(
            instance=instance,
            partition_key=step.partition,
            asset_selection=step.assets,
            # Dagster's per-event DEBUG lines drown the progress; they stay in the run's logs.
            run_config=_run_config_for(
                step, run_config if step.job == main_job else None, dagster_log_level
            ),
        )
        step.seconds = time.perf_counter() - t0
        step.run_id = result.run_id
        summary.steps.append(step)
        progress(f"    done in {step.seconds:.1f} s (run {result.run_id[:8]})")

    if partitioned_job is None and partitions:
        raise ValueError(f"partitions {list(partitions)} given without a partitioned job")
    partitioned_keys = job_keys(partitioned_job) if partitioned_job else []
    planned: list[Step] = []
    for partition in partitions:
        keys = partitioned_keys if force else needs_run(instance, defs, partitioned_keys, partition)
        summary.skipped += [
            f"{k.to_user_string()}[{partition}]" for k in partitioned_keys if k not in keys
        ]
        if keys:
            assert partitioned_job is not None  # partitions without one were refused above
            planned.append(Step(partitioned_job, keys, partition))
    total = len(planned) + 1
    for step in planned:
        execute(step, total)

    # Root assets of the main job (source ingestion) run first, in their own run: the staleness of
    # everything downstream depends on the data versions they and the partitioned runs produce.
    graph = defs.resolve_asset_graph()
    main_keys = job_keys(main_job)
    roots = [key for key in main_keys if not graph.get(key).parent_keys]
    if roots:
        execute(Step(main_job, roots), len(summary.steps) + 2)
    rest = [key for key in main_keys if key not in roots]
    keys = rest if force else needs_run(instance, defs, rest)
    summary.skipped += [k.to_user_string() for k in rest if k not in keys]
    if keys:
        execute(Step(main_job, keys), len(summary.steps) + 1)
    else:
        progress("everything downstream is fresh: nothing more to run")
    summary.seconds = time.perf_counter() - started
    return summary


def quiet_loggers(log_level: str = "WARNING") -> dict:
    """The ``loggers`` run config that sets Dagster's console logger level.

    Dagster's per-event DEBUG lines drown a command's progress; they stay in the run's logs.
    """
    return {"console": {"config": {"log_level": log_level}}}


def _run_config_for(step: Step, run_config: dict | None, log_level: str) -> dict:
    # Dagster refuses config for ops outside the run's selection: keep only the selected ones.
    selected = {key.to_python_identifier() for key in step.assets}
    ops = {
        name: cfg for name, cfg in ((run_config or {}).get("ops") or {}).items() if name in selected
    }
    config: dict = {"loggers": quiet_loggers(log_level)}
    if ops:
        config["ops"] = ops
    return config
