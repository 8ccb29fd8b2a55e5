"""Scoring a model on labelled rows, whatever the problem: ROC AUC for classification, RMSE for
regression (``Project.metric``), with the naive baseline beside it. Pure functions on arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

CLASSIFICATION, REGRESSION = "classification", "regression"


def labels_of(frame: pd.DataFrame, label: str, problem_type: str) -> pd.Series:
    """The label column as numbers (0/1 for classification).

    Raises:
        ValueError: classification labels of one class only (no ROC AUC), or no row.
    """
    if frame.empty:
        raise ValueError("no labelled row to score")
    if problem_type == CLASSIFICATION:
        labels = frame[label].astype("int64")
        if labels.nunique() < 2:
            raise ValueError(f"the labels ({label}) have one class only: no ROC AUC")
        return labels
    return pd.to_numeric(frame[label]).astype("float64")


def predictions(model, features: pd.DataFrame, problem_type: str) -> np.ndarray:
    """The model's probability of class 1 (classification) or its predicted value (regression)."""
    if problem_type == CLASSIFICATION:
        return np.asarray(model.predict_proba(features))[:, 1]
    return np.asarray(model.predict(features), dtype="float64")


def baseline_predictions(frame: pd.DataFrame, column: str, training_mean: float) -> np.ndarray:
    """The naive prediction: ``column`` (e.g. a historical rate) where known, else the mean
    label of the training rows; that mean alone when no column is configured.

    Raises:
        KeyError: the configured column is not in the frame (named).
    """
    if not column:
        return np.full(len(frame), float(training_mean))
    if column not in frame.columns:
        raise KeyError(f"baseline_column '{column}' is not a column of the training set")
    return pd.to_numeric(frame[column]).astype("float64").fillna(training_mean).to_numpy()


def regression_metrics(y_true, predicted) -> dict[str, float]:
    """RMSE, MAE and R² of predicted values, and the row count.

    Raises:
        ValueError: mismatched lengths or NaN values.
    """
    y = np.asarray(y_true, dtype="float64")
    p = np.asarray(predicted, dtype="float64")
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    if np.isnan(y).any() or np.isnan(p).any():
        raise ValueError("labels and predictions must not be NaN")
    errors = p - y
    total = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt((errors**2).mean())),
        "mae": float(np.abs(errors).mean()),
        "r2": 1.0 - float((errors**2).sum()) / total if total else float("nan"),
        "rows": float(len(y)),
    }


def metrics(problem_type: str, y_true, predicted, threshold: float = 0.5) -> dict[str, float]:
    """The metrics of a problem type: ``twelve.training.evaluation.classification_metrics`` or
    :func:`regression_metrics`."""
    if problem_type == CLASSIFICATION:
        from twelve.training import evaluation

        return evaluation.classification_metrics(y_true, np.clip(predicted, 0, 1), threshold)
    if problem_type == REGRESSION:
        return regression_metrics(y_true, predicted)
    raise ValueError(f"problem type {problem_type!r} is not {CLASSIFICATION} or {REGRESSION}")
