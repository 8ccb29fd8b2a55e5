"""Experiment tracking with MLflow (factor 7): a typed resource around the tracking store.

Embedded default: a SQLite tracking and registry store and a local artifact folder under
``TWELVE_HOME/mlflow``. The production profile sets ``tracking_uri`` (a tracking server on
PostgreSQL with S3-compatible artifacts) through the environment.

Besides runs, the resource owns the model registry side: logging a scikit-learn pipeline (skops,
explicit requirements), registering a version so that a failure never leaves a half-registered
one, reading and setting aliases, and loading a registered version back.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
from pydantic import Field

from twelve.core import paths

log = logging.getLogger(__name__)

# What a logged pipeline needs to be loaded: listed explicitly, because MLflow's inference of the
# requirements took ~3 s and listed unrelated packages (STACK-NOTES).
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "scipy", "pandas")


class MlflowUnavailableError(RuntimeError):
    """The tracking store cannot be reached: nothing was logged or registered."""


def model_requirements() -> list[str]:
    """Pinned pip requirements of a logged scikit-learn pipeline (the installed versions)."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in MODEL_REQUIREMENTS]


class MlflowResource(dg.ConfigurableResource):
    """Where runs, metrics, artifacts and registered models go."""

    tracking_uri: str = Field(
        default="", description="MLflow tracking URI; empty means SQLite under TWELVE_HOME/mlflow."
    )
    artifact_location: str = Field(
        default="",
        description="Artifact root for new experiments; empty means TWELVE_HOME/mlflow/artifacts.",
    )
    experiment: str = Field(default="flight_delays", description="Experiment that runs go to.")
    http_timeout_s: int = Field(
        default=10,
        description="Timeout of one HTTP request to a tracking server (MLflow's default is 120).",
    )
    http_max_retries: int = Field(
        default=2,
        description=(
            "Retries of a failed HTTP request (MLflow's default, 7 with back-off, turns an outage "
            "into minutes of waiting)."
        ),
    )

    @classmethod
    def for_profile(cls, experiment: str) -> MlflowResource:
        """The tracking store of the active deployment profile (``twelve.core.profile``).

        Local: the embedded SQLite store under TWELVE_HOME. Production: the tracking server and
        artifact root from the environment (the S3 endpoint exported for MLflow's client).
        """
        from twelve.core import profile

        settings = profile.production_settings()
        if settings is None:
            return cls(experiment=experiment)
        settings.export_client_env()
        return cls(
            experiment=experiment,
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_location=settings.mlflow_artifacts,
        )

    def _prepare_env(self) -> None:
        # MLflow reads these from the environment at request time; an explicit setting by the
        # operator wins over ours.
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(self.http_timeout_s))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(self.http_max_retries))

    def resolved_tracking_uri(self) -> str:
        """The tracking URI in force (the configured one, or the embedded SQLite store)."""
        if self.tracking_uri:
            return self.tracking_uri
        folder = paths.state_dir() / "mlflow"
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'mlflow.db'}"

    def resolved_artifact_location(self) -> str:
        """The artifact root used when this resource creates the experiment."""
        if self.artifact_location:
            return self.artifact_location
        return (paths.state_dir() / "mlflow" / "artifacts").as_uri()

    def client(self):
        """An ``MlflowClient`` bound to this store (tracking and registry)."""
        self._prepare_env()
        from mlflow import MlflowClient

        uri = self.resolved_tracking_uri()
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def experiment_id(self) -> str:
        """Id of the configured experiment, created (with our artifact root) when missing."""
        client = self.client()
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(
            self.experiment, artifact_location=self.resolved_artifact_location()
        )

    @contextlib.contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator:
        """Open an MLflow run in the configured experiment; the fluent API logs into it.

        Args:
            run_name: a readable run name.
            tags: tags set when the run starts.

        Yields:
            The active ``mlflow.ActiveRun``.
        """
        mlflow = self._activate()
        uri = self.resolved_tracking_uri()
        experiment_id = self.experiment_id()
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            log.info("MLflow run %s (%s) in %s", run.info.run_id, run_name, uri)
            yield run

    # ------------------------------------------------------------------ availability, links
    def _activate(self):
        """Point MLflow's fluent API (runs, model loading by ``models:/`` URI) at this store."""
        self._prepare_env()
        import mlflow

        uri = self.resolved_tracking_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return mlflow

    def ensure_available(self) -> None:
        """Fail fast, with a clear message, when the tracking store cannot be reached.

        A tracking server gets one ``/health`` request with a short timeout; a database store
        one cheap query. Call it before expensive work that must end in MLflow.

        Raises:
            MlflowUnavailableError: naming the URI and the cause.
        """
        uri = self.resolved_tracking_uri()
        try:
            if uri.startswith(("http://", "https://")):
                import requests

                response = requests.get(f"{uri.rstrip('/')}/health", timeout=self.http_timeout_s)
                response.raise_for_status()
            else:
                self.client().search_experiments(max_results=1)
        except Exception as error:
            raise MlflowUnavailableError(
                f"MLflow tracking store {uri} is unavailable ({type(error).__name__}: {error}); "
                "start the tracking server or fix the `mlflow` resource's tracking_uri"
            ) from error

    def run_link(self, experiment_id: str, run_id: str) -> str:
        """Where to see a run: its URL on a tracking server, or how to open the local UI."""
        uri = self.resolved_tracking_uri()
        fragment = f"#/experiments/{experiment_id}/runs/{run_id}"
        if uri.startswith(("http://", "https://")):
            return f"{uri.rstrip('/')}/{fragment}"
        return f"`make mlflow-ui`, then http://127.0.0.1:5000/{fragment}"

    # ------------------------------------------------------------------ models and registry
    def log_sklearn_pipeline(
        self,
        pipeline,
        *,
        signature,
        input_example,
        name: str = "model",
        predict_fn: str = "predict_proba",
    ):
        """Log a fitted scikit-learn pipeline to the active run, in skops format.

        skops refuses types outside its allow-list (HistGradientBoosting's ``TreePredictor``);
        we trust scikit-learn/NumPy/SciPy types only (``modeling.trusted_skops_types``), so a
        custom class in a pipeline is refused instead of pickled. ``pyfunc`` predictions are
        ``predict_proba`` (one column per class), which is what serving needs; a regressor
        passes ``predict_fn="predict"``.

        Args:
            pipeline: the fitted pipeline.
            signature: its ``ModelSignature``.
            input_example: a few input rows.
            name: the logged model's name.
            predict_fn: the method ``pyfunc`` predictions call.

        Returns:
            MLflow's ``ModelInfo`` (``model_uri``, ``model_id``).
        """
        self._activate()
        import mlflow.sklearn
        import skops.io

        from twelve.training.modeling import trusted_skops_types

        trusted = trusted_skops_types(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
        return mlflow.sklearn.log_model(
            pipeline,
            name=name,
            serialization_format="skops",
            skops_trusted_types=trusted,
            signature=signature,
            input_example=input_example,
            pip_requirements=model_requirements(),
            pyfunc_predict_fn=predict_fn,
        )

    def _delete_versions_of_run(self, name: str, run_id: str) -> list[str]:
        client = self.client()
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        for version in versions:
            client.delete_model_version(name, version.version)
            log.warning("deleted model version %s/%s of failed run %s", name, version, run_id)
        return [version.version for version in versions]

    @contextlib.contextmanager
    def provisional_version(
        self, model_uri: str, name: str, run_id: str, tags: Mapping[str, str] | None = None
    ) -> Iterator:
        """Register a new version; delete it again if anything fails before the block ends.

        Every version of ``name`` created from ``run_id`` is removed on failure (also one that
        ``register_model`` created before failing itself) and the run is marked FAILED, so no
        half-registered version is left for the gate or a deployment to pick up.

        Args:
            model_uri: the logged model (``ModelInfo.model_uri``).
            name: the registered model (created when missing).
            run_id: the run the model was logged in.
            tags: tags of the new version.

        Yields:
            The new ``ModelVersion``.
        """
        mlflow = self._activate()
        try:
            version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
            log.info("registered %s version %s from run %s", name, version.version, run_id)
            yield version
        except BaseException:
            # Best effort, and the original error is the one to report: during an outage these
            # calls fail too, and the version (if any was created) is then left for a retry.
            with contextlib.suppress(Exception):
                self._delete_versions_of_run(name, run_id)
            with contextlib.suppress(Exception):
                self.client().set_terminated(run_id, status="FAILED")
            raise

    def version_by_alias(self, name: str, alias: str):
        """The version of ``name`` that carries ``alias``, or None when none does.

        Only "no such model or alias" means None; any other error (an outage) is raised.
        """
        from mlflow.exceptions import MlflowException

        try:
            return self.client().get_model_version_by_alias(name, alias)
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE") or (
                "not found" in str(error).lower()
            ):
                return None
            raise

    def aliases_of(self, name: str) -> dict[str, str]:
        """Every alias of a registered model -> its version (empty when the model is new)."""
        from mlflow.exceptions import MlflowException

        try:
            registered = self.client().get_registered_model(name)
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise
        return {alias: str(version) for alias, version in (registered.aliases or {}).items()}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Give ``alias`` to ``name`` version ``version`` (moving it from any other version)."""
        self.client().set_registered_model_alias(name, alias, str(version))
        log.info("alias %s -> %s version %s", alias, name, version)

    def load_sklearn_model(self, name: str, version: str):
        """Load a registered version back as the scikit-learn object that was logged."""
        self._activate()
        import mlflow.sklearn

        return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def artifact_dir_of(run) -> Path | None:
    """Local folder of a run's artifacts when the store is a local folder, else None."""
    uri = run.info.artifact_uri
    return Path(uri.removeprefix("file://")) if uri.startswith("file://") else None
