"""Pure training and scoring functions (no Dagster): tested directly in tests/test_modeling.py."""

import numpy as np
import pandas as pd
{%- if cookiecutter.problem_type == "classification" %}
from sklearn.ensemble import HistGradientBoostingClassifier as Estimator
from sklearn.metrics import roc_auc_score
{%- else %}
from sklearn.ensemble import HistGradientBoostingRegressor as Estimator
from sklearn.metrics import root_mean_squared_error
{%- endif %}

from {{ cookiecutter.name }}.contract import LABEL, MODEL_INPUT

PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
{%- if cookiecutter.problem_type == "classification" %}
METRIC, HIGHER_IS_BETTER = "roc_auc", True
{%- else %}
METRIC, HIGHER_IS_BETTER = "rmse", False
{%- endif %}


def split_by_time(frame: pd.DataFrame, holdout_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the older events, hold out the most recent ``holdout_share`` (never shuffled)."""
    if not 0.0 < holdout_share < 1.0:
        raise ValueError(f"holdout_share must be within (0, 1), got {holdout_share}")
    ordered = frame.sort_values("event_timestamp", kind="stable", ignore_index=True)
    cut = round(len(ordered) * (1.0 - holdout_share))
    if cut == 0 or cut == len(ordered):
        raise ValueError(f"{len(ordered)} rows cannot be split with holdout_share={holdout_share}")
    return ordered.iloc[:cut], ordered.iloc[cut:]


def fit(train: pd.DataFrame, *, max_iter: int, learning_rate: float, random_state: int):
    """A gradient-boosting model on the model input columns (it handles missing features)."""
    model = Estimator(max_iter=max_iter, learning_rate=learning_rate, random_state=random_state)
    return model.fit(train[list(MODEL_INPUT)], train[LABEL])


def score(model, frame: pd.DataFrame) -> float:
    """The project metric ({% if cookiecutter.problem_type == "classification" %}ROC AUC{% else %}RMSE{% endif %}) of ``model`` on ``frame``."""
{%- if cookiecutter.problem_type == "classification" %}
    return float(roc_auc_score(frame[LABEL], model.predict_proba(frame[list(MODEL_INPUT)])[:, 1]))
{%- else %}
    return float(root_mean_squared_error(frame[LABEL], model.predict(frame[list(MODEL_INPUT)])))
{%- endif %}


def baseline_score(train: pd.DataFrame, holdout: pd.DataFrame) -> float:
    """The metric of a model that ignores the features (what the model must beat)."""
{%- if cookiecutter.problem_type == "classification" %}
    del train  # a constant score has ROC AUC 0.5, whatever the constant
    if holdout[LABEL].nunique() < 2:
        raise ValueError("the holdout has a single label value: ROC AUC is undefined")
    return float(roc_auc_score(holdout[LABEL], np.zeros(len(holdout))))
{%- else %}
    constant = np.full(len(holdout), train[LABEL].mean())
    return float(root_mean_squared_error(holdout[LABEL], constant))
{%- endif %}


def beats_baseline(model_score: float, baseline: float, margin: float) -> bool:
    """Whether the model beats the baseline by ``margin`` (absolute for AUC, relative for RMSE)."""
    if HIGHER_IS_BETTER:
        return model_score >= baseline + margin
    return model_score <= baseline * (1.0 - margin)
