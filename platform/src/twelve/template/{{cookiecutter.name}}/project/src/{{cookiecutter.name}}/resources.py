"""The resources of {{ cookiecutter.name }}, one instance each, shared by every area.

``dg.Definitions.merge`` accepts a resource key from several areas only when it is the same object.
Nothing here reads the environment: paths resolve when a resource is used.
"""

from functools import cache

from twelve.data_versioning import DvcResource
from twelve.features import FeastResource

from {{ cookiecutter.name }}.paths import FEATURE_REPO_DIR


@cache
def dvc() -> DvcResource:
    """DVC repository and remote of the data versions."""
    return DvcResource()


@cache
def feast() -> FeastResource:
    """This project's own Feast repo (``feature_repo/{{ cookiecutter.name }}``)."""
    return FeastResource(repo_path=str(FEATURE_REPO_DIR))
