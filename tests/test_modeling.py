"""The model Pipeline: preprocessing travels with the estimator, config chooses the estimator."""

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from twelve.training import modeling

NUMERIC = ["distance", "seats"]
CATEGORICAL = ["carrier", "plane_type"]


def _frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A frame with the kinds of gaps real inputs have: None, NaN, pd.NA, nullable integers."""
    rng = np.random.default_rng(seed)
    carrier = rng.choice(["AA", "UA", "DL"], rows).astype(object)
    frame = pd.DataFrame(
        {
            "carrier": carrier,
            "plane_type": rng.choice(["jet", "prop", None], rows).astype(object),
            "distance": rng.uniform(100, 2500, rows),
            "seats": pd.array(rng.integers(20, 300, rows), dtype="Int64"),
        }
    )
    frame.loc[::17, "distance"] = np.nan
    frame.loc[::13, "seats"] = pd.NA
    frame.loc[::11, "plane_type"] = np.nan
    late = (carrier == "UA") | (frame["distance"].fillna(0) > 2000)
    y = pd.Series((late ^ (rng.uniform(size=rows) < 0.1)).astype(int))
    return frame, y


@pytest.mark.parametrize("name", sorted(modeling.ESTIMATORS))
def test_every_registered_estimator_fits_on_raw_columns_with_gaps_and_predicts(name):
    frame, y = _frame()
    x = modeling.model_input(frame, NUMERIC, CATEGORICAL)
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, name, seed=0).fit(x, y)
    assert [step for step, _ in pipeline.steps] == ["preprocess", "estimator"]
    proba = pipeline.predict_proba(x)[:, 1]
    assert proba.shape == (len(frame),)
    assert np.isfinite(proba).all()
    if name != "constant":
        assert roc_auc_score(y, proba) > 0.8  # the signal went through the preprocessing


def test_unseen_and_missing_categories_at_prediction_time_are_tolerated():
    frame, y = _frame()
    x = modeling.model_input(frame, NUMERIC, CATEGORICAL)
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, "hist_gradient_boosting").fit(x, y)
    new = pd.DataFrame(
        {"carrier": ["ZZ", None], "plane_type": [None, "rotor"], "distance": [np.nan, 500.0]}
    ).assign(seats=[np.nan, 100.0])
    assert pipeline.predict_proba(modeling.model_input(new, NUMERIC, CATEGORICAL)).shape == (2, 2)


def _preprocess(pipeline) -> ColumnTransformer:
    return pipeline.named_steps["preprocess"]


def test_trees_get_ordinal_categories_unscaled_and_the_booster_knows_which_are_categories():
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, "hist_gradient_boosting")
    transformers = {name: steps for name, steps, _ in _preprocess(pipeline).transformers}
    assert isinstance(transformers["categorical"].steps[-1][1], OrdinalEncoder)
    assert not any(isinstance(s, StandardScaler) for _, s in transformers["numeric"].steps)
    estimator = pipeline.named_steps["estimator"]
    assert isinstance(estimator, HistGradientBoostingClassifier)
    assert estimator.categorical_features == [0, 1]


def test_linear_models_get_one_hot_categories_and_scaled_numbers():
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, "logistic_regression")
    transformers = {name: steps for name, steps, _ in _preprocess(pipeline).transformers}
    assert isinstance(transformers["categorical"].steps[-1][1], OneHotEncoder)
    assert isinstance(transformers["numeric"].steps[-1][1], StandardScaler)


def test_params_and_seed_reach_the_estimator():
    pipeline = modeling.build_pipeline(
        NUMERIC, CATEGORICAL, "random_forest", {"n_estimators": 7, "max_depth": 3}, seed=11
    )
    params = pipeline.named_steps["estimator"].get_params()
    assert (params["n_estimators"], params["max_depth"], params["random_state"]) == (7, 3, 11)


def test_the_same_seed_gives_the_same_model():
    frame, y = _frame()
    x = modeling.model_input(frame, NUMERIC, CATEGORICAL)
    runs = [
        modeling.build_pipeline(NUMERIC, CATEGORICAL, "random_forest", {"n_estimators": 5}, 3)
        .fit(x, y)
        .predict_proba(x)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize(
    ("numeric", "categorical", "estimator", "params", "message"),
    [
        (NUMERIC, CATEGORICAL, "xgboost", None, "unknown estimator 'xgboost'"),
        (
            NUMERIC,
            CATEGORICAL,
            "random_forest",
            {"max_iter": 3},
            r"no parameter\(s\) \['max_iter'\]",
        ),
        ([], [], "random_forest", None, "at least one feature column"),
        (["carrier"], ["carrier"], "random_forest", None, "both numeric and categorical"),
    ],
)
def test_bad_model_configuration_is_refused_with_the_reason(
    numeric, categorical, estimator, params, message
):
    with pytest.raises(ValueError, match=message):
        modeling.build_pipeline(numeric, categorical, estimator, params)


def test_model_input_orders_columns_and_unifies_dtypes():
    frame, _ = _frame(rows=20)
    frame["unrelated"] = 1
    x = modeling.model_input(frame, NUMERIC, CATEGORICAL)
    assert list(x.columns) == CATEGORICAL + NUMERIC
    assert x["seats"].dtype == "float64"
    assert x["seats"].isna().sum() == frame["seats"].isna().sum()
    assert x["plane_type"].dtype == object
    assert x["plane_type"].map(lambda v: v is None).sum() == 0  # None became NaN


def test_model_input_names_missing_and_non_numeric_columns():
    frame, _ = _frame(rows=5)
    with pytest.raises(KeyError, match=r"\['seats'\]"):
        modeling.model_input(frame.drop(columns="seats"), NUMERIC, CATEGORICAL)
    with pytest.raises(ValueError, match="'distance' is not numeric"):
        modeling.model_input(frame.assign(distance="far"), NUMERIC, CATEGORICAL)


def test_a_fitted_pipeline_round_trips_through_skops_with_the_trusted_types():
    frame, y = _frame()
    x = modeling.model_input(frame, NUMERIC, CATEGORICAL)
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, "hist_gradient_boosting").fit(x, y)
    dumped = skops.io.dumps(pipeline)
    trusted = modeling.trusted_skops_types(skops.io.get_untrusted_types(data=dumped))
    loaded = skops.io.loads(dumped, trusted=trusted)
    np.testing.assert_array_equal(loaded.predict_proba(x), pipeline.predict_proba(x))


def test_types_from_outside_the_scientific_stack_are_never_trusted():
    assert modeling.trusted_skops_types(["numpy.dtype", "sklearn.tree._tree.Tree"]) == [
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
    ]
    with pytest.raises(ValueError, match=r"mypackage\.Custom"):
        modeling.trusted_skops_types(["numpy.dtype", "mypackage.Custom"])


def test_months_between_is_inclusive_and_checks_its_bounds():
    assert modeling.months_between("2012-11", "2013-02") == [
        "2012-11",
        "2012-12",
        "2013-01",
        "2013-02",
    ]
    with pytest.raises(ValueError, match="before first month"):
        modeling.months_between("2013-05", "2013-01")
    with pytest.raises(ValueError, match="YYYY-MM"):
        modeling.months_between("May", "2013-01")


def test_rows_of_months_keeps_the_months_and_refuses_one_without_rows():
    frame = pd.DataFrame({"flight_month": ["2013-01", "2013-02", "2013-02"], "x": [1, 2, 3]})
    assert modeling.rows_of_months(frame, ["2013-02"])["x"].tolist() == [2, 3]
    with pytest.raises(ValueError, match=r"\['2013-12'\] have no rows.*2013-01"):
        modeling.rows_of_months(frame, ["2013-02", "2013-12"])
    with pytest.raises(KeyError, match="flight_month"):
        modeling.rows_of_months(frame.drop(columns="flight_month"), ["2013-01"])
