"""The model as pure functions (no Dagster), tested in tests/test_modeling.py.

The model is one scikit-learn Pipeline from ``twelve.training.modeling.build_pipeline``: its fitted
preprocessing travels with it to the evaluation and the bento (factor 9).
"""

import numpy as np
import pandas as pd
{%- if cookiecutter.problem_type == "regression" %}
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
{%- endif %}
from twelve.training import {% if cookiecutter.problem_type == "classification" %}evaluation, {% endif %}modeling

from {{ cookiecutter.name }}.contract import LABEL, MODEL_INPUT

PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
{%- if cookiecutter.problem_type == "classification" %}
METRIC, HIGHER_IS_BETTER = "roc_auc", True
PREDICT_METHOD = "predict_proba"
{%- else %}
METRIC, HIGHER_IS_BETTER = "rmse", False
PREDICT_METHOD = "predict"
{%- endif %}


def split_by_time(frame: pd.DataFrame, holdout_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the older events, hold out the most recent ``holdout_share`` (never shuffled)."""
    if not 0.0 < holdout_share < 1.0:
        raise ValueError(f"holdout_share must be within (0, 1), got {holdout_share}")
    ordered = frame.sort_values(["event_timestamp", "event_id"], kind="stable", ignore_index=True)
    cut = round(len(ordered) * (1.0 - holdout_share))
    if cut == 0 or cut == len(ordered):
        raise ValueError(f"{len(ordered)} rows cannot be split with holdout_share={holdout_share}")
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The model input columns of ``frame``, as float64 (what the model is fitted and scored on)."""
    return modeling.model_input(frame, MODEL_INPUT, ())


def build_model(estimator: str, params: dict, seed: int):
    """The unfitted Pipeline: imputation of the numeric inputs, then the estimator."""
    return modeling.build_pipeline(MODEL_INPUT, (), estimator, params, seed)


def fit(train: pd.DataFrame, estimator: str, params: dict, seed: int):
    """The model fitted on ``train``."""
    return build_model(estimator, params, seed).fit(features(train), train[LABEL])


def predict(model, frame: pd.DataFrame) -> np.ndarray:
    """The model's answer per row: {% if cookiecutter.problem_type == "classification" %}the probability of label 1{% else %}the predicted value{% endif %}."""
{%- if cookiecutter.problem_type == "classification" %}
    return model.predict_proba(features(frame))[:, list(model.classes_).index(1)]
{%- else %}
    return model.predict(features(frame))
{%- endif %}


def baseline(train: pd.DataFrame, rows: int) -> np.ndarray:
    """The answers of a model that ignores the features: the training {% if cookiecutter.problem_type == "classification" %}rate of label 1{% else %}mean{% endif %}."""
    return np.full(rows, float(train[LABEL].mean()))

{% if cookiecutter.problem_type == "classification" %}
def metrics(labels: pd.Series, predictions: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss, Brier score, accuracy/precision/recall at ``threshold``."""
    return evaluation.classification_metrics(labels, predictions, threshold)
{% else %}
def metrics(labels: pd.Series, predictions: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² of the predictions."""
    return {
        "rmse": float(root_mean_squared_error(labels, predictions)),
        "mae": float(mean_absolute_error(labels, predictions)),
        "r2": float(r2_score(labels, predictions)),
    }
{% endif %}

def better_by(candidate: float, reference: float, margin: float) -> bool:
    """Whether ``candidate`` beats ``reference`` by ``margin`` ({% if cookiecutter.problem_type == "classification" %}absolute, ROC AUC{% else %}relative, RMSE{% endif %})."""
    if HIGHER_IS_BETTER:
        return candidate >= reference + margin
    return candidate <= reference * (1.0 - margin)
