"""The stores every block of a project uses, resolved for the deployment profile (one place).

``mlflow`` (tracking and registry), ``dvc`` (data versions), ``feast`` (registry, online store,
point-in-time retrieval) and ``bentoml`` (model and bento stores): the embedded defaults on one
machine, the shared services under ``TWELVE_PROFILE=production`` (``twelve.core.profile``), with
every endpoint from the environment. One instance of each per project, so that the definitions of
all its blocks merge (Dagster accepts a resource key twice only for the very same object).

A project lists the block in ``defs/resources/defs.yaml``::

    type: twelve.core.resources.Resources
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import dagster as dg

from twelve.core import profile
from twelve.core.project import Project, ProjectError

if TYPE_CHECKING:
    from twelve.data.versioning import DvcResource
    from twelve.deploy.bento import BentoResource
    from twelve.features.feast import FeastResource
    from twelve.training.tracking import MlflowResource

PRODUCTION_FEATURE_STORE_YAML = "feature_store.production.yaml"


def mlflow_for(project: Project) -> MlflowResource:
    """The tracking store of the active profile, experiment = the project's name."""
    from twelve.training.tracking import MlflowResource

    return MlflowResource.for_profile(project.experiment)


def dvc_for(project: Project) -> DvcResource:
    """The DVC repository (the checkout) and the remote of the active profile."""
    from twelve.data.versioning import DvcResource

    settings = profile.production_settings()
    return DvcResource() if settings is None else DvcResource(remote_url=settings.dvc_remote)


def feast_for(project: Project) -> FeastResource:
    """The project's Feast repository; in production its ``feature_store.production.yaml``.

    Raises:
        ProjectError: production needs that yaml beside ``feature_store.yaml`` (named).
    """
    from twelve.features.feast import FeastResource

    if profile.active() != "production":
        return FeastResource(repo_path=str(project.feature_repo))
    profile.ProductionSettings.from_env()  # fail early, naming every missing variable
    yaml_file = project.feature_repo / PRODUCTION_FEATURE_STORE_YAML
    if not yaml_file.is_file():
        raise ProjectError(
            f"TWELVE_PROFILE=production: {yaml_file} is missing (the SQL registry and Redis online "
            "store of the shared services)"
        )
    return FeastResource(
        repo_path=str(project.feature_repo), feature_store_yaml=PRODUCTION_FEATURE_STORE_YAML
    )


def bentoml_for(project: Project) -> BentoResource:
    """BentoML's home (``TWELVE_HOME/bentoml`` unless configured)."""
    from twelve.deploy.bento import BentoResource

    return BentoResource()


@cache
def project_resources(project: Project) -> dict[str, dg.ConfigurableResource]:
    """The resources of a project, one instance each (cached per project and process)."""
    return {
        "mlflow": mlflow_for(project),
        "dvc": dvc_for(project),
        "feast": feast_for(project),
        "bentoml": bentoml_for(project),
    }


class Resources(dg.Component, dg.Model, dg.Resolvable):
    """The project's stores (MLflow, DVC, Feast, BentoML) for every block of its ``defs/``."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The four resources, resolved for the active profile."""
        return dg.Definitions(resources=project_resources(Project.load(context.project_root)))
