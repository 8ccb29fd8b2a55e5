"""Scoring a model on the holdout, the naive baseline, the plots, and the gate (factor 10).

Pure functions: arrays and frames in, numbers, frames and matplotlib figures out. The figures are
built on ``matplotlib.figure.Figure`` directly (no pyplot): no global state, no GUI backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

# Names of the gate's checks: the Dagster asset checks carry the same names.
BEATS_BASELINE = "beats_naive_baseline"
MEETS_MIN_ROC_AUC = "meets_min_roc_auc"
CHAMPION, CHALLENGER = "champion", "challenger"
# What every training run logs about its holdout predictions (leaderboard, reproduction).
PREDICTIONS_ARTIFACT = "evaluation/holdout_predictions.parquet"
ROC_POINTS_ARTIFACT = "evaluation/roc_points.json"
PREDICTIONS_FINGERPRINT_TAG = "twelve.holdout_predictions_sha256"


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


def naive_baseline_proba(
    frame: pd.DataFrame, fallback_rate: float, column: str = "carrier_late_rate_28d"
) -> np.ndarray:
    """The naive baseline: the carrier's recent late rate used as the probability of being late.

    Args:
        frame: rows to score, with ``column``.
        fallback_rate: probability for rows without a rate (a carrier with no recent history);
            the training set's late rate.
        column: the historical late-rate column.

    Returns:
        One probability per row.

    Raises:
        KeyError: ``column`` is missing.
        ValueError: ``fallback_rate`` outside [0, 1].
    """
    if column not in frame.columns:
        raise KeyError(f"the naive baseline needs column '{column}', which is missing")
    if not 0 <= fallback_rate <= 1:
        raise ValueError(f"fallback_rate must be in [0, 1], got {fallback_rate}")
    rates = pd.to_numeric(frame[column]).astype("float64")
    return rates.fillna(fallback_rate).clip(0, 1).to_numpy()


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


def roc_points(y_true, proba, max_points: int = 200) -> dict[str, list[float]]:
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
def roc_figure(y_true, probas: Mapping[str, Sequence[float]]) -> Figure:
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


def calibration_figure(y_true, probas: Mapping[str, Sequence[float]], bins: int = 10) -> Figure:
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


def feature_importance(
    model,
    features: pd.DataFrame,
    y_true,
    *,
    sample_rows: int = 2000,
    repeats: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Permutation importance of each input column (drop in ROC AUC when it is shuffled).

    Computed on the raw input columns of the whole pipeline, on a seeded sample to stay cheap.

    Args:
        model: a fitted classifier with ``predict_proba`` (the pipeline).
        features: its input frame.
        y_true: 0/1 labels.
        sample_rows: rows sampled for the computation (all when fewer).
        repeats: shuffles per column.
        seed: seed of the sampling and the shuffles.

    Returns:
        Columns feature, importance_mean, importance_std, sorted by importance, descending.
    """
    y = pd.Series(np.asarray(y_true), index=features.index)
    if len(features) > sample_rows:
        sample = features.sample(sample_rows, random_state=seed)
        y = y.loc[sample.index]
    else:
        sample = features
    _binary_labels(y)  # ROC AUC, the score permuted, needs both classes in the sample
    result = permutation_importance(
        model, sample, y, scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=1
    )
    table = pd.DataFrame(
        {
            "feature": list(features.columns),
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return table.sort_values("importance_mean", ascending=False, ignore_index=True)


def feature_importance_figure(importance: pd.DataFrame, top: int = 20) -> Figure:
    """Horizontal bars of the most important features (from ``feature_importance``).

    Args:
        importance: the table returned by ``feature_importance``.
        top: how many features to show.

    Returns:
        The figure.
    """
    shown = importance.head(top).iloc[::-1]
    figure = Figure(figsize=(6.5, 0.3 * len(shown) + 1.5), layout="constrained")
    axes = figure.subplots()
    axes.barh(shown["feature"], shown["importance_mean"], xerr=shown["importance_std"])
    axes.set(
        xlabel="drop in ROC AUC when shuffled",
        title="Permutation feature importance (holdout sample)",
    )
    return figure


# ----------------------------------------------------------------------------------------- gate
@dataclass(frozen=True)
class GateCheck:
    """One criterion of the gate, as a Dagster asset check reports it."""

    name: str
    passed: bool
    description: str


@dataclass(frozen=True)
class Decision:
    """What the gate decided: the alias to give (None: none) and why."""

    alias: str | None
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the candidate passed every check."""
        return self.alias is not None


def _roc_auc(metrics: Mapping[str, float], whose: str) -> float:
    if "roc_auc" not in metrics:
        raise KeyError(f"the {whose} metrics have no 'roc_auc' (keys: {sorted(metrics)})")
    return float(metrics["roc_auc"])


def gate_checks(
    candidate_metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, float],
    min_roc_auc: float,
) -> list[GateCheck]:
    """The gate's checks: the candidate beats the naive baseline and reaches the minimum ROC AUC.

    A NaN metric fails its check (it is never treated as good enough).

    Args:
        candidate_metrics: the candidate's metrics on the holdout (``classification_metrics``).
        baseline_metrics: the naive baseline's metrics on the same holdout.
        min_roc_auc: the configured minimum ROC AUC.

    Returns:
        One ``GateCheck`` per criterion, in a fixed order.
    """
    candidate = _roc_auc(candidate_metrics, "candidate")
    baseline = _roc_auc(baseline_metrics, "baseline")
    beats = not math.isnan(candidate) and not math.isnan(baseline) and candidate > baseline
    meets = not math.isnan(candidate) and candidate >= min_roc_auc
    return [
        GateCheck(
            BEATS_BASELINE,
            beats,
            f"ROC AUC {candidate:.4f} {'>' if beats else '<='} naive baseline {baseline:.4f}",
        ),
        GateCheck(
            MEETS_MIN_ROC_AUC,
            meets,
            f"ROC AUC {candidate:.4f} {'>=' if meets else '<'} minimum {min_roc_auc:.4f}",
        ),
    ]


def decide_alias(
    candidate_metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, float],
    min_roc_auc: float,
    has_champion: bool,
) -> Decision:
    """Which alias a candidate earns: ``champion`` if it is the first to pass, else ``challenger``.

    A candidate that fails any check gets no alias, and the aliases already given stay where
    they are. Promoting a challenger to champion is a separate, deliberate step.

    Args:
        candidate_metrics: the candidate's metrics on the holdout.
        baseline_metrics: the naive baseline's metrics on the same holdout.
        min_roc_auc: the configured minimum ROC AUC.
        has_champion: whether the registered model already has a ``champion``.

    Returns:
        The decision with one reason per check (and the alias chosen).
    """
    checks = gate_checks(candidate_metrics, baseline_metrics, min_roc_auc)
    reasons = [f"{'passed' if c.passed else 'FAILED'} {c.name}: {c.description}" for c in checks]
    if not all(check.passed for check in checks):
        return Decision(None, [*reasons, "no alias given: every alias stays as it was"])
    alias = CHALLENGER if has_champion else CHAMPION
    why = "a champion exists already" if has_champion else "there is no champion yet"
    return Decision(alias, [*reasons, f"alias '{alias}' given: {why}"])


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
