"""Is the compiled model the pipeline? Compare both on real rows; refuse a model that strays.

Run when a bento is built, on the whole versioned holdout of the model: the bento is built only
when every probability is within the tolerance and every label agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from twelve.deploy.compiled.model import CompiledModel


class ParityError(AssertionError):
    """The compiled model does not answer what the pipeline answers (the message names a row)."""


@dataclass(frozen=True)
class Parity:
    """How closely a compiled model reproduces its pipeline on some rows.

    Attributes:
        rows: rows compared.
        max_abs_diff: largest absolute difference over all rows and outputs (every class's
            probability for a classifier, the prediction for a regressor).
        worst_row: position (0-based) of the row with that difference.
        expected: the pipeline's value at the worst row (probability of the positive class, or
            the prediction).
        actual: the compiled model's value there.
        label_mismatches: rows whose label at the threshold differs (always 0 for a regressor).
        first_mismatch: position of the first such row, None when there is none.
        threshold: the threshold the labels were taken at (None for a regressor).
    """

    rows: int
    max_abs_diff: float
    worst_row: int
    expected: float
    actual: float
    label_mismatches: int
    first_mismatch: int | None
    threshold: float | None


def check_parity(
    pipeline: Pipeline, compiled: CompiledModel, frame: pd.DataFrame, threshold: float = 0.5
) -> Parity:
    """Compare the pipeline and its compiled form on every row of ``frame``.

    Args:
        pipeline: the fitted pipeline.
        compiled: its compiled form.
        frame: the pipeline's input rows (as the pipeline is called on them).
        threshold: a row is labelled positive when its probability is >= this (classifiers).

    Returns:
        The largest absolute difference, where it is, and the label disagreements.

    Raises:
        ValueError: an empty frame, or a classifier and a regressor compared.
    """
    if len(frame) == 0:
        raise ValueError("check_parity needs at least one row")
    if compiled.is_classifier != hasattr(pipeline, "predict_proba"):
        raise ValueError(
            f"the pipeline and the compiled {compiled.estimator} are not the same kind of model"
        )
    if compiled.is_classifier:
        expected = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
        actual = compiled.predict_proba_frame(frame)
        positive_expected, positive_actual = expected[:, 1], actual[:, 1]
    else:
        expected = np.asarray(pipeline.predict(frame), dtype=np.float64).reshape(-1, 1)
        actual = compiled.predict_frame(frame).reshape(-1, 1)
        positive_expected, positive_actual = expected[:, 0], actual[:, 0]
    if expected.shape != actual.shape:
        raise ValueError(f"shapes differ: pipeline {expected.shape}, compiled {actual.shape}")
    diff = np.abs(expected - actual)
    # NaN on one side only is the worst difference there is.
    diff[np.isnan(expected) != np.isnan(actual)] = np.inf
    diff[np.isnan(expected) & np.isnan(actual)] = 0.0
    worst = int(np.argmax(diff.max(axis=1)))
    mismatches: np.ndarray = np.array([], dtype=np.int64)
    if compiled.is_classifier:
        mismatches = np.flatnonzero(
            (positive_expected >= threshold) != (positive_actual >= threshold)
        )
    return Parity(
        rows=len(frame),
        max_abs_diff=float(diff.max()),
        worst_row=worst,
        expected=float(positive_expected[worst]),
        actual=float(positive_actual[worst]),
        label_mismatches=len(mismatches),
        first_mismatch=int(mismatches[0]) if len(mismatches) else None,
        threshold=threshold if compiled.is_classifier else None,
    )


def require_parity(
    pipeline: Pipeline,
    compiled: CompiledModel,
    frame: pd.DataFrame,
    threshold: float = 0.5,
    tolerance: float = 1e-5,
) -> Parity:
    """:func:`check_parity`, failing when the compiled model strays from the pipeline.

    Args:
        pipeline: the fitted pipeline.
        compiled: its compiled form.
        frame: the pipeline's input rows.
        threshold: the decision threshold of the labels.
        tolerance: the largest absolute difference of a probability (or prediction) accepted.

    Returns:
        The parity, when within tolerance and every label agrees.

    Raises:
        ParityError: a difference above ``tolerance`` or a label that differs; the message
            names the row and both values.
    """
    parity = check_parity(pipeline, compiled, frame, threshold)
    if parity.max_abs_diff > tolerance:
        raise ParityError(
            f"compiled {compiled.estimator} differs from the pipeline by "
            f"{parity.max_abs_diff:.3g} (> {tolerance:g}) at row {parity.worst_row}: pipeline "
            f"{parity.expected!r}, compiled {parity.actual!r} ({parity.rows} rows compared)"
        )
    if parity.label_mismatches:
        row = parity.first_mismatch
        check = check_parity(pipeline, compiled, frame.iloc[[row]], threshold)
        raise ParityError(
            f"compiled {compiled.estimator} labels {parity.label_mismatches} of {parity.rows} "
            f"rows differently at threshold {threshold}; first at row {row}: pipeline "
            f"{check.expected!r}, compiled {check.actual!r}"
        )
    return parity
