"""Contracts (twelve.features): an upstream change fails once, with every column named."""

import json

import numpy as np
import pandas as pd
import pytest

from twelve.features.columns import ColumnSpec
from twelve.features.schemas import (
    build_schema,
    conform_dtypes,
    contract_dict,
    schema_from_dict,
    schema_to_dict,
)
from twelve.features.validation import ContractViolation, unknown_category_share, validate_frame

SPECS = [
    ColumnSpec("flight_id", "str", unique=True),
    ColumnSpec("month", "str", pattern=r"^\d{4}-\d{2}$"),
    ColumnSpec("carrier", "str", categories=("AA", "DL", "UA")),
    ColumnSpec("temp", "float64", nullable=True, min_value=-40, max_value=130),
    ColumnSpec("distance", "float64", min_value=0, exclusive_min=True),
    ColumnSpec("hour", "int64", min_value=0, max_value=23),
    ColumnSpec("at", "datetime64[ns, UTC]"),
]


@pytest.fixture(scope="module")
def schema():
    return build_schema(SPECS, name="demo")


def good_frame(rows: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight_id": [f"f{i}" for i in range(rows)],
            "month": ["2013-01"] * rows,
            "carrier": (["AA", "DL", "UA"] * rows)[:rows],
            "temp": [20.0 + i for i in range(rows - 1)] + [np.nan],
            "distance": [100.0] * rows,
            "hour": np.arange(rows, dtype="int64") % 24,
            "at": pd.date_range("2013-01-01", periods=rows, freq="h", tz="UTC"),
        }
    )


def violation(frame: pd.DataFrame, schema, **kwargs) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        validate_frame(frame, schema, **kwargs)
    return caught.value


def test_a_frame_that_honours_the_contract_passes_unchanged(schema):
    frame = good_frame()

    assert validate_frame(frame, schema) is frame


def test_a_dropped_column_is_named_as_missing(schema):
    error = violation(good_frame().drop(columns=["temp"]), schema)

    assert "column 'temp' is missing" in str(error)
    assert error.columns == ["temp"]


def test_a_renamed_column_is_named_with_its_new_name(schema):
    error = violation(good_frame().rename(columns={"temp": "temperature"}), schema)

    message = str(error)
    assert "column 'temp' is missing (renamed? unexpected columns: 'temperature')" in message
    assert "column 'temperature' is not in the contract" in message
    assert error.columns == ["temp", "temperature"]


def test_an_unexpected_column_is_refused(schema):
    error = violation(good_frame().assign(dep_delay=5.0), schema)

    assert "column 'dep_delay' is not in the contract" in str(error)


TYPE_CHANGES = {
    "float-to-text": ("temp", ["20.5"], "expected float64, found object"),
    "int-to-float": ("hour", [1.5], "expected int64, found float64"),
    "text-to-int": ("carrier", [7], "expected str, found int64"),
    "text-mixed-with-int": ("carrier", ["AA", 7], "expected str, found int values (e.g. 7)"),
    "timestamp-to-text": ("at", ["2013-01-01"], "expected datetime64[ns, UTC], found object"),
}


@pytest.mark.parametrize(
    ("column", "value", "expected"), TYPE_CHANGES.values(), ids=TYPE_CHANGES.keys()
)
def test_a_type_change_names_column_expected_and_found_dtype(schema, column, value, expected):
    frame = good_frame()
    frame[column] = (value * len(frame))[: len(frame)]

    error = violation(frame, schema)

    assert f"column '{column}' has the wrong type: {expected}" in str(error)
    # The type is the cause: no second message about ranges of the same column.
    assert [p.kind for p in error.problems] == ["dtype"]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (
            "temp",
            150.0,
            "column 'temp' has 1 value(s) out of range (expected [-40, 130]), e.g. 150.0",
        ),
        (
            "temp",
            -41.0,
            "column 'temp' has 1 value(s) out of range (expected [-40, 130]), e.g. -41.0",
        ),
        ("distance", 0.0, "column 'distance' has 1 value(s) out of range (expected > 0), e.g. 0.0"),
        ("hour", 24, "column 'hour' has 1 value(s) out of range (expected [0, 23]), e.g. 24"),
    ],
)
def test_out_of_range_values_are_named_with_bounds_and_examples(schema, column, value, expected):
    frame = good_frame()
    frame.loc[0, column] = value

    assert expected in str(violation(frame, schema))


def test_bounds_are_inclusive_unless_exclusive(schema):
    frame = good_frame()
    frame.loc[0, "temp"], frame.loc[1, "temp"], frame.loc[0, "hour"] = -40.0, 130.0, 23

    validate_frame(frame, schema)


def test_nulls_duplicates_and_patterns_are_named(schema):
    frame = good_frame()
    frame.loc[0, "distance"] = np.nan
    frame.loc[1, "flight_id"] = "f2"
    frame.loc[2, "month"] = "Jan 2013"

    message = str(violation(frame, schema))

    assert "column 'distance' has 1 null value(s)" in message
    assert "column 'flight_id' must be unique: 2 duplicated value(s) (e.g. 'f2')" in message
    assert "column 'month' has 1 value(s) not matching" in message
    assert "'Jan 2013'" in message


def test_every_offending_column_is_listed_in_one_error(schema):
    frame = good_frame().drop(columns=["hour"]).assign(temp="warm", leak=1)
    frame.loc[0, "distance"] = -5.0

    error = violation(frame, schema)

    assert set(error.columns) == {"hour", "leak", "temp", "distance"}
    assert str(error).startswith("contract 'demo' violated (4 problem(s)):")
    assert isinstance(error, ValueError)


def test_unknown_categories_above_the_share_name_column_share_and_examples(schema):
    frame = good_frame(10)
    frame.loc[:2, "carrier"] = ["ZZ", "ZZ", "XX"]

    message = str(violation(frame, schema, max_unknown_category_share=0.1))

    assert "column 'carrier' has 30.0% unknown categories (max 10.0%), e.g. 'ZZ', 'XX'" in message


def test_unknown_categories_within_the_share_are_tolerated(schema):
    frame = good_frame(10)
    frame.loc[0, "carrier"] = "ZZ"

    validate_frame(frame, schema, max_unknown_category_share=0.1)
    with pytest.raises(ContractViolation, match=r"10\.0% unknown categories"):
        validate_frame(frame, schema, max_unknown_category_share=0.0)


def test_unknown_share_ignores_nulls():
    share, unknown = unknown_category_share(pd.Series(["AA", None, "ZZ", "ZZ"]), ["AA"])

    assert share == pytest.approx(2 / 3)
    assert unknown == ["ZZ"]


def test_the_contract_round_trips_through_json(schema):
    description = json.loads(json.dumps(schema_to_dict(schema)))
    rebuilt = schema_from_dict(description)

    assert description == contract_dict(SPECS, name="demo")
    assert schema_to_dict(rebuilt) == description
    frame = good_frame().assign(temp=500.0)
    assert "out of range (expected [-40, 130])" in str(violation(frame, rebuilt))
    distance = next(c for c in description["columns"] if c["name"] == "distance")
    assert distance == {
        "name": "distance",
        "dtype": "float64",
        "min_value": 0,
        "exclusive_min": True,
    }
    carrier = next(c for c in description["columns"] if c["name"] == "carrier")
    assert carrier == {"name": "carrier", "dtype": "str", "categories": ["AA", "DL", "UA"]}


def test_conform_widens_numbers_and_timestamps_but_leaves_text_for_validation(schema):
    frame = good_frame()
    frame["hour"] = frame["hour"].astype("int32")
    frame["distance"] = frame["distance"].astype("int64")
    frame["at"] = frame["at"].astype("datetime64[us, UTC]")
    frame["temp"] = frame["temp"].astype(str)

    conformed = conform_dtypes(frame, schema)

    assert conformed["hour"].dtype == "int64"
    assert conformed["distance"].dtype == "float64"
    assert str(conformed["at"].dtype) == "datetime64[ns, UTC]"
    assert frame["hour"].dtype == "int32"  # the input is not modified
    error = violation(conformed, schema)
    assert error.columns == ["temp"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ColumnSpec("x", "float32"), "column 'x': dtype 'float32' is not supported"),
        (
            lambda: build_schema([ColumnSpec("x", "str"), ColumnSpec("x", "str")], name="d"),
            "declares columns twice: x",
        ),
        (
            lambda: validate_frame(
                good_frame(), build_schema(SPECS, name="d"), max_unknown_category_share=2
            ),
            r"within \[0, 1\]",
        ),
    ],
    ids=["dtype", "duplicate", "share"],
)
def test_bad_contracts_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()
