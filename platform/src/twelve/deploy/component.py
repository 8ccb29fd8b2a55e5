"""The deployment block: a project's aliased model versions built into bentos (factor 12).

A project lists it in ``defs/deployment/defs.yaml``; what it deploys (the service folder, the
registered model, the contract, classification or regression) comes from the project's
``[tool.twelve]``::

    type: twelve.deploy.component.Deployment
    attributes:
      after: [model_alias]
      defaults:
        aliases: [champion, challenger]
        threshold_key: threshold
        training_set_version_key: twelve.training_set_md5
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from twelve.core.config import with_defaults
from twelve.core.project import Project
from twelve.deploy.assets import BentoConfig, bento_asset


class Deployment(dg.Component, dg.Model, dg.Resolvable):
    """The ``bento`` asset of the project: a bento per aliased model version."""

    after: list[str] = Field(
        default=["model_alias"],
        description="Assets of the project the bento follows (the alias of the model).",
    )
    reference_dataset: str = Field(
        default="",
        description="Dataset of the profile store holding the training set's reference profiles; "
        "empty: the one the data-reports block writes for the project's training_set asset "
        "(its key as an identifier: training_set, or <prefix>__training_set).",
    )
    group: str = Field(default="deployment", description="Asset group in the UI.")
    defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Defaults of the run config (BentoConfig): aliases, threshold_key, "
        "training_set_version_key; registered_model defaults to the project's.",
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The bento asset of the project."""
        return dg.Definitions(assets=[self.asset_for(Project.load(context.project_root))])

    def asset_for(self, project: Project) -> dg.AssetsDefinition:
        """The bento asset of ``project``, its run config defaulting to this block's YAML."""
        defaults = {"registered_model": project.registered_model, **self.defaults}
        prefix = "".join(part.title() for part in project.name.split("_"))
        config = with_defaults(BentoConfig, defaults, name=f"{prefix}BentoConfig")
        reference = self.reference_dataset or project.key("training_set").to_python_identifier()
        return bento_asset(project, config, self.after, reference, self.group)
