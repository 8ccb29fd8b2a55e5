"""Scoring a model on the holdout: metrics, the naive baseline, predictions, plots (factor 10).

Pure functions: arrays and frames in, numbers, frames and matplotlib figures out. The figures are
built on ``matplotlib.figure.Figure`` directly (no pyplot): no global state, no GUI backend.
Classification is scored from the probability of the positive class (ROC AUC, PR AUC, log loss,
Brier, accuracy/precision/recall at a threshold), regression from the predicted values (RMSE,
MAE, R²). The gate and the promotion that use these scores are in ``twelve.training.promotion``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)

# The registry aliases: their home is the promotion rule; re-exported for the modules that
# scored models before it existed.
from twelve.training.promotion import CHALLENGER as CHALLENGER
from twelve.training.promotion import CHAMPION as CHAMPION

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# What every training run logs about its holdout predictions (leaderboard, reproduction).
PREDICTIONS_ARTIFACT = "evaluation/holdout_predictions.parquet"
ROC_POINTS_ARTIFACT = "evaluation/roc_points.json"
PREDICTIONS_FINGERPRINT_TAG = "twelve.holdout_predictions_sha256"
# The scikit-learn scorer permutation importance measures the drop of, per problem type.
IMPORTANCE_SCORING = {"classification": "roc_auc", "regression": "neg_root_mean_squared_error"}


def _binary_labels(y_true) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"expected 1-d labels, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("cannot score an empty set")
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"labels must be 0/1, got values {sorted(labels)}")
    if labels != {0, 1}:
        raise ValueError(f"both classes are needed to score, the labels hold only {labels}")
    return y.astype("int64")


def _validated(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y = _binary_labels(y_true)
    p = np.asarray(proba, dtype="float64")
    if p.ndim != 1:
        raise ValueError(f"expected 1-d probabilities, got shape {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} probabilities")
    if np.isnan(p).any():
        raise ValueError(f"{int(np.isnan(p).sum())} probabilities are NaN")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return y, p


def classification_metrics(y_true, proba, threshold: float = 0.5) -> dict[str, float]:
    """The metrics every run logs, from labels and predicted probabilities of the late class.

    Args:
        y_true: 0/1 labels (both classes present).
        proba: predicted probabilities of class 1.
        threshold: a flight is predicted late when its probability is >= this.

    Returns:
        roc_auc, pr_auc (average precision), log_loss, brier, accuracy, precision, recall (at the
        threshold; precision is 0 when nothing is predicted late), positive_rate (share
        predicted late), late_rate (share really late), rows.

    Raises:
        ValueError: mismatched lengths, labels other than 0/1 or a single class, probabilities
            outside [0, 1] or NaN, threshold outside (0, 1).
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    y, p = _validated(y_true, proba)
    predicted = (p >= threshold).astype("int64")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "positive_rate": float(predicted.mean()),
        "late_rate": float(y.mean()),
        "rows": float(len(y)),
    }


def regression_metrics(y_true, predictions) -> dict[str, float]:
    """The metrics every run of a regression logs, from true and predicted values.

    Args:
        y_true: the true values.
        predictions: the predicted values.

    Returns:
        rmse, mae, r2, label_mean (mean of the true values), rows.

    Raises:
        ValueError: empty, mismatched lengths, or NaN/infinite values (counted in the message).
    """
    y = _finite(y_true, "labels")
    p = _finite(predictions, "predictions")
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    return {
        "rmse": float(root_mean_squared_error(y, p)),
        "mae": float(mean_absolute_error(y, p)),
        "r2": float(r2_score(y, p)) if len(y) > 1 else float("nan"),
        "label_mean": float(y.mean()),
        "rows": float(len(y)),
    }


def _finite(values, what: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim != 1:
        raise ValueError(f"expected 1-d {what}, got shape {array.shape}")
    if len(array) == 0:
        raise ValueError("cannot score an empty set")
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(f"{bad} {what} are NaN or infinite")
    return array


def naive_baseline(
    frame: pd.DataFrame, fallback: float, column: str | None = None, *, probability: bool = True
) -> np.ndarray:
    """The naive baseline's answer per row: a column of the data, or the training label mean.

    A project names the column that is its domain's naive guess (for flight delays, the
    carrier's recent late rate used as the probability of being late); without one, every row
    gets ``fallback``, the training set's label mean (the positive rate of a classification,
    the mean of a regression).

    Args:
        frame: rows to score.
        fallback: the answer for rows without a value in ``column`` (all rows without column).
        column: the baseline column, or None.
        probability: the answers are probabilities (clipped to [0, 1]; ``fallback`` must lie
            there).

    Returns:
        One answer per row.

    Raises:
        KeyError: ``column`` is missing from ``frame``.
        ValueError: ``fallback`` is not finite, or outside [0, 1] for a probability.
    """
    if not np.isfinite(fallback):
        raise ValueError(f"the naive baseline's fallback must be a number, got {fallback}")
    if probability and not 0 <= fallback <= 1:
        raise ValueError(f"fallback_rate must be in [0, 1], got {fallback}")
    if column is None:
        return np.full(len(frame), float(fallback))
    if column not in frame.columns:
        raise KeyError(f"the naive baseline needs column '{column}', which is missing")
    values = pd.to_numeric(frame[column]).astype("float64").fillna(fallback)
    return (values.clip(0, 1) if probability else values).to_numpy()


def naive_baseline_proba(frame: pd.DataFrame, fallback_rate: float, column: str) -> np.ndarray:
    """The naive baseline of a classification: ``column`` used as the probability (see above)."""
    return naive_baseline(frame, fallback_rate, column, probability=True)


# ------------------------------------------------------------------------- predictions, curves
def predictions_fingerprint(proba) -> str:
    """SHA-256 of the predicted probabilities as little-endian float64, in holdout order.

    Equal fingerprints mean bit-identical predictions; any refit difference changes it (use
    ``max_abs_difference`` on the predictions themselves for a tolerance).
    """
    import hashlib

    values = np.ascontiguousarray(np.asarray(proba, dtype="<f8"))
    if values.ndim != 1:
        raise ValueError(f"expected 1-d probabilities, got shape {values.shape}")
    return hashlib.sha256(values.tobytes()).hexdigest()


def predictions_frame(ids, y_true, proba) -> pd.DataFrame:
    """Per-row holdout predictions: ``id``, ``label`` (0/1), ``proba`` (of the late class).

    Raises:
        ValueError: the three have different lengths, or labels/probabilities are invalid.
    """
    y, p = _validated(y_true, proba)
    ids = np.asarray(ids)
    if len(ids) != len(y):
        raise ValueError(f"{len(ids)} ids but {len(y)} labels")
    return pd.DataFrame({"id": ids.astype(str), "label": y, "proba": p})


def roc_points(y_true: ArrayLike, proba: ArrayLike, max_points: int = 200) -> dict[str, Any]:
    """The ROC curve as at most ``max_points`` (fpr, tpr) points, plus its AUC (JSON-ready).

    Thinned evenly along the curve, first and last point kept, so a chart of many runs stays
    small.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    y, p = _validated(y_true, proba)
    fpr, tpr, _ = roc_curve(y, p)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {
        "fpr": [round(float(v), 6) for v in fpr],
        "tpr": [round(float(v), 6) for v in tpr],
        "auc": float(roc_auc_score(y, p)),
    }


# ---------------------------------------------------------------------------------------- plots
def roc_figure(y_true: ArrayLike, probas: Mapping[str, ArrayLike]) -> Figure:
    """ROC curves of one or more scorers on the same labels (the diagonal is chance).

    Args:
        y_true: 0/1 labels.
        probas: scorer name -> probabilities (e.g. model, baseline, champion).

    Returns:
        The figure.
    """
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.subplots()
    for name, proba in probas.items():
        y, p = _validated(y_true, proba)
        fpr, tpr, _ = roc_curve(y, p)
        axes.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    return figure


def calibration_figure(
    y_true: ArrayLike, probas: Mapping[str, ArrayLike], bins: int = 10
) -> Figure:
    """Reliability diagram: mean predicted probability against the observed late rate per bin.

    Args:
        y_true: 0/1 labels.
        probas: scorer name -> probabilities.
        bins: number of quantile bins.

    Returns:
        The figure.
    """
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.subplots()
    for name, proba in probas.items():
        y, p = _validated(y_true, proba)
        observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
        axes.plot(predicted, observed, marker="o", label=name)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.set(
        xlabel="mean predicted probability",
        ylabel="observed late rate",
        title="Calibration curve",
    )
    axes.legend(loc="upper left")
    return figure


def prediction_figure(y_true: ArrayLike, predictions: Mapping[str, ArrayLike]) -> Figure:
    """Predicted against true values of one or more regressors (the diagonal is perfect).

    Args:
        y_true: the true values.
        predictions: scorer name -> predicted values (e.g. model, baseline).

    Returns:
        The figure.
    """
    y = _finite(y_true, "labels")
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.subplots()
    for name, values in predictions.items():
        axes.scatter(y, _finite(values, "predictions"), s=6, alpha=0.4, label=name)
    low, high = float(y.min()), float(y.max())
    axes.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect")
    axes.set(xlabel="true value", ylabel="predicted value", title="Predicted against true")
    axes.legend(loc="upper left")
    return figure


def feature_importance(
    model,
    features: pd.DataFrame,
    y_true,
    *,
    sample_rows: int = 2000,
    repeats: int = 3,
    seed: int = 0,
    scoring: str = "roc_auc",
) -> pd.DataFrame:
    """Permutation importance of each input column (drop in the score when it is shuffled).

    Computed on the raw input columns of the whole pipeline, on a seeded sample to stay cheap.

    Args:
        model: the fitted pipeline.
        features: its input frame.
        y_true: the labels (0/1 for ``roc_auc``).
        sample_rows: rows sampled for the computation (all when fewer).
        repeats: shuffles per column.
        seed: seed of the sampling and the shuffles.
        scoring: the scikit-learn scorer (``IMPORTANCE_SCORING`` of the problem type).

    Returns:
        Columns feature, importance_mean, importance_std, sorted by importance, descending.
    """
    y = pd.Series(np.asarray(y_true), index=features.index)
    if len(features) > sample_rows:
        sample = features.sample(sample_rows, random_state=seed)
        y = y.loc[sample.index]
    else:
        sample = features
    if scoring == "roc_auc":
        _binary_labels(y)  # ROC AUC, the score permuted, needs both classes in the sample
    result = permutation_importance(
        model, sample, y, scoring=scoring, n_repeats=repeats, random_state=seed, n_jobs=1
    )
    table = pd.DataFrame(
        {
            "feature": list(features.columns),
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return table.sort_values("importance_mean", ascending=False, ignore_index=True)


def feature_importance_figure(
    importance: pd.DataFrame, top: int = 20, score: str = "ROC AUC"
) -> Figure:
    """Horizontal bars of the most important features (from ``feature_importance``).

    Args:
        importance: the table returned by ``feature_importance``.
        top: how many features to show.
        score: the name of the score whose drop was measured (the axis label).

    Returns:
        The figure.
    """
    shown = importance.head(top).iloc[::-1]
    figure = Figure(figsize=(6.5, 0.3 * len(shown) + 1.5), layout="constrained")
    axes = figure.subplots()
    axes.barh(shown["feature"], shown["importance_mean"], xerr=shown["importance_std"])
    axes.set(
        xlabel=f"drop in {score} when shuffled",
        title="Permutation feature importance (holdout sample)",
    )
    return figure


# ---------------------------------------------------------------------------------------- tables
def comparison_table(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> str:
    """A Markdown table of metrics per scorer (for Dagster metadata).

    Args:
        rows: scorer name -> its metrics.
        metrics: which metrics, as columns.

    Returns:
        The Markdown text.
    """
    lines = ["| scorer | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, values in rows.items():
        cells = [f"{values[m]:.4f}" if m in values else "n/a" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
