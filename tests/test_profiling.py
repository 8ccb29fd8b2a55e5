"""whylogs profiles: summaries match pandas, the store keys profiles by data version."""

import hashlib
import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from twelve.core.files import file_md5
from twelve.monitoring.profile_summary import numeric_histogram, summary_frame
from twelve.monitoring.profiling import (
    ProfileNotFound,
    ProfileStore,
    column_names,
    profile_frame,
    row_count,
)

ROWS = 4000


@pytest.fixture(scope="module")
def known() -> pd.DataFrame:
    """A frame whose statistics pandas computes exactly: every dtype a data set of ours has."""
    rng = np.random.default_rng(7)
    delay = rng.normal(10, 30, ROWS)
    delay[rng.choice(ROWS, 200, replace=False)] = np.nan
    carrier = rng.choice(["UA", "B6", "EV", "DL"], ROWS, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    carrier[:50] = None
    return pd.DataFrame(
        {
            "delay": delay,
            "hour": rng.integers(5, 24, ROWS),
            "flight_id": [f"F{i:05d}" for i in range(ROWS)],
            "carrier": carrier,  # object dtype with None
            "origin": pd.array(rng.choice(["EWR", "JFK", "LGA"], ROWS), dtype="string"),
            "tailnum": pd.array([None] * 10 + [f"N{i % 900}" for i in range(ROWS - 10)], "string"),
            "time_hour": pd.date_range("2013-01-01", periods=ROWS, freq="h", tz="UTC"),
            "late": rng.random(ROWS) < 0.2,
        }
    )


@pytest.fixture(scope="module")
def summary(known) -> pd.DataFrame:
    return summary_frame(profile_frame(known))


def test_every_column_is_summarised_in_the_frames_order(known, summary):
    assert list(summary.index) == list(known.columns)


@pytest.mark.parametrize(
    "column", ["delay", "hour", "flight_id", "carrier", "origin", "tailnum", "time_hour", "late"]
)
def test_counts_and_nulls_equal_pandas(known, summary, column):
    row = summary.loc[column]
    assert row["count"] == ROWS
    assert row["null_count"] == known[column].isna().sum()
    assert row["null_share"] == pytest.approx(known[column].isna().mean())


@pytest.mark.parametrize("column", ["delay", "hour"])
def test_moments_and_extremes_equal_pandas(known, summary, column):
    row = summary.loc[column]
    values = known[column].dropna()
    assert row["mean"] == pytest.approx(values.mean(), rel=1e-9)
    assert row["std"] == pytest.approx(values.std(), rel=1e-6)  # sample std, like pandas
    assert row["min"] == values.min()
    assert row["max"] == values.max()
    # Quantiles come from a KLL sketch (k=1024): well within 1 % of rank here.
    assert values.quantile(0.49) <= row["median"] <= values.quantile(0.51)
    assert values.quantile(0.24) <= row["q_25"] <= values.quantile(0.26)


@pytest.mark.parametrize(
    ("column", "tolerance"), [("hour", 0), ("carrier", 0), ("tailnum", 0.03), ("flight_id", 0.03)]
)
def test_cardinality_estimate_is_close_to_the_distinct_count(known, summary, column, tolerance):
    truth = known[column].nunique(dropna=True)
    assert summary.loc[column, "cardinality"] == pytest.approx(truth, rel=tolerance, abs=0.01)


def test_kinds_are_inferred_per_column(summary):
    assert summary["kind"].to_dict() == {
        "delay": "numeric",
        "hour": "numeric",
        "flight_id": "categorical",
        "carrier": "categorical",
        "origin": "categorical",
        "tailnum": "categorical",
        "time_hour": "datetime",
        "late": "boolean",
    }
    assert summary.loc["hour", "integral"]
    assert not summary.loc["delay", "integral"]


def test_frequent_items_are_the_most_common_values_with_their_counts(known, summary):
    truth = known["carrier"].value_counts()
    top = summary.loc["carrier", "top_items"]
    assert [value for value, _ in top] == list(truth.index)
    assert [count for _, count in top] == list(truth.values)


def test_string_and_datetime_columns_are_profiled_despite_numpy_2(known, summary):
    # Stock whylogs 1.6.4 raises AttributeError (np.unicode_) on `string` and datetime dtypes.
    assert summary.loc["origin", "cardinality"] == pytest.approx(3, abs=0.01)
    first = known["time_hour"].min().timestamp()
    last = known["time_hour"].max().timestamp()
    assert (summary.loc["time_hour", "min"], summary.loc["time_hour", "max"]) == (first, last)


def test_the_histogram_from_the_sketch_counts_every_value(known):
    view = profile_frame(known)
    edges, counts = numeric_histogram(view, "delay", bins=20)
    values = known["delay"].dropna()
    assert len(edges) == 21
    assert edges[0] == values.min()
    assert edges[-1] == values.max()
    assert counts.sum() == pytest.approx(len(values), rel=1e-9)
    truth, _ = np.histogram(values, bins=edges)
    assert np.abs(counts - truth).max() <= 0.01 * len(values)


def test_a_histogram_of_a_column_without_numbers_is_refused(known):
    view = profile_frame(known)
    with pytest.raises(ValueError, match="'carrier' has no numeric values"):
        numeric_histogram(view, "carrier")
    with pytest.raises(KeyError, match="no column 'nope'"):
        numeric_histogram(view, "nope")


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        ([1, 2, 3], TypeError, "needs a pandas DataFrame"),
        (pd.DataFrame(index=range(3)), ValueError, "without columns"),
        (pd.DataFrame({0: [1], "b": [2]}), TypeError, "not: 0"),
        (
            pd.DataFrame([[1, 2]], columns=["a", "a"]),
            ValueError,
            r"duplicate column name\(s\): \['a'\]",
        ),
    ],
)
def test_bad_frames_are_refused_with_the_reason(frame, error, message):
    with pytest.raises(error, match=message):
        profile_frame(frame)


def test_file_md5_is_the_md5_of_the_bytes(tmp_path):
    path = tmp_path / "data.bin"
    payload = bytes(range(256)) * 10_000
    path.write_bytes(payload)
    assert file_md5(path) == hashlib.md5(payload).hexdigest()
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        file_md5(tmp_path / "missing.bin")


# --------------------------------------------------------------------------- the store
def test_a_profile_is_read_back_by_its_version_with_its_sidecar(tmp_path, known):
    store = ProfileStore(tmp_path / "profiles")
    view = profile_frame(known)
    stored = store.write(
        "raw_flights", "abc123", view, source="data/raw/x.parquet", extra={"month": "2013-01"}
    )

    assert stored.path == tmp_path / "profiles" / "raw_flights" / "abc123.bin"
    back = store.read("raw_flights", "abc123")
    pd.testing.assert_frame_equal(summary_frame(back), summary_frame(view))
    assert column_names(back) == list(known.columns)
    assert row_count(back) == ROWS

    info = json.loads((tmp_path / "profiles" / "raw_flights" / "abc123.json").read_text())
    assert info["rows"] == ROWS
    assert info["columns"] == list(known.columns)
    assert info["source"] == "data/raw/x.parquet"
    assert info["month"] == "2013-01"
    assert info["datetime_columns"] == ["time_hour"]
    assert datetime.fromisoformat(info["created"]).tzinfo is not None
    assert store.info("raw_flights", "abc123") == info


def test_a_missing_version_is_a_clear_error_naming_it(tmp_path, known):
    store = ProfileStore(tmp_path)
    store.write("raw_flights", "v1", profile_frame(known.head(10)))
    with pytest.raises(
        ProfileNotFound, match=r"'raw_flights' at version 'v2'.*stored versions: \['v1'\]"
    ):
        store.read("raw_flights", "v2")
    with pytest.raises(ProfileNotFound, match=r"'weather' at version 'v1'.*none"):
        store.read("weather", "v1")


def test_versions_are_listed_oldest_first(tmp_path, known):
    store = ProfileStore(tmp_path)
    view = profile_frame(known.head(10))
    for version in ("b", "a", "c"):
        store.write("ds", version, view)
    store.set_reference("ds", "a")  # the pointer is not a version
    assert sorted(store.versions("ds")) == ["a", "b", "c"]
    assert store.versions("unknown") == []


def test_the_reference_pointer_names_a_version_and_reads_it(tmp_path, known):
    store = ProfileStore(tmp_path)
    store.write("training_set", "old", profile_frame(known.head(100)))
    store.write("training_set", "new", profile_frame(known))
    with pytest.raises(
        ProfileNotFound, match="no reference profile is set for dataset 'training_set'"
    ):
        store.read_reference("training_set")

    pointer = store.set_reference("training_set", "new")

    assert pointer == tmp_path / "training_set" / "reference.json"
    assert json.loads(pointer.read_text())["version"] == "new"
    assert store.reference_version("training_set") == "new"
    assert store.reference_path("training_set") == tmp_path / "training_set" / "new.bin"
    assert row_count(store.read_reference("training_set")) == ROWS


def test_a_reference_must_name_a_stored_version(tmp_path):
    with pytest.raises(ProfileNotFound, match="version 'ghost'"):
        ProfileStore(tmp_path).set_reference("training_set", "ghost")


def test_the_store_defaults_to_twelve_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TWELVE_HOME", str(tmp_path / "home"))
    assert ProfileStore().root == tmp_path / "home" / "profiles"


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "reference.json", "x y"])
def test_names_that_are_not_one_safe_file_name_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="not usable as a file name"):
        ProfileStore(tmp_path).path_of("raw_flights", name)
    with pytest.raises(ValueError, match="not usable as a file name"):
        ProfileStore(tmp_path).path_of(name, "v1")
