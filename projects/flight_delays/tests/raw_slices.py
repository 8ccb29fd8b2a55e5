"""Test helpers: write small raw slices in the raw schema and run the dbt project on them.

Reusable by any test that needs the dbt outputs (feature files) of a few months without the
Dagster raw assets or DVC: the raw files are written with the same readers the raw assets use.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flight_delays import ingest
from twelve.core.files import write_parquet
from twelve.core.project import Project

# The project's dbt folder (projects/flight_delays/dbt).
DBT_PROJECT_DIR = Project.of_package("flight_delays").dbt_dir()


def write_raw_slice(
    data_dir: Path,
    months: Iterable[int],
    *,
    rename_flight_columns: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write raw flights of ``months`` plus weather and planes under ``data_dir/raw``.

    Args:
        data_dir: the TWELVE_DATA_DIR of the test.
        months: months of 2013 (1-12), one flights file each.
        rename_flight_columns: old -> new column names, to simulate an upstream schema change.

    Returns:
        The written paths by name ("flights-2013-MM", "weather", "planes").
    """
    raw = data_dir / "raw"
    written: dict[str, Path] = {}
    for month in months:
        key = f"2013-{month:02d}"
        flights = ingest.read_flights(key)
        if rename_flight_columns:
            flights = flights.rename(columns=dict(rename_flight_columns))
        written[f"flights-{key}"] = write_parquet(flights, raw / "flights" / f"{key}.parquet")
    written["weather"] = write_parquet(ingest.read_weather(), raw / "weather.parquet")
    written["planes"] = write_parquet(ingest.read_planes(), raw / "planes.parquet")
    return written


@dataclass(frozen=True)
class DbtRun:
    """What a dbt command did: its exit, its output and the result of every node it ran."""

    success: bool
    output: str
    statuses: dict[str, str] = field(default_factory=dict)  # unique_id -> pass/success/error/...
    messages: dict[str, str] = field(default_factory=dict)  # unique_id -> message


def run_dbt(args: list[str], *, home: Path, data_dir: Path, target_dir: Path) -> DbtRun:
    """Run a dbt command on the project in a subprocess, as Dagster does, on test folders.

    A subprocess (not dbt's in-process runner) so the DuckDB warehouse is closed afterwards and
    tests can open it. The target (manifest, run results) and logs go to ``target_dir`` so tests
    never touch the project's own ``target/``.

    Args:
        args: the dbt command, e.g. ``["build"]``.
        home: TWELVE_HOME (the DuckDB warehouse goes there).
        data_dir: TWELVE_DATA_DIR (raw inputs are read from it, features written to it).
        target_dir: dbt's target and log folder.

    Returns:
        The run: success, dbt's output, and per-node statuses/messages from run_results.json.
    """
    home.mkdir(parents=True, exist_ok=True)
    (data_dir / "features").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TWELVE_HOME": str(home),
        "TWELVE_DATA_DIR": str(data_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    command = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir),
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    run_results = target_dir / "run_results.json"
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    return DbtRun(
        success=completed.returncode == 0,
        output=completed.stdout + completed.stderr,
        statuses={r["unique_id"]: r["status"] for r in results},
        messages={r["unique_id"]: r["message"] or "" for r in results},
    )
