"""The resources of the flight-delay project, one instance each, shared by every area.

``dg.Definitions.merge`` accepts the same resource key from several areas only when it is the very
same object, so each area's ``defs()`` takes its resources from here. The deployment profile
(``TWELVE_PROFILE``, resolved in ``twelve.core.profile``) decides between the embedded defaults and
the
shared services; building a resource reads no other environment: each resolves its paths
(``TWELVE_HOME``, ``TWELVE_DATA_DIR``) when used.
"""

from functools import cache

from flight_delays.paths import FEATURE_REPO_DIR
from twelve.core import profile
from twelve.data.versioning import DvcResource
from twelve.features.feast import FeastResource
from twelve.training.tracking import MlflowResource


@cache
def dvc() -> DvcResource:
    """DVC repository and remote for the project's data versions."""
    settings = profile.production_settings()
    if settings is None:
        return DvcResource()
    return DvcResource(remote_url=settings.dvc_remote)


@cache
def mlflow() -> MlflowResource:
    """MLflow tracking and registry store of the project."""
    return MlflowResource.for_profile("flight_delays")


@cache
def feast() -> FeastResource:
    """Feast registry, online store and point-in-time retrieval of the project."""
    if profile.active() == "production":
        profile.ProductionSettings.from_env()  # fail early, naming what is missing
        return FeastResource(
            repo_path=str(FEATURE_REPO_DIR), feature_store_yaml="feature_store.production.yaml"
        )
    return FeastResource(repo_path=str(FEATURE_REPO_DIR))


@cache
def bentoml():
    """BentoML home (model store and bentos) of the project."""
    from twelve.deploy.bento import BentoResource

    return BentoResource()
