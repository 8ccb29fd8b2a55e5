"""Fitting one pipeline and scoring it on the holdout (pure: frames in, a :class:`Scored` out).

The training rows are the training set's rows of the configured months (by the contract's period
column); the holdout must be later than all of them. The fitted pipeline, its answers on the
holdout, the naive baseline's answers and both sets of metrics are what the training run logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from twelve.features.contract import Contract
from twelve.training import modeling
from twelve.training.config import TrainingConfig
from twelve.training.scoring import Scoring


class TrainingDataError(ValueError):
    """The training rows or the holdout cannot train this model (the message says why)."""


@dataclass
class Scored:
    """A fitted pipeline and everything measured on the holdout.

    Attributes:
        pipeline: the fitted scikit-learn pipeline.
        answers: its answers on the holdout (probabilities or values).
        baseline_answers: the naive baseline's answers on the holdout.
        metrics: the model's metrics.
        baseline: the baseline's metrics.
        importance: permutation importance per input column.
        importance_figure: its bar chart.
        labels: the holdout labels.
        train_rows: rows fitted on.
        train_label_mean: mean of the training labels (positive rate or mean value).
        fit_seconds: how long the fit took.
    """

    pipeline: Any
    answers: np.ndarray
    baseline_answers: np.ndarray
    metrics: dict[str, float]
    baseline: dict[str, float]
    importance: pd.DataFrame
    importance_figure: Any
    labels: pd.Series
    train_rows: int
    train_label_mean: float
    fit_seconds: float


def features(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The model input of ``frame``, typed as training and evaluation read it."""
    return modeling.model_input(frame, contract.numeric_columns, contract.categorical_columns)


def training_rows(
    frame: pd.DataFrame, config: TrainingConfig, holdout: pd.DataFrame, period: str
) -> pd.DataFrame:
    """The training set's rows of the configured months; they must all precede the holdout.

    Args:
        frame: the training set.
        config: the run's training config (``first_month``, ``last_month``).
        holdout: the holdout rows.
        period: the contract's period column (``YYYY-MM``).

    Raises:
        TrainingDataError: a month without rows, or a holdout month not after the training.
    """
    try:
        months = modeling.months_between(config.first_month, config.last_month)
        train = modeling.rows_of_months(frame, months, column=period)
    except (KeyError, ValueError) as error:
        raise TrainingDataError(str(error).strip("'\"")) from error
    holdout_months = sorted(holdout[period].astype(str).unique())
    if not holdout_months:
        raise TrainingDataError("the holdout has no rows")
    if holdout_months[0] <= config.last_month:
        raise TrainingDataError(
            f"holdout month(s) {holdout_months} are not after the last training month "
            f"{config.last_month}: the holdout must be later than all training data"
        )
    return train


def fit_and_score(
    config: TrainingConfig,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    scoring: Scoring,
    baseline_column: str | None = None,
) -> Scored:
    """Fit the configured pipeline on ``train`` and score it and the baseline on ``holdout``.

    Fit, prediction and importance run with at most ``config.threads`` CPU threads.

    Args:
        config: estimator, params, seed, threshold, importance sample, threads.
        train: the training rows.
        holdout: the holdout rows.
        contract: the project's contract (feature columns, label).
        scoring: the problem type's answers and metrics.
        baseline_column: the column the naive baseline answers with (None: the label mean).
    """
    pipeline = modeling.build_pipeline(
        contract.numeric_columns,
        contract.categorical_columns,
        config.estimator,
        config.params,
        config.seed,
    )
    label = contract.label.name
    x_train, y_train = features(train, contract), scoring.labels(train, label)
    x_holdout, y_holdout = features(holdout, contract), scoring.labels(holdout, label)
    with threadpool_limits(limits=config.threads or None):
        started = time.perf_counter()
        pipeline.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
        answers = scoring.predict(pipeline, x_holdout)
        importance, figure = scoring.importance(
            pipeline,
            x_holdout,
            y_holdout,
            sample_rows=config.importance_sample_rows,
            seed=config.seed,
        )
    label_mean = float(y_train.mean())
    baseline_answers = scoring.baseline(holdout, label_mean, baseline_column)
    return Scored(
        pipeline=pipeline,
        answers=answers,
        baseline_answers=baseline_answers,
        metrics=scoring.metrics(y_holdout, answers, config.threshold),
        baseline=scoring.metrics(y_holdout, baseline_answers, config.threshold),
        importance=importance,
        importance_figure=figure,
        labels=y_holdout,
        train_rows=len(train),
        train_label_mean=label_mean,
        fit_seconds=fit_seconds,
    )
