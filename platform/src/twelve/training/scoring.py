"""How a model of a problem type answers and is scored (pure): one place for the difference.

A classification model answers with the probability of the positive class (``predict_proba``)
and is scored by ROC AUC and friends at a threshold; a regression model answers with values
(``predict``) and is scored by RMSE, MAE and R². Everything else in the training block (the gate,
the promotion, the leaderboard, the logged run) reads the primary metric and its direction from
the :class:`Scoring` of the project's problem type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twelve.training import evaluation
from twelve.training.promotion import Metric, metric_of

PROBLEM_TYPES = ("classification", "regression")
# Metrics shown side by side in the evaluation's comparison table.
COMPARED_METRICS = {
    "classification": ("roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall"),
    "regression": ("rmse", "mae", "r2"),
}
# How the permuted score is called on the importance plot.
SCORE_LABEL = {"classification": "ROC AUC", "regression": "RMSE"}


@dataclass(frozen=True)
class Scoring:
    """The answers and metrics of one problem type.

    Attributes:
        problem_type: ``classification`` or ``regression``.
    """

    problem_type: str

    def __post_init__(self) -> None:
        """Check the fields; raise ``ValueError`` naming the wrong one."""
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(
                f"problem type {self.problem_type!r} is not one of {list(PROBLEM_TYPES)}"
            )

    @property
    def classification(self) -> bool:
        """Whether the model answers with probabilities."""
        return self.problem_type == "classification"

    @property
    def metric(self) -> Metric:
        """The primary metric: ROC AUC (higher is better) or RMSE (lower is better)."""
        return metric_of(self.problem_type)

    @property
    def compared_metrics(self) -> tuple[str, ...]:
        """The metrics of the evaluation's comparison table."""
        return COMPARED_METRICS[self.problem_type]

    @property
    def predict_method(self) -> str:
        """The estimator method that gives the model's answers (MLflow's ``pyfunc`` calls it)."""
        return "predict_proba" if self.classification else "predict"

    def labels(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """The label column: integers for a classification, floats for a regression.

        Raises:
            KeyError: the column is missing (named).
        """
        if column not in frame.columns:
            raise KeyError(f"label column '{column}' is missing")
        return frame[column].astype("int64" if self.classification else "float64")

    def predict(self, model, features: pd.DataFrame) -> np.ndarray:
        """The model's answers: P(positive class) or the predicted values."""
        if self.classification:
            return model.predict_proba(features)[:, list(model.classes_).index(1)]
        return np.asarray(model.predict(features), dtype="float64")

    def metrics(self, labels, answers, threshold: float | None = None) -> dict[str, float]:
        """Every metric of the answers on the labels.

        Raises:
            ValueError: a classification without a threshold, or invalid labels or answers.
        """
        if not self.classification:
            return evaluation.regression_metrics(labels, answers)
        if threshold is None:
            raise ValueError("a classification is scored at a threshold; none was given")
        return evaluation.classification_metrics(labels, answers, threshold)

    def baseline(self, frame: pd.DataFrame, label_mean: float, column: str | None) -> np.ndarray:
        """The naive baseline's answers (``evaluation.naive_baseline``)."""
        return evaluation.naive_baseline(frame, label_mean, column, probability=self.classification)

    def predictions_frame(self, ids, labels, answers) -> pd.DataFrame:
        """Per-row holdout answers: ``id``, ``label`` and ``proba`` or ``prediction``."""
        if self.classification:
            return evaluation.predictions_frame(ids, labels, answers)
        values = np.asarray(answers, dtype="float64")
        if not len(ids) == len(labels) == len(values):
            raise ValueError(f"{len(ids)} ids, {len(labels)} labels, {len(values)} predictions")
        return pd.DataFrame(
            {
                "id": np.asarray(ids).astype(str),
                "label": np.asarray(labels, dtype="float64"),
                "prediction": values,
            }
        )

    def figures(self, labels, answers: dict[str, np.ndarray]) -> dict[str, object]:
        """The plots of a run (artifact path -> figure), besides the importance plot."""
        if self.classification:
            return {
                "plots/roc_curve.png": evaluation.roc_figure(labels, answers),
                "plots/calibration_curve.png": evaluation.calibration_figure(labels, answers),
            }
        return {"plots/predicted_vs_true.png": evaluation.prediction_figure(labels, answers)}

    def importance(self, model, features, labels, *, sample_rows: int, seed: int):
        """Permutation importance of every input column (a table, and its figure)."""
        table = evaluation.feature_importance(
            model,
            features,
            labels,
            sample_rows=sample_rows,
            seed=seed,
            scoring=evaluation.IMPORTANCE_SCORING[self.problem_type],
        )
        figure = evaluation.feature_importance_figure(table, score=SCORE_LABEL[self.problem_type])
        return table, figure
