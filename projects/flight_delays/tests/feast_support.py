"""Test helpers: a copy of the real feature repo over tiny hand-made feature tables.

The tables follow the dbt output schemas of the brief (UTC ``event_timestamp`` everywhere), so
the Feast definitions under test are the real ones in ``feature_repo/``, only the data is small.
"""

import shutil
from pathlib import Path

import pandas as pd

from twelve.core import paths
from twelve.features.feast import FeastResource

FEATURE_REPO = paths.REPO_ROOT / "feature_repo"
WEATHER_CONSTANTS = {
    "dewp": 30.0, "humid": 60.0, "wind_dir": 180.0, "wind_speed": 10.0, "wind_gust": None,
    "precip": 0.0, "pressure": 1015.0, "visib": 10.0,
}  # fmt: skip


def utc(text: str) -> pd.Timestamp:
    """A UTC timestamp from ``YYYY-MM-DD HH:MM[:SS]``."""
    return pd.Timestamp(text, tz="UTC")


def copy_feature_repo(root: Path) -> Path:
    """Copy ``feature_repo/`` (without caches) to ``root/feature_repo``; returns the copy."""
    target = root / "feature_repo"
    shutil.copytree(FEATURE_REPO, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def weather_table(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """Weather rows ``(origin, UTC time, temp)``; the other measures get plausible constants."""
    frame = pd.DataFrame(
        {
            "origin": [r[0] for r in rows],
            "event_timestamp": [utc(r[1]) for r in rows],
            "temp": [float(r[2]) for r in rows],
        }
    )
    for column, value in WEATHER_CONSTANTS.items():
        frame[column] = pd.Series(value, index=frame.index, dtype="float64")
    return frame


def plane_table(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """Plane rows ``(tailnum, UTC time, seats)``, int32 like DuckDB INTEGER columns."""
    return pd.DataFrame(
        {
            "tailnum": [r[0] for r in rows],
            "event_timestamp": [utc(r[1]) for r in rows],
            "plane_year": 2004.0,
            "plane_seats": pd.Series([r[2] for r in rows], dtype="int32"),
            "plane_engines": pd.Series([2] * len(rows), dtype="int32"),
            "plane_type": "Fixed wing multi engine",
            "plane_manufacturer": "EMBRAER",
            "plane_engine": "Turbo-fan",
        }
    )


def carrier_table(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """Carrier rows ``(carrier, UTC time, late rate)``."""
    return pd.DataFrame(
        {
            "carrier": [r[0] for r in rows],
            "event_timestamp": [utc(r[1]) for r in rows],
            "carrier_late_rate_28d": [float(r[2]) for r in rows],
            "carrier_flights_28d": pd.Series([100] * len(rows), dtype="int64"),
        }
    )


def flight_events(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    """Label events ``(flight_id, UTC time, origin, carrier, tailnum)`` in the dbt schema."""
    times = [utc(r[1]) for r in rows]
    local = pd.Series(times).dt.tz_convert("America/New_York")
    return pd.DataFrame(
        {
            "flight_id": [r[0] for r in rows],
            "event_timestamp": times,
            "flight_month": local.dt.strftime("%Y-%m").tolist(),
            "carrier": [r[3] for r in rows],
            "origin": [r[2] for r in rows],
            "dest": "BOS",
            "tailnum": [r[4] for r in rows],
            "distance": 187.0,
            "sched_dep_hour": pd.Series(local.dt.hour.tolist(), dtype="int32"),
            "day_of_week": pd.Series(local.dt.dayofweek.tolist(), dtype="int32"),
            "month": pd.Series(local.dt.month.tolist(), dtype="int32"),
            "is_late": pd.Series([i % 2 for i in range(len(rows))], dtype="int32"),
        }
    )


def write_tables(data_dir: Path, **tables: pd.DataFrame) -> dict[str, Path]:
    """Write ``name=frame`` pairs as ``data_dir/features/<name>.parquet``."""
    features = data_dir / "features"
    features.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in tables.items():
        written[name] = features / f"{name}.parquet"
        frame.to_parquet(written[name], index=False)
    return written


def make_resource(root: Path, **kwargs) -> FeastResource:
    """A resource on a fresh copy of the repo, data in ``root/data``, state in ``root/home``."""
    repo = copy_feature_repo(root)
    return FeastResource(
        repo_path=str(repo),
        data_dir=str(root / "data"),
        state_dir=str(root / "home"),
        **kwargs,
    )
