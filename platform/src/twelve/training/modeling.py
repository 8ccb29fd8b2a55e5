"""The model as one scikit-learn ``Pipeline``: fitted preprocessing first, the estimator last.

The preprocessing travels inside the model, so whoever loads a registered version (the evaluation,
the bento) feeds it the raw feature columns and gets the exact transformation it was trained with.
Only scikit-learn components are used (no custom functions), so the pipeline can be saved with
skops and loaded without unpickling arbitrary code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

MISSING_CATEGORY = "__missing__"
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class EstimatorSpec:
    """How to build one estimator and the preprocessing it needs.

    Attributes:
        factory: builds the estimator from keyword parameters.
        encoding: ``"ordinal"`` (trees: one integer column per category) or ``"onehot"``.
        scale: standardize numeric columns (linear models need it, trees do not).
        seed_param: name of the estimator's random-seed parameter, None if it has none.
        defaults: parameters applied before the configured ones.
    """

    factory: Callable[..., ClassifierMixin]
    encoding: str
    scale: bool
    seed_param: str | None = "random_state"
    defaults: Mapping[str, Any] | None = None


ESTIMATORS: dict[str, EstimatorSpec] = {
    "hist_gradient_boosting": EstimatorSpec(HistGradientBoostingClassifier, "ordinal", False),
    "random_forest": EstimatorSpec(
        RandomForestClassifier, "ordinal", False, defaults={"n_jobs": -1}
    ),
    "logistic_regression": EstimatorSpec(
        LogisticRegression, "onehot", True, defaults={"max_iter": 1000}
    ),
    # Predicts the training late rate for every flight: the deliberately useless model that
    # proves the evaluation gate refuses what does not beat the baseline.
    "constant": EstimatorSpec(DummyClassifier, "onehot", False, defaults={"strategy": "prior"}),
}
# Estimators of a numeric label (projects made with `twelve new --problem-type regression`): the
# same preprocessing, ``predict`` instead of ``predict_proba``. Kept apart from ESTIMATORS, which
# lists the classifiers a classification project may choose from.
REGRESSORS: dict[str, EstimatorSpec] = {
    "hist_gradient_boosting_regressor": EstimatorSpec(
        HistGradientBoostingRegressor, "ordinal", False
    ),
    # Predicts the training mean for every row: the regression's deliberately useless model.
    "constant_regressor": EstimatorSpec(
        DummyRegressor, "onehot", False, seed_param=None, defaults={"strategy": "mean"}
    ),
}


def check_estimator(name: str, problem_type: str) -> None:
    """Refuse an estimator that does not fit the problem type.

    Raises:
        ValueError: a regressor for a classification, or a classifier for a regression (the
            message lists the valid names).
    """
    known = ESTIMATORS if problem_type == "classification" else REGRESSORS
    if name not in known:
        raise ValueError(
            f"estimator '{name}' is not a {problem_type} estimator; choose one of {sorted(known)}"
        )


def _categorical_steps(encoding: str) -> Pipeline:
    # Missing categories become their own category. Two imputers because parquet and JSON give
    # None while pandas operations give NaN, and SimpleImputer matches one marker at a time.
    impute = [
        SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY),
        SimpleImputer(missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY),
    ]
    if encoding == "ordinal":
        # Unknown categories at serving time map to -1, which HistGradientBoosting treats as
        # missing; at most 250 categories per column (its limit is 255 bins).
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, max_categories=250
        )
    elif encoding == "onehot":
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10)
    else:
        raise ValueError(f"unknown categorical encoding '{encoding}' (ordinal or onehot)")
    return make_pipeline(*impute, encoder)


def _numeric_steps(scale: bool) -> Pipeline:
    # The indicator keeps "this value was missing" (e.g. an unknown plane) as a signal.
    steps: list = [SimpleImputer(strategy="median", add_indicator=True)]
    if scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps)


def build_estimator(
    name: str, params: Mapping[str, Any] | None = None, seed: int | None = None
) -> tuple[ClassifierMixin, EstimatorSpec]:
    """Instantiate a registered estimator with validated parameters.

    Args:
        name: a key of ``ESTIMATORS`` (or of ``REGRESSORS``).
        params: hyper-parameters; each must be a parameter of the estimator.
        seed: random seed, set on the estimator's seed parameter when it has one.

    Returns:
        The unfitted estimator and its spec.

    Raises:
        ValueError: unknown estimator name or parameter (the message lists the valid ones).
    """
    known = {**ESTIMATORS, **REGRESSORS}
    if name not in known:
        raise ValueError(f"unknown estimator '{name}'; choose one of {sorted(known)}")
    spec = known[name]
    estimator = spec.factory()
    valid = estimator.get_params(deep=False)
    merged = {**(spec.defaults or {}), **(params or {})}
    unknown = sorted(set(merged) - set(valid))
    if unknown:
        raise ValueError(
            f"estimator '{name}' has no parameter(s) {unknown}; valid: {sorted(valid)}"
        )
    if seed is not None and spec.seed_param is not None and spec.seed_param in valid:
        merged[spec.seed_param] = seed
    estimator.set_params(**merged)
    return estimator, spec


def build_pipeline(
    numeric: Sequence[str],
    categorical: Sequence[str],
    estimator: str,
    params: Mapping[str, Any] | None = None,
    seed: int | None = 0,
) -> Pipeline:
    """The unfitted model: preprocessing of the feature columns, then the estimator.

    Args:
        numeric: numeric feature columns (median-imputed with a missing indicator, standardized
            when the estimator needs it).
        categorical: categorical feature columns (missing -> its own category; ordinal-encoded
            for trees, one-hot for the others; unseen values at prediction time are tolerated).
        estimator: name of the estimator in ``ESTIMATORS``.
        params: the estimator's hyper-parameters.
        seed: random seed of the estimator.

    Returns:
        A ``Pipeline`` with steps ``preprocess`` and ``estimator``; fit it on a frame holding
        the named columns.

    Raises:
        ValueError: no feature columns, a column in both lists, or a bad estimator/parameter.
    """
    numeric, categorical = list(numeric), list(categorical)
    if not numeric and not categorical:
        raise ValueError("build_pipeline needs at least one feature column")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"column(s) {both} are listed as both numeric and categorical")
    model, spec = build_estimator(estimator, params, seed)
    transformers = []
    if categorical:
        transformers.append(("categorical", _categorical_steps(spec.encoding), categorical))
    if numeric:
        transformers.append(("numeric", _numeric_steps(spec.scale), numeric))
    if (
        isinstance(model, HistGradientBoostingClassifier | HistGradientBoostingRegressor)
        and spec.encoding == "ordinal"
    ):
        # The ordinal columns come first in the transformed matrix: tell the booster they are
        # categories, not ordered numbers.
        model.set_params(categorical_features=list(range(len(categorical))) or None)
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    return Pipeline([("preprocess", preprocess), ("estimator", model)])


def model_input(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]):
    """The model's input frame: the feature columns in order, with uniform dtypes.

    Numeric columns become float64 (nullable integers such as a plane's seats hold missing
    values), categorical ones object with NaN for missing, so training, evaluation and the
    logged signature agree whatever dtypes the parquet file came with.

    Args:
        frame: a frame holding at least the feature columns.
        numeric: numeric feature columns.
        categorical: categorical feature columns.

    Returns:
        A new frame with only the feature columns.

    Raises:
        KeyError: feature columns missing from ``frame`` (all of them are named).
    """
    columns = [*categorical, *numeric]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise KeyError(f"feature column(s) {missing} are missing from the data")
    out = pd.DataFrame(index=frame.index)
    for column in categorical:
        values = frame[column].astype(object)
        out[column] = values.where(values.notna(), np.nan)
    for column in numeric:
        try:
            out[column] = pd.to_numeric(frame[column]).astype("float64")
        except (TypeError, ValueError) as error:
            raise ValueError(f"feature column '{column}' is not numeric: {error}") from error
    return out


def trusted_skops_types(untrusted: Sequence[str]) -> list[str]:
    """The types skops flags as untrusted in our pipeline, accepted only from known libraries.

    skops refuses types outside its default allow-list (HistGradientBoosting's ``TreePredictor``,
    for one). We trust scikit-learn, NumPy and SciPy types; anything else in a saved model means
    custom code crept in, and is refused rather than silently trusted.

    Args:
        untrusted: what ``skops.io.get_untrusted_types`` reported for the dumped model.

    Returns:
        The list to pass as ``skops_trusted_types``.

    Raises:
        ValueError: a type from another module (named in the message).
    """
    allowed_prefixes = ("sklearn.", "numpy.", "scipy.")
    allowed_exact = {"functools.partial"}
    refused = [
        name
        for name in untrusted
        if not (name.startswith(allowed_prefixes) or name in allowed_exact)
    ]
    if refused:
        raise ValueError(
            f"the model references type(s) {refused} outside scikit-learn/NumPy/SciPy; "
            "refusing to mark them as trusted for skops"
        )
    return sorted(untrusted)


def months_between(first: str, last: str) -> list[str]:
    """The months from ``first`` to ``last`` inclusive, as ``YYYY-MM`` strings.

    Raises:
        ValueError: a value is not ``YYYY-MM``, or ``last`` is before ``first``.
    """
    for value in (first, last):
        if not _MONTH.fullmatch(value):
            raise ValueError(f"months must be YYYY-MM, got {value!r}")
    start, end = pd.Period(first, freq="M"), pd.Period(last, freq="M")
    if end < start:
        raise ValueError(f"last month {last} is before first month {first}")
    return [str(period) for period in pd.period_range(start, end, freq="M")]


def rows_of_months(
    frame: pd.DataFrame, months: Sequence[str], column: str = "flight_month"
) -> pd.DataFrame:
    """The rows whose ``column`` is one of ``months``; every month must have rows.

    Args:
        frame: the training set.
        months: ``YYYY-MM`` months to keep.
        column: the month column.

    Returns:
        The selected rows (index reset).

    Raises:
        KeyError: ``column`` is missing.
        ValueError: a requested month has no rows (the message lists the months present), so a
            mistyped or not yet ingested month is never silently dropped.
    """
    if column not in frame.columns:
        raise KeyError(f"column '{column}' is missing from the training set")
    present = set(frame[column].astype(str).unique())
    absent = sorted(set(months) - present)
    if absent:
        raise ValueError(
            f"month(s) {absent} have no rows in the training set (months present: "
            f"{sorted(present)}); ingest them or change the configured months"
        )
    return frame[frame[column].astype(str).isin(set(months))].reset_index(drop=True)
