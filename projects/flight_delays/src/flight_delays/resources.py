"""The project's stores, resolved by the platform as for every project (twelve.core.resources)."""

from twelve.core.project import Project
from twelve.core.resources import project_resources


def _resource(key: str):
    return project_resources(Project.of_package("flight_delays"))[key]


def dvc():
    """DVC repository and remote for the project's data versions."""
    return _resource("dvc")


def mlflow():
    """MLflow tracking and registry store of the project."""
    return _resource("mlflow")


def feast():
    """Feast registry, online store and point-in-time retrieval of the project."""
    return _resource("feast")


def bentoml():
    """BentoML home (model store and bentos) of the project."""
    return _resource("bentoml")
