"""Read a project's run state into an :class:`~twelve.proof.evidence.Evidence` (the audit's input).

One function per source; each reads only, and turns "this source is unreachable" into a note and
a ``None`` (the rules then fail or warn, naming it) instead of an exception, so one broken store
does not hide the other eleven factors. Errors that are not about reaching a source propagate.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from twelve.data.versioning import DvcResource
    from twelve.features.feast import FeastResource
    from twelve.monitoring.profiling import ProfileStore
    from twelve.proof.testing_evidence import RecordedTests
    from twelve.training.tracking import MlflowResource

from twelve.core import paths
from twelve.core.project import Project
from twelve.proof.evidence import (
    Arrival,
    BentoFacts,
    DataVersion,
    DriftCheck,
    Evidence,
    Reproduction,
    ServedProfile,
)
from twelve.proof.stores import bento_facts, dagster_facts

log = logging.getLogger(__name__)

__all__ = ["Arrival", "BentoFacts", "DriftCheck", "documented", "gather"]


def gather(project: Project, stores: dict[str, Any] | None = None) -> Evidence:
    """Everything the audit judges, read from the project's stores.

    Args:
        project: the audited project.
        stores: its resources (``mlflow``, ``dvc``, ``feast``, ``bentoml``); default the ones its
            ``defs/`` resolve (:func:`twelve.core.resources.project_resources`).

    Returns:
        The evidence; what could not be read is None and explained in ``notes``.
    """
    if stores is None:
        from twelve.core.resources import project_resources

        stores = project_resources(project)
    evidence = Evidence(
        project=project.name,
        registered_model=project.registered_model,
        feature_service=project.feature_service,
    )
    # The dict is typed by the resources' base class: these are the four concrete ones.
    mlflow: Any = stores["mlflow"]
    feast: Any = stores["feast"]
    dvc: Any = stores["dvc"]
    bentoml: Any = stores["bentoml"]
    client = mlflow.client()
    _champion(evidence, client, mlflow)
    evidence.registry_services = _registry_services(evidence, feast)
    dagster_facts(evidence, project)
    if evidence.run_id is None or evidence.manifest is None:
        return evidence
    _pipelines_and_reproductions(evidence, client, project.experiment)
    evidence.commit_exists = commit_exists(paths.REPO_ROOT, evidence.commit)
    evidence.config_error = config_error(evidence.manifest.get("config"))
    evidence.data_versions = data_versions(evidence, dvc)
    md5 = str(evidence.manifest.get("training_set_md5") or "")
    if md5:
        evidence.training_set_profiled, evidence.training_set_report = documented(md5)
    evidence.tests = _test_record(project, evidence.commit)
    evidence.bento = bento_facts(evidence, bentoml, client)
    if evidence.bento is not None:
        evidence.served_profiles = served_profiles(evidence.bento.model_tag)
    return evidence


# ------------------------------------------------------------------------------------ MLflow
def _champion(evidence: Evidence, client: MlflowClient, mlflow_resource: MlflowResource) -> None:
    import mlflow

    from twelve.training.promotion import CHAMPION

    # `models:/` URIs (the signature here, the model in stores.py) resolve through the fluent
    # API's registry: point it at the project's store, not at ./mlruns.
    uri = mlflow_resource.resolved_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    holder = mlflow_resource.version_by_alias(evidence.registered_model, CHAMPION)
    if holder is None:
        evidence.notes.append(
            f"no version of {evidence.registered_model} holds the alias {CHAMPION} in "
            f"{mlflow_resource.resolved_tracking_uri()}"
        )
        return
    evidence.champion_version, evidence.run_id = str(holder.version), holder.run_id
    run = client.get_run(holder.run_id)
    evidence.params, evidence.metrics = dict(run.data.params), dict(run.data.metrics)
    evidence.tags = dict(run.data.tags)
    evidence.artifacts = [item.path for item in client.list_artifacts(holder.run_id)]
    if "manifest.json" in evidence.artifacts:
        evidence.manifest = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/manifest.json")
    model_uri = f"models:/{evidence.registered_model}/{holder.version}"
    signature = mlflow.models.get_model_info(model_uri).signature
    if signature is not None and signature.inputs is not None:
        evidence.trained_columns = [
            (column["name"], column["type"]) for column in signature.inputs.to_dict()
        ]


def _pipelines_and_reproductions(evidence: Evidence, client: MlflowClient, experiment: str) -> None:
    from twelve.proof.compare import REPRODUCES_TAG, VERDICT_TAG

    found = client.get_experiment_by_name(experiment)
    if found is None:
        return  # no run was ever tracked in the project's experiment
    runs = client.search_runs(
        [found.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    for run in runs:
        holdout = run.data.tags.get("twelve.holdout_md5")
        pipeline = run.data.tags.get("twelve.pipeline", run.data.params.get("estimator", "?"))
        if holdout:
            evidence.holdouts_by_pipeline.setdefault(pipeline, holdout)
    reproductions = client.get_experiment_by_name(f"{experiment}_reproductions")
    evidence.reproductions = []
    if reproductions is None:
        return
    for run in client.search_runs(
        [reproductions.experiment_id],
        filter_string=f"tags.`{REPRODUCES_TAG}` = '{evidence.run_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    ):
        evidence.reproductions.append(
            Reproduction(
                run_id=run.info.run_id,
                verdict=run.data.tags.get(VERDICT_TAG, "unknown"),
                first_difference=run.data.tags.get("twelve.first_difference", ""),
            )
        )


# -------------------------------------------------------------------------- git, config, DVC
def commit_exists(repo: Path, commit: str) -> bool | None:
    """Whether ``commit`` is an object of the git repository at ``repo`` (None: no git here)."""
    if not commit:
        return False
    done = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 and "not a git repository" in done.stderr:
        return None
    return done.returncode == 0


def config_error(config: dict[str, Any] | None) -> str | None:
    """'' when the recorded config reloads into ``TrainingConfig``; the error otherwise.

    None when no config is recorded (the rule says so).
    """
    if not config:
        return None
    from pydantic import ValidationError

    from twelve.training.config import TrainingConfig

    try:
        TrainingConfig(**config)
    except (ValidationError, TypeError) as error:
        return " ".join(str(error).split())[:500]
    return ""


def data_versions(evidence: Evidence, dvc: DvcResource) -> list[DataVersion] | None:
    """Where the DVC cache and remote hold each data version of the champion's manifest."""
    manifest = evidence.manifest or {}
    wanted = [
        (f"raw {name}", md5) for name, md5 in sorted((manifest.get("raw_inputs") or {}).items())
    ]
    wanted += [
        (label, str(manifest[key]))
        for label, key in (("training set", "training_set_md5"), ("holdout", "holdout_md5"))
        if manifest.get(key)
    ]
    found = []
    for name, md5 in wanted:
        try:
            in_cache, in_remote = dvc.stored(md5)
        except Exception as error:  # DVC raises many kinds (config, remote, lock): all unreadable
            evidence.notes.append(f"DVC could not be read: {error}")
            return None
        found.append(DataVersion(name, md5, in_cache, in_remote))
    return found


# ------------------------------------------------------------------------ Feast, test records
def _registry_services(evidence: Evidence, feast: FeastResource) -> list[str] | None:
    try:
        store = feast.feature_store()
        return sorted(service.name for service in store.list_feature_services())
    except Exception as error:  # an unapplied repo or an unreachable SQL registry alike
        evidence.notes.append(f"the Feast registry could not be read: {error}")
        return None


def _test_record(project: Project, commit: str) -> RecordedTests | None:
    from twelve.proof.testing_evidence import read_record, record_path

    return read_record(record_path(paths.state_dir(), project.name, commit)) if commit else None


# ------------------------------------------------------------------------ profiles, reports
def documented(
    version: str, store: ProfileStore | None = None, reports_root: Path | None = None
) -> tuple[bool, bool]:
    """Whether a data version has a stored profile, and an HTML report beside it.

    Profiles and reports are keyed by the data version (a content md5) under a data set name the
    project chooses (``training_set``, ``<project>_training_set``): every data set is searched.

    Returns:
        (profiled, reported).
    """
    from twelve.monitoring import reports
    from twelve.monitoring.profiling import ProfileStore

    store = store or ProfileStore()
    datasets = sorted(path.parent.name for path in store.root.glob(f"*/{version}.bin"))
    reported = any(
        reports.report_path(dataset, version, reports_root).is_file() for dataset in datasets
    )
    return bool(datasets), reported


def served_profiles(model_tag: str, root: Path | None = None) -> list[ServedProfile]:
    """The profiles the bentos of ``model_tag`` wrote of what they served (sidecars read)."""
    from twelve.monitoring.skew import serving_root

    folder = (root or serving_root()) / model_tag.split(":", 1)[1]
    found = []
    for sidecar in sorted(folder.glob("*.json")):
        info = json.loads(sidecar.read_text())
        found.append(
            ServedProfile(
                file=str(sidecar.with_suffix(".bin")),
                rows=int(info.get("rows") or 0),
                bento_tag=str(info.get("bento_tag") or ""),
                reference_version=str(info.get("reference_profile_version") or ""),
                columns=tuple(info.get("columns") or ()),
            )
        )
    return found
