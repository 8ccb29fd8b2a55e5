"""The MLflow side of a bento: which registered versions to build, and their recorded facts.

Every version holding a deployable alias (``champion``, ``challenger``) gets a bento
(:func:`aliased_versions`); what a version was made from (threshold, training set and holdout
versions) is read from its tags, its run's tags or its run's params (:func:`run_value`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twelve.deploy.errors import BentoBuildError


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered MLflow model version, as the bento is built from it."""

    registered_model: str
    version: str
    run_id: str
    aliases: tuple[str, ...] = ()

    @property
    def model_uri(self) -> str:
        """The MLflow URI of this version (``models:/<name>/<version>``)."""
        return f"models:/{self.registered_model}/{self.version}"


def aliased_versions(
    client, registered_model: str, aliases: Iterable[str] = ("champion", "challenger")
) -> list[ModelVersionRef]:
    """Every version of a registered model that carries one of ``aliases``, each once.

    Ordered by the first of ``aliases`` each carries (the champion first), then by version.

    Args:
        client: an ``mlflow.MlflowClient`` bound to the registry.
        registered_model: the registered model's name.
        aliases: the aliases that make a version deployable.

    Raises:
        BentoBuildError: the registered model does not exist or no version carries an alias.
    """
    wanted = list(aliases)
    try:
        registered = client.get_registered_model(registered_model)
    except Exception as error:  # MLflow raises its own exception for a missing model
        raise BentoBuildError(
            f"registered model {registered_model!r} not found in the MLflow registry: {error}"
        ) from error
    by_version: dict[str, list[str]] = {}
    for alias, version in (registered.aliases or {}).items():
        if alias in wanted:
            by_version.setdefault(str(version), []).append(alias)
    if not by_version:
        raise BentoBuildError(
            f"no version of registered model {registered_model!r} carries an alias among "
            f"{sorted(wanted)} (aliases now: {dict(registered.aliases or {})}); only a model that "
            "passed the evaluation gate is given one"
        )
    refs = [
        ModelVersionRef(
            registered_model=registered_model,
            version=version,
            run_id=client.get_model_version(registered_model, version).run_id or "",
            aliases=tuple(sorted(carried)),
        )
        for version, carried in by_version.items()
    ]
    rank = {alias: position for position, alias in enumerate(wanted)}
    return sorted(refs, key=lambda r: (min(rank[a] for a in r.aliases), int(r.version)))


def latest_aliased_version(
    client, registered_model: str, aliases: Iterable[str] = ("champion", "challenger")
) -> ModelVersionRef:
    """The newest version of a registered model that carries one of ``aliases``.

    Raises:
        BentoBuildError: the registered model does not exist or no version carries an alias.
    """
    return max(aliased_versions(client, registered_model, aliases), key=lambda r: int(r.version))


def run_value(client, ref: ModelVersionRef, key: str) -> str:
    """A value recorded for a model version: its version tag, else its run's tag, else param.

    Raises:
        BentoBuildError: ``key`` is in none of them (the message lists what is there).
    """
    version_tags = client.get_model_version(ref.registered_model, ref.version).tags or {}
    if key in version_tags:
        return str(version_tags[key])
    run = client.get_run(ref.run_id)
    if key in run.data.tags:
        return str(run.data.tags[key])
    if key in run.data.params:
        return str(run.data.params[key])
    raise BentoBuildError(
        f"{ref.model_uri} (run {ref.run_id}) records no {key!r}: version tags "
        f"{sorted(version_tags)}, run tags {sorted(k for k in run.data.tags if '.' not in k)}, "
        f"params {sorted(run.data.params)}"
    )


def run_manifest(client, ref: ModelVersionRef) -> dict[str, str]:
    """The run's own tags (MLflow's ``mlflow.*`` system tags left out): its run manifest."""
    tags = client.get_run(ref.run_id).data.tags
    return {key: str(value) for key, value in sorted(tags.items()) if not key.startswith("mlflow.")}


def contract_description(reference: str) -> dict[str, Any]:
    """The JSON description of a feature contract named ``"module:attribute"``.

    The attribute may be a schema built with :func:`twelve.features.schemas.build_schema`, a
    function
    returning one, or an already JSON-ready mapping.

    Raises:
        BentoBuildError: the reference is malformed or does not resolve to a contract.
    """
    import importlib

    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise BentoBuildError(f"contract reference {reference!r} must look like 'module:attribute'")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise BentoBuildError(f"feature contract {reference!r} not found: {error}") from error
    if callable(target) and not hasattr(target, "columns"):
        target = target()
    if isinstance(target, Mapping):
        return dict(target)
    from twelve.features.schemas import schema_to_dict

    try:
        return schema_to_dict(target)
    except (AttributeError, ValueError) as error:
        raise BentoBuildError(
            f"{reference!r} is a {type(target).__name__}, not a contract built with "
            f"twelve.features.schemas.build_schema: {error}"
        ) from error


def load_registered_pipeline(
    tracking_uri: str, ref: ModelVersionRef, workdir: Path, method: str = "predict_proba"
) -> Any:
    """Load the fitted scikit-learn model of a registered version, whatever format it was saved in.

    Args:
        tracking_uri: the MLflow store.
        ref: the registered version.
        workdir: where its artifacts are downloaded.
        method: what the service calls: ``predict_proba`` (a classifier, the default) or
            ``predict`` (a regressor).

    Returns:
        The model object, checked to have ``method``.

    Raises:
        BentoBuildError: the artifacts cannot be fetched or loaded, or the model has no
            ``method``.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow.artifacts
    import mlflow.sklearn

    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=ref.model_uri,
            dst_path=str(workdir),
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        model = mlflow.sklearn.load_model(local)
    except Exception as error:
        raise BentoBuildError(
            f"cannot load {ref.model_uri} from {tracking_uri} as a scikit-learn model: {error}"
        ) from error
    if not callable(getattr(model, method, None)):
        answers = "probabilities" if method == "predict_proba" else "values"
        raise BentoBuildError(
            f"{ref.model_uri} is a {type(model).__name__} without {method}; the service "
            f"answers {answers}"
        )
    return model


HOLDOUT_KEY = "twelve.holdout_md5"  # the run manifest's tag (twelve.training.manifest)


def read_holdout(client, ref: ModelVersionRef, dvc: Any) -> tuple[Any, str]:
    """The versioned holdout a model version was evaluated on, read back by its md5.

    Args:
        client: the registry's ``MlflowClient``.
        ref: the model version.
        dvc: a ``twelve.data.versioning.DvcResource`` (its cache, else its remote).

    Returns:
        The holdout rows and their md5.

    Raises:
        BentoBuildError: the manifest names no holdout, or no store holds that version.
    """
    import io

    import pandas as pd

    md5 = run_value(client, ref, HOLDOUT_KEY)
    try:
        data = dvc.read_version(md5)
    except Exception as error:  # DataVersionNotFound, or the remote unreachable
        raise BentoBuildError(
            f"the holdout of {ref.model_uri} (md5 {md5}) cannot be read: {error}"
        ) from error
    return pd.read_parquet(io.BytesIO(data)), md5
