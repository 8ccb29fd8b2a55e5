"""The training block: holdout, pipelines, gate, promotion, leaderboard.

Configured in ``defs/training/``::

    type: twelve.training.component.Training
    attributes:
      holdout: {month: "2013-12"}              # HoldoutConfig defaults
      training:                                # TrainingConfig defaults shared by every pipeline
        first_month: "2013-01"
        last_month: "2013-10"
        seed: 42
        threshold: 0.5                         # classification only
      pipelines:                               # the first one keeps the plain asset names
        hist_gradient_boosting:
          asset_suffix: ""
          registered_model: flight_delays
          estimator: hist_gradient_boosting
          params: {max_iter: 100}
      evaluation: {required_score: 0.65}       # EvaluationConfig defaults
      promotion: {promotion_margin: 0.005}     # PromotionConfig defaults
      baseline_column: carrier_late_rate_28d   # optional: else the training label mean

Everything project-specific comes from here and from the project (``[tool.twelve]``: problem
type, contract, asset prefix, feature service); the mechanism is the library's. Every value is
validated when the definitions load, and each message names the setting.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from twelve.core.config import with_defaults
from twelve.core.project import Project
from twelve.training import assets
from twelve.training.block import TrainingBlock
from twelve.training.config import (
    EvaluationConfig,
    HoldoutConfig,
    PipelineSpec,
    PromotionConfig,
    TrainingConfig,
    parse_pipelines,
)

# Set per pipeline (its own estimator, hyper-parameters and registered model), not in `training`.
_PER_PIPELINE = ("estimator", "params", "registered_model")
# Set by the project ([tool.twelve] feature_service), recorded in every manifest.
_FROM_PROJECT = ("feature_service",)


class Training(dg.Component, dg.Model, dg.Resolvable):
    """Train, evaluate, gate and promote every configured pipeline (factors 4, 7 and 10)."""

    holdout: dict[str, Any] = Field(description="Defaults of HoldoutConfig (`month`).")
    training: dict[str, Any] = Field(
        description=(
            "Defaults of TrainingConfig shared by every pipeline: first_month, last_month, seed, "
            "threshold (classification), importance_sample_rows, threads."
        )
    )
    pipelines: dict[str, dict[str, Any]] = Field(
        description=(
            "Pipeline name -> asset_suffix, registered_model, estimator, params. The first "
            "pipeline has the empty suffix (its assets keep the plain names)."
        )
    )
    evaluation: dict[str, Any] = Field(description="Defaults of EvaluationConfig (required_score).")
    promotion: dict[str, Any] = Field(
        default_factory=dict, description="Defaults of PromotionConfig (promotion_margin)."
    )
    baseline_column: str | None = Field(
        default=None,
        description=(
            "Training-set column the naive baseline answers with (its missing values: the "
            "training label mean); without it, the training label mean for every row."
        ),
    )
    group: str = Field(default="training", description="Asset group in the UI.")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The holdout, three assets per pipeline, the leaderboard."""
        try:
            return self.defs_for(Project.load(context.project_root))
        except ValueError as error:
            raise ValueError(f"{context.path}: {error}") from error

    def defs_for(self, project: Project) -> dg.Definitions:
        """The block's definitions for ``project`` (what ``build_defs`` returns).

        Raises:
            ValueError: a setting is missing or invalid (the message names it).
        """
        block = self.block_for(project)
        holdout = with_defaults(HoldoutConfig, self.holdout, name="HoldoutConfig")
        evaluation = with_defaults(EvaluationConfig, self.evaluation, name="EvaluationConfig")
        promotion = with_defaults(PromotionConfig, self.promotion, name="PromotionConfig")
        definitions = [assets.holdout_asset(block, holdout)]
        for spec in block.pipelines:
            definitions += [
                assets.model_asset(block, spec, self.training_config(project, spec)),
                assets.evaluation_asset(block, spec, evaluation),
                assets.alias_asset(block, spec, promotion),
            ]
        definitions.append(assets.leaderboard_asset(block))
        return dg.Definitions(assets=definitions)

    def block_for(self, project: Project) -> TrainingBlock:
        """The validated block: its pipelines fit the project's problem type."""
        from twelve.training import modeling  # scikit-learn: only to check the estimators' names

        specs = parse_pipelines(self.pipelines)
        for spec in specs:
            try:
                modeling.check_estimator(spec.estimator, project.problem_type)
            except ValueError as error:
                raise ValueError(f"pipeline '{spec.name}': {error}") from error
        self._check_training_section(project)
        if self.baseline_column is not None:
            columns = project.contract.training_set_columns
            if self.baseline_column not in columns:
                raise ValueError(
                    f"baseline_column '{self.baseline_column}' is not a training-set column of "
                    f"the contract ({columns})"
                )
        return TrainingBlock(project, tuple(specs), self.baseline_column, self.group)

    def _check_training_section(self, project: Project) -> None:
        misplaced = sorted(set(self.training) & {*_PER_PIPELINE, *_FROM_PROJECT})
        if misplaced:
            raise ValueError(
                f"training: {misplaced} are set per pipeline ({list(_PER_PIPELINE)}) or by the "
                "project ([tool.twelve] feature_service), not in `training`"
            )
        classification = project.problem_type == "classification"
        if not classification and self.training.get("threshold") is not None:
            raise ValueError(
                "training.threshold applies to classification only (this project is a regression)"
            )

    def training_config(self, project: Project, spec: PipelineSpec) -> type[TrainingConfig]:
        """The training config of a pipeline: the shared defaults and the pipeline's own."""
        defaults = {
            **self.training,
            "estimator": spec.estimator,
            "params": dict(spec.params),
            "registered_model": spec.registered_model,
            "feature_service": project.feature_service,
        }
        if project.problem_type == "classification":
            # A classification predicts positive from this probability (0.5 unless configured).
            defaults.setdefault("threshold", 0.5)
        return with_defaults(TrainingConfig, defaults, name=f"TrainingConfig{spec.config_suffix()}")
