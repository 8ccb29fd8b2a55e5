"""Deployment profiles: embedded defaults on one machine, shared services in production.

One environment variable selects the profile (``TWELVE_PROFILE``: ``local``, the default, or
``production``), and this module is the one place that resolves it. In production every endpoint
and secret comes from the environment (never from code or committed files):

| variable | what |
|---|---|
| ``TWELVE_MLFLOW_TRACKING_URI`` | MLflow tracking server (its store on PostgreSQL) |
| ``TWELVE_MLFLOW_ARTIFACTS`` | artifact root for new experiments, e.g. ``s3://twelve/mlflow`` |
| ``TWELVE_DVC_REMOTE`` | DVC remote, e.g. ``s3://twelve/dvc`` |
| ``TWELVE_S3_ENDPOINT_URL`` | S3-compatible endpoint (MinIO, moto); empty for AWS itself |
| ``TWELVE_FEAST_REGISTRY_URL`` | Feast SQL registry, ``postgresql+psycopg://...`` |
| ``TWELVE_REDIS_URL`` | Feast online store, ``host:port`` (Redis) |

Credentials for S3 use the standard ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``; the
Dagster instance reads its PostgreSQL settings from ``infra/production/dagster.yaml``
(``DAGSTER_PG_*`` variables).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_ENV = "TWELVE_PROFILE"
PROFILES = ("local", "production")

REQUIRED_IN_PRODUCTION = (
    "TWELVE_MLFLOW_TRACKING_URI",
    "TWELVE_MLFLOW_ARTIFACTS",
    "TWELVE_DVC_REMOTE",
    "TWELVE_FEAST_REGISTRY_URL",
    "TWELVE_REDIS_URL",
)


class ProfileError(ValueError):
    """The profile is unknown or its settings are incomplete; the message names the variables."""


def active() -> str:
    """The profile in force, from ``TWELVE_PROFILE`` (default ``local``).

    Raises:
        ProfileError: the variable holds something other than a known profile.
    """
    value = os.environ.get(PROFILE_ENV, "local").strip().lower() or "local"
    if value not in PROFILES:
        raise ProfileError(f"{PROFILE_ENV}={value!r} is not a profile; use one of {PROFILES}")
    return value


@dataclass(frozen=True)
class ProductionSettings:
    """Endpoints of the shared services, read from the environment."""

    mlflow_tracking_uri: str
    mlflow_artifacts: str
    dvc_remote: str
    feast_registry_url: str
    redis_url: str
    s3_endpoint_url: str = ""

    @classmethod
    def from_env(cls) -> ProductionSettings:
        """Read every setting; fail naming all the missing variables at once."""
        missing = [name for name in REQUIRED_IN_PRODUCTION if not os.environ.get(name)]
        if missing:
            raise ProfileError(
                f"{PROFILE_ENV}=production needs {', '.join(missing)} in the environment "
                "(see infra/production/README.md)"
            )
        return cls(
            mlflow_tracking_uri=os.environ["TWELVE_MLFLOW_TRACKING_URI"],
            mlflow_artifacts=os.environ["TWELVE_MLFLOW_ARTIFACTS"],
            dvc_remote=os.environ["TWELVE_DVC_REMOTE"],
            feast_registry_url=os.environ["TWELVE_FEAST_REGISTRY_URL"],
            redis_url=os.environ["TWELVE_REDIS_URL"],
            s3_endpoint_url=os.environ.get("TWELVE_S3_ENDPOINT_URL", ""),
        )

    def export_client_env(self) -> None:
        """Point the clients that read their own variables (MLflow's S3 artifact client)."""
        if self.s3_endpoint_url:
            os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", self.s3_endpoint_url)


def production_settings() -> ProductionSettings | None:
    """The production settings when that profile is active, else None (embedded defaults)."""
    return ProductionSettings.from_env() if active() == "production" else None
