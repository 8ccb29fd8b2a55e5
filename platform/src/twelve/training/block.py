"""What every asset of a project's training block shares: its project, pipelines and baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from twelve.core.project import Project
from twelve.training.config import PipelineSpec
from twelve.training.promotion import Metric, metric_of

if TYPE_CHECKING:
    import dagster as dg

    from twelve.training.scoring import Scoring

HOLDOUT_SET, TRAINING_SET, LEADERBOARD = "holdout_set", "training_set", "leaderboard"
TRAINED_MODEL, MODEL_EVALUATION, MODEL_ALIAS = "trained_model", "model_evaluation", "model_alias"


@dataclass(frozen=True)
class TrainingBlock:
    """The training block of one project.

    Attributes:
        project: the project (contract, problem type, asset prefix, paths).
        pipelines: its pipelines, the default one (plain asset names) first.
        baseline_column: the column the naive baseline answers with (None: the training
            label mean).
        group: the asset group in the UI.
    """

    project: Project
    pipelines: tuple[PipelineSpec, ...]
    baseline_column: str | None = None
    group: str = "training"

    @property
    def scoring(self) -> Scoring:
        """The answers and metrics of the project's problem type."""
        # scikit-learn and matplotlib load when a model is scored, not when definitions load.
        from twelve.training.scoring import Scoring

        return Scoring(self.project.problem_type)

    @property
    def metric(self) -> Metric:
        """The primary metric and its direction."""
        return metric_of(self.project.problem_type)

    def key(self, base: str, spec: PipelineSpec | None = None) -> dg.AssetKey:
        """The asset key of ``base`` (of a pipeline: with its suffix), with the project prefix."""
        return self.project.key(spec.asset(base) if spec is not None else base)
