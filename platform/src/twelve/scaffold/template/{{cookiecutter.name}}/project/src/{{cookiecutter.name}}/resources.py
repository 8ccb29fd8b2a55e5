"""The resources of {{ cookiecutter.name }}, one instance each, shared by every area.

``dg.Definitions.merge`` accepts a resource key from several areas only when it is the same object.
The deployment profile (``TWELVE_PROFILE``, ``twelve.core.profile``) decides between the embedded
stores and the shared services. Nothing here reads other environment: paths resolve when a
resource is used.
"""

from functools import cache

from twelve.core import profile
from twelve.data.versioning import DvcResource
from twelve.deploy.bento import BentoResource
from twelve.features.feast import FeastResource
from twelve.training.tracking import MlflowResource

from {{ cookiecutter.name }}.paths import FEATURE_REPO_DIR, NAME


@cache
def dvc() -> DvcResource:
    """DVC repository and remote of the data versions."""
    settings = profile.production_settings()
    return DvcResource() if settings is None else DvcResource(remote_url=settings.dvc_remote)


@cache
def feast() -> FeastResource:
    """This project's own Feast repo (``feature_repo/{{ cookiecutter.name }}``)."""
    return FeastResource(repo_path=str(FEATURE_REPO_DIR))


@cache
def mlflow() -> MlflowResource:
    """MLflow tracking and registry store; runs go to the experiment named after the project."""
    settings = profile.production_settings()
    if settings is None:
        return MlflowResource(experiment=NAME)
    settings.export_client_env()
    return MlflowResource(
        experiment=NAME,
        tracking_uri=settings.mlflow_tracking_uri,
        artifact_location=settings.mlflow_artifacts,
    )


@cache
def bentoml() -> BentoResource:
    """BentoML home (model store and bentos)."""
    return BentoResource()
