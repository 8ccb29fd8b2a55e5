"""Experiment tracking with MLflow (factor 7): a typed resource around the tracking store.

Embedded default: a SQLite tracking and registry store and a local artifact folder under
``TWELVE_HOME/mlflow``. The production profile sets ``tracking_uri`` (a tracking server on
PostgreSQL with S3-compatible artifacts) through the environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import Field

from twelve import paths

log = logging.getLogger(__name__)


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
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
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
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow

        uri = self.resolved_tracking_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        experiment_id = self.experiment_id()
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            log.info("MLflow run %s (%s) in %s", run.info.run_id, run_name, uri)
            yield run


def artifact_dir_of(run) -> Path | None:
    """Local folder of a run's artifacts when the store is a local folder, else None."""
    uri = run.info.artifact_uri
    return Path(uri.removeprefix("file://")) if uri.startswith("file://") else None
