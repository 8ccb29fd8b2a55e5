"""The compiled model answers what the fitted pipeline answers, on real flights and on the gaps
serving meets (None or NaN categories, unknown categories, rows with no number at all).
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from threadpoolctl import threadpool_limits

from twelve.deploy.compiled.build import compile_pipeline
from twelve.deploy.compiled.model import CompiledModel
from twelve.deploy.compiled.parity import ParityError, check_parity, require_parity
from twelve.training import modeling

CATEGORICAL = ["carrier", "origin", "dest", "plane_type", "plane_manufacturer", "plane_engine"]
NUMERIC = [
    *("distance", "sched_dep_hour", "day_of_week", "temp", "dewp", "humid", "wind_dir"),
    *("wind_speed", "wind_gust", "precip", "pressure", "visib", "plane_year", "plane_seats"),
]
WEATHER = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure",
           "visib"]  # fmt: skip
PLANES = {"year": "plane_year", "seats": "plane_seats", "type": "plane_type",
          "manufacturer": "plane_manufacturer", "engine": "plane_engine"}  # fmt: skip
# Small enough to keep the module at a few seconds, large enough for real trees.
PARAMS = {
    "hist_gradient_boosting": {"max_iter": 60},
    "random_forest": {"n_estimators": 20, "min_samples_leaf": 3},
    "logistic_regression": {},
    "constant": {},
    "hist_gradient_boosting_regressor": {"max_iter": 60},
    "constant_regressor": {},
}


def _flights(month: int, rows: int) -> pd.DataFrame:
    """Real flights of one 2013 month with their weather and plane: the model's kind of input."""
    from flight_delays import ingest

    flights = ingest.read_flights(f"2013-{month:02d}").dropna(subset=["dep_time", "arr_delay"])
    flights = flights.sample(n=rows, random_state=month).astype({"tailnum": object})
    weather = ingest.read_weather().drop_duplicates(["origin", "time_hour"])
    planes = ingest.read_planes().rename(columns=PLANES).astype({"tailnum": object})
    frame = flights.astype({"origin": object}).merge(
        weather.astype({"origin": object})[["origin", "time_hour", *WEATHER]], how="left"
    )
    frame = frame.merge(planes[["tailnum", *PLANES.values()]], how="left")
    frame["sched_dep_hour"] = frame["hour"]
    frame["day_of_week"] = frame["time_hour"].dt.tz_convert("America/New_York").dt.dayofweek
    out = pd.DataFrame(index=frame.index)
    for column in CATEGORICAL:  # as parquet gives them: object, None for a gap
        values = frame[column].astype(object)
        out[column] = values.where(values.notna(), None)
    for column in NUMERIC:
        out[column] = frame[column].astype("float64")
    out["is_late"] = (frame["arr_delay"] > 15).astype("int64")
    out["arr_delay"] = frame["arr_delay"].astype("float64")
    return out.reset_index(drop=True)


def _with_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """Real rows, then the same rows with every kind of gap serving meets, stacked."""
    parts = [rows]
    for column in CATEGORICAL:
        parts.append(rows.head(8).assign(**{column: None}))
        parts.append(rows.head(8).assign(**{column: np.nan}))
        parts.append(rows.head(8).assign(**{column: f"NEVER-SEEN-{column}"}))
    parts.append(rows.head(8).assign(**dict.fromkeys(NUMERIC, np.nan)))  # no number at all
    parts.append(rows.head(8).assign(**dict.fromkeys(CATEGORICAL, None)))  # no category at all
    everything = rows.head(8).assign(**dict.fromkeys(NUMERIC, np.nan))
    parts.append(everything.assign(**dict.fromkeys(CATEGORICAL, np.nan)))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # On a shared 2-core machine the booster's OpenMP threads fight over the cores: one thread
    # fits these small sets several times faster.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    """January flights to train on; February flights, plus gap rows, to compare on."""
    return {"train": _flights(1, 3000), "compare": _with_gaps(_flights(2, 600))}


def _fit(name: str, train: pd.DataFrame, **encoder_params):
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, name, PARAMS[name], seed=0)
    pipeline.set_params(**encoder_params)
    label = "arr_delay" if name in modeling.REGRESSORS else "is_late"
    return pipeline.fit(modeling.model_input(train, NUMERIC, CATEGORICAL), train[label])


@pytest.fixture(scope="module")
def fitted(data) -> dict[str, tuple]:
    """Every registered estimator fitted on real flights, and its compiled form."""
    out = {}
    for name in [*modeling.ESTIMATORS, *modeling.REGRESSORS]:
        pipeline = _fit(name, data["train"])
        example = modeling.model_input(data["train"].head(5), NUMERIC, CATEGORICAL)
        out[name] = (pipeline, CompiledModel.from_bytes(
            compile_pipeline(pipeline, example)))  # fmt: skip
    return out


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    # The pipeline's input as callers hand it over: None and NaN both kept (no model_input).
    return frame[[*CATEGORICAL, *NUMERIC]]


@pytest.mark.parametrize("name", [*modeling.ESTIMATORS, *modeling.REGRESSORS])
def test_the_compiled_model_predicts_what_the_pipeline_predicts_on_real_flights(name, data, fitted):
    pipeline, model = fitted[name]
    frame = _features(data["compare"])
    # The gaps are really there: both markers of a missing category, unknown categories.
    assert frame["plane_type"].map(lambda v: v is None).any()
    assert frame["plane_type"].map(lambda v: isinstance(v, float)).any()
    parity = require_parity(pipeline, model, frame, threshold=0.5)
    assert parity.rows == len(frame) == 600 + 8 * (3 * len(CATEGORICAL) + 3)
    assert parity.max_abs_diff <= 1e-9  # float64 all the way: exact but for rounding
    assert parity.label_mismatches == 0


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "logistic_regression"])
def test_plain_column_lists_give_the_same_answer_row_by_row(name, data, fitted):
    pipeline, model = fitted[name]
    frame = _features(data["compare"]).iloc[[0, 600, 608, 616, len(data["compare"]) - 1]]
    for position in range(len(frame)):
        row = frame.iloc[[position]]
        columns = {column: row[column].tolist() for column in row.columns}  # Python lists
        np.testing.assert_allclose(
            model.predict_proba(columns), pipeline.predict_proba(row), rtol=0, atol=1e-12
        )


@pytest.mark.parametrize(
    ("name", "parameter", "value"),
    [
        ("hist_gradient_boosting", "preprocess__categorical__ordinalencoder__max_categories", 4),
        ("random_forest", "preprocess__categorical__ordinalencoder__max_categories", 4),
        ("logistic_regression", "preprocess__categorical__onehotencoder__min_frequency", 200),
    ],
)
def test_infrequent_categories_are_grouped_as_the_encoder_groups_them(name, parameter, value, data):
    pipeline = _fit(name, data["train"], **{parameter: value})
    model = CompiledModel.from_bytes(compile_pipeline(pipeline, _features(data["train"])))
    assert require_parity(pipeline, model, _features(data["compare"])).rows > 0


def test_a_missing_category_is_one_category_whatever_its_marker(fitted):
    pipeline, model = fitted["hist_gradient_boosting"]
    row = {"carrier": "UA", "origin": "EWR", "dest": "ORD", "plane_type": "x",
           "plane_manufacturer": "BOEING", "plane_engine": "Turbo-fan"}  # fmt: skip
    numbers = dict.fromkeys(NUMERIC, 1.0)
    answers = []
    for marker in (None, np.nan, pd.NA, modeling.MISSING_CATEGORY):
        columns = {**{k: [v] for k, v in row.items()}, "plane_type": [marker]}
        answers.append(model.predict_proba({**columns, **{k: [v] for k, v in numbers.items()}}))
    expected = pipeline.predict_proba(
        pd.DataFrame([{**row, "plane_type": None, **numbers}])[[*CATEGORICAL, *NUMERIC]]
    )
    for answer in answers:
        np.testing.assert_allclose(answer, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "random_forest"])
def test_a_value_just_past_a_split_goes_where_sklearn_sends_it(name):
    # sklearn's forests read float32 (1.5 + 1e-9 becomes 1.5, which is <= the 1.5 split) while
    # the booster reads float64 (1.5 + 1e-9 > 1.5): the compiled trees must do each as sklearn.
    x = np.array([1.0, 2.0] * 50)
    train = pd.DataFrame({"c": ["a", "a", "b", "b"] * 25, "x": x})  # c tells nothing: x splits
    pipeline = modeling.build_pipeline(["x"], ["c"], name, {}, seed=0)
    pipeline.fit(train, (x > 1.5).astype(int))
    model = CompiledModel.from_bytes(compile_pipeline(pipeline, train))
    edge = pd.DataFrame({"c": ["a", "a", "a"], "x": [1.5, 1.5 + 1e-9, 1.5 - 1e-9]})
    require_parity(pipeline, model, edge)


def test_a_broken_compiled_model_fails_parity_naming_the_worst_row(data, fitted):
    pipeline, _ = fitted["hist_gradient_boosting"]
    broken = copy.deepcopy(pipeline)
    # Perturb one leaf of the first tree: only the rows reaching that leaf change.
    nodes = broken.named_steps["estimator"]._predictors[0][0].nodes
    leaf = int(np.flatnonzero(nodes["is_leaf"])[0])
    nodes["value"][leaf] += 3.0
    model = CompiledModel.from_bytes(compile_pipeline(broken, _features(data["train"])))
    frame = _features(data["compare"])
    expected = pipeline.predict_proba(frame)[:, 1]
    actual = model.predict_proba_frame(frame)[:, 1]
    worst = int(np.argmax(np.abs(expected - actual)))
    with pytest.raises(ParityError) as error:
        require_parity(pipeline, model, frame)
    message = str(error.value)
    assert f"at row {worst}:" in message
    assert repr(float(expected[worst])) in message
    assert repr(float(actual[worst])) in message


def test_a_label_that_flips_fails_parity_even_within_the_tolerance(data, fitted):
    pipeline, model = fitted["logistic_regression"]
    frame = _features(data["compare"])
    proba = pipeline.predict_proba(frame)[:, 1]
    # A threshold just below one row's probability: a shift of 1e-3 flips that row only.
    row = int(np.argsort(proba)[len(proba) // 2])
    broken = copy.deepcopy(pipeline)
    broken.named_steps["estimator"].intercept_ = broken.named_steps["estimator"].intercept_ - 0.01
    shifted = CompiledModel.from_bytes(compile_pipeline(broken, frame))
    with pytest.raises(ParityError, match=rf"first at row {row}: pipeline "):
        require_parity(pipeline, shifted, frame, threshold=proba[row] - 1e-4, tolerance=1)
    assert check_parity(pipeline, model, frame, proba[row] - 1e-4).label_mismatches == 0


def test_the_model_round_trips_through_a_file_and_runs_on_one_thread(tmp_path, data, fitted):
    pipeline, model = fitted["random_forest"]
    path = tmp_path / "model.onnx"
    path.write_bytes(compile_pipeline(pipeline, _features(data["train"])))
    loaded = CompiledModel.load(path)
    frame = _features(data["compare"])
    np.testing.assert_array_equal(
        loaded.predict_proba_frame(frame), model.predict_proba_frame(frame)
    )
    options = loaded._session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)


def test_a_regressor_predicts_values_and_refuses_probabilities(data, fitted):
    pipeline, model = fitted["hist_gradient_boosting_regressor"]
    frame = _features(data["compare"]).head(20)
    np.testing.assert_allclose(model.predict_frame(frame), pipeline.predict(frame), atol=1e-9)
    with pytest.raises(TypeError, match="regressor: call predict"):
        model.predict_proba_frame(frame)
    with pytest.raises(TypeError, match="classifier: call predict_proba"):
        fitted["constant"][1].predict_frame(frame)


def test_bad_column_lists_are_refused_naming_the_column(fitted):
    _, model = fitted["logistic_regression"]
    good = {column: ["AA"] for column in CATEGORICAL} | {column: [1.0] for column in NUMERIC}
    assert model.predict_proba(good).shape == (1, 2)
    with pytest.raises(KeyError, match=r"\['visib'\]"):
        model.predict_proba({k: v for k, v in good.items() if k != "visib"})
    with pytest.raises(ValueError, match="numeric column 'temp'"):
        model.predict_proba(good | {"temp": ["warm"]})
    with pytest.raises(TypeError, match=r"categorical column 'dest' holds 7 \(int\)"):
        model.predict_proba(good | {"dest": [7]})
    with pytest.raises(ValueError, match="different lengths"):
        model.predict_proba(good | {"temp": [1.0, 2.0]})


def test_what_cannot_be_compiled_is_refused_naming_the_estimator(data):
    train = modeling.model_input(data["train"], NUMERIC, CATEGORICAL)
    late = data["train"]["is_late"]
    pipeline = modeling.build_pipeline(NUMERIC, CATEGORICAL, "constant")
    pipeline.steps[-1] = ("estimator", GradientBoostingClassifier(n_estimators=2))
    pipeline.fit(train, late)
    with pytest.raises(NotImplementedError, match="'GradientBoostingClassifier' cannot be"):
        compile_pipeline(pipeline, train)
    three = modeling.build_pipeline(NUMERIC, CATEGORICAL, "hist_gradient_boosting", {"max_iter": 2})
    three.fit(train, np.arange(len(train)) % 3)
    with pytest.raises(NotImplementedError, match="'HistGradientBoostingClassifier' has 3 classes"):
        compile_pipeline(three, train)
    frequent = modeling.build_pipeline(
        NUMERIC, CATEGORICAL, "constant", {"strategy": "most_frequent"}
    ).fit(train, late)
    with pytest.raises(NotImplementedError, match=re.escape("strategy='most_frequent'")):
        compile_pipeline(frequent, train)
