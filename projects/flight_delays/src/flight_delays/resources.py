"""The resources of the flight-delay project, one instance each, shared by every area.

``dg.Definitions.merge`` accepts the same resource key from several areas only when it is the very
same object, so each area's ``defs()`` takes its resources from here. Building them is cheap and
reads no environment: each resolves its paths (``TWELVE_HOME``, ``TWELVE_DATA_DIR``) when used.
"""

from functools import cache

from twelve.data_versioning import DvcResource
from twelve.tracking import MlflowResource


@cache
def dvc() -> DvcResource:
    """DVC repository and remote for the project's data versions."""
    return DvcResource()


@cache
def mlflow() -> MlflowResource:
    """MLflow tracking and registry store of the project."""
    return MlflowResource(experiment="flight_delays")


@cache
def bentoml():
    """BentoML home (model store and bentos) of the project."""
    from twelve.bento import BentoResource

    return BentoResource()
