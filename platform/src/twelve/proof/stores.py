"""The audit's reads of BentoML's store and the Dagster instance (see :mod:`twelve.proof.gather`).

The bento: the one built for the champion's model tag (recorded on the MLflow version as
``bento_tag``, else found in the store), its container recipe, the contract it validates with,
and a hash of the model inside next to one of the registered model. The instance: the newest
arrived data version, the drift checks, the serving-window check, and the retraining sensor's
ticks (the daemon's) and runs (the daemon's and ``twelve replay``'s).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg
    from mlflow import MlflowClient

    from twelve.deploy.bento import BentoResource
    from twelve.deploy.registry import ModelVersionRef

from twelve.core.project import Project
from twelve.proof.evidence import Arrival, BentoFacts, DriftCheck, Evidence

log = logging.getLogger(__name__)

ARRIVAL_JOB = "monthly_arrival"  # twelve.core.jobs.MONTHLY_ARRIVAL (not imported: it loads Dagster)
SENSOR = "drift_retraining"  # twelve.monitoring.sensor.SENSOR_NAME
SENSOR_TAG = "dagster/sensor_name"


# ------------------------------------------------------------------------------------ BentoML
def _bento_path(home: Path, model_tag: str, recorded: str) -> Path | None:
    from twelve.deploy.store import bento_dir, bento_exists

    if recorded and bento_exists(home, recorded):
        return bento_dir(home, recorded)
    built = [
        path.parent
        for path in (home / "bentos").glob("*/*/bento.yaml")
        if model_tag in path.read_text()
    ]
    return max(built, key=lambda path: path.stat().st_mtime) if built else None


def _model_folder(home: Path, bento: Path, model_tag: str) -> Path:
    """The model inside the bento (what it serves), else the model store's copy."""
    from twelve.deploy.store import model_dir

    inside = model_dir(bento, model_tag)
    return inside if (inside / "model.yaml").is_file() else model_dir(home, model_tag)


def bento_facts(
    evidence: Evidence, bentoml_resource: BentoResource, client: MlflowClient
) -> BentoFacts | None:
    """The champion's bento, or None (noted) when the store holds none."""
    from twelve.deploy.container import IMAGE_ID_KEY, IMAGE_KEY
    from twelve.deploy.registry import ModelVersionRef
    from twelve.deploy.store import bentoml_model_tag
    from twelve.serving.model import CONTRACT_FILE, PIPELINE_FILE
    from twelve.training.runs import MLFLOW_TYPES

    ref = ModelVersionRef(
        evidence.registered_model, str(evidence.champion_version), str(evidence.run_id)
    )
    model_tag = bentoml_model_tag(ref)
    home = bentoml_resource.resolved_home()
    version = client.get_model_version(ref.registered_model, ref.version)
    path = _bento_path(home, model_tag, (version.tags or {}).get("bento_tag", ""))
    if path is None:
        evidence.notes.append(f"no bento in {home / 'bentos'} embeds {model_tag}")
        return None
    facts = BentoFacts(
        tag=f"{path.parent.name}:{path.name}",
        model_tag=model_tag,
        dockerfile=(path / "env" / "docker" / "Dockerfile").is_file(),
        image=(version.tags or {}).get(IMAGE_KEY, ""),
        image_id=(version.tags or {}).get(IMAGE_ID_KEY, ""),
    )
    model = _model_folder(home, path, model_tag)
    contract = model / CONTRACT_FILE
    if contract.is_file():
        facts.contract_columns = [
            (column["name"], MLFLOW_TYPES.get(column["dtype"], column["dtype"]))
            for column in json.loads(contract.read_text()).get("columns", [])
        ]
    if (model / PIPELINE_FILE).is_file():
        facts.model_hash, facts.registered_hash = _model_hashes(model / PIPELINE_FILE, ref)
    return facts


def _model_hashes(pipeline_file: Path, ref: ModelVersionRef) -> tuple[str, str]:
    """Joblib's content hash of the pipeline in the bento and of the registered model.

    The bento stores the pipeline re-dumped with joblib and MLflow stores its own serialization,
    so the files differ byte for byte; the fitted objects' hashes are equal when the model is.
    """
    import joblib
    import mlflow.sklearn

    served = joblib.hash(joblib.load(pipeline_file))
    uri = f"models:/{ref.registered_model}/{ref.version}"
    registered = joblib.hash(mlflow.sklearn.load_model(uri))
    return served, registered


# ------------------------------------------------------------------------------------ Dagster
def _belongs(key: dg.AssetKey, project: Project) -> bool:
    """Whether an asset key is the project's (its prefix; the first project has none)."""
    return list(key.path[:-1]) == ([project.asset_prefix] if project.asset_prefix else [])


def dagster_facts(evidence: Evidence, project: Project) -> None:
    """Arrivals, drift checks, the serving-window check and the sensor, from DAGSTER_HOME."""
    if not os.environ.get("DAGSTER_HOME"):
        evidence.notes.append("DAGSTER_HOME is not set: the Dagster instance was not read")
        return
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        evidence.newest_arrival = newest_arrival(instance, project)
        evidence.drift_checks = drift_checks(instance, project.key("month_drift"))
        skew = instance.get_latest_materialization_event(project.key("serving_skew"))
        if skew is not None and skew.asset_materialization is not None:
            metadata = skew.asset_materialization.metadata
            count = metadata.get("serving_profiles")
            evidence.serving_skew_profiles = int(str(count.value)) if count is not None else None
        evidence.sensor_ticks = sensor_ticks(instance, SENSOR)
        evidence.sensor_runs = instance.get_runs_count(dg.RunsFilter(tags={SENSOR_TAG: SENSOR}))


def newest_arrival(instance: dg.DagsterInstance, project: Project) -> Arrival | None:
    """The newest partition an arrival run materialized, with its raw data version."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    newest: Arrival | None = None
    for run in instance.get_runs(
        dg.RunsFilter(job_name=ARRIVAL_JOB, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=500
    ):
        partition = run.tags.get("dagster/partition", "")
        if newest is not None and partition <= newest.month:
            continue
        for record in instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            event = record.event_log_entry
            materialization = event.asset_materialization
            if materialization is None or not _belongs(materialization.asset_key, project):
                continue
            version = (
                materialization.tags.get("dagster/data_version", "") if materialization.tags else ""
            )
            # The raw source first: its data version is its DVC md5 (its profile's is derived).
            if version and (
                newest is None or newest.month != partition or "profile" in newest.asset
            ):
                newest = Arrival(
                    materialization.asset_key.to_user_string(), partition, version, event.timestamp
                )
    return newest


def drift_checks(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[DriftCheck]:
    """Every materialization of the drift check (newest first): month and verdict."""
    import dagster as dg

    found = []
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=500)
    for record in records.records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        verdict = materialization.metadata.get("verdict")
        found.append(
            DriftCheck(
                month=materialization.partition or "",
                verdict=str(verdict.value) if verdict is not None else "",
                timestamp=record.timestamp,
            )
        )
    return found


def sensor_ticks(instance: dg.DagsterInstance, name: str) -> dict[str, int]:
    """Tick status -> count of every sensor named ``name`` the daemon evaluated."""
    counts: dict[str, Any] = {}
    for state in instance.all_instigator_state():
        if state.name != name:
            continue
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=10_000):
            counts[tick.status.value] = counts.get(tick.status.value, 0) + 1
    return counts
