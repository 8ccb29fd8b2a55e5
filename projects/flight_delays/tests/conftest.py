"""Shared fixtures of the flight-delay project tests (helpers live in ``raw_slices.py``)."""

import pytest
from raw_slices import DbtRun, run_dbt, write_raw_slice

# Two months across the DST change of 10 March: enough for the 28-day carrier window and for
# time-zone mistakes to show.
SLICE_MONTHS = (2, 3)


@pytest.fixture
def raw_slice(tmp_path):
    """Factory writing raw files of some months under a fresh TWELVE_DATA_DIR; returns that dir.

    Example: ``data_dir = raw_slice([1], rename_flight_columns={"origin": "x"})``.
    """

    def write(months=SLICE_MONTHS, **kwargs):
        data_dir = tmp_path / "data"
        write_raw_slice(data_dir, months, **kwargs)
        return data_dir

    return write


@pytest.fixture(scope="session")
def dbt_feature_slice(tmp_path_factory) -> dict:
    """Raw Feb-Mar 2013 run through ``dbt build`` once per session (read-only for tests).

    Returns:
        ``data_dir`` (TWELVE_DATA_DIR with raw/ and features/*.parquet), ``home`` (TWELVE_HOME with
        warehouse.duckdb), ``target`` (dbt's manifest and run results), ``months`` and ``run``
        (the ``DbtRun``).
    """
    root = tmp_path_factory.mktemp("dbt_feature_slice")
    data_dir, home, target = root / "data", root / "home", root / "target"
    write_raw_slice(data_dir, SLICE_MONTHS)
    run: DbtRun = run_dbt(["build"], home=home, data_dir=data_dir, target_dir=target)
    return {
        "data_dir": data_dir,
        "home": home,
        "target": target,
        "months": SLICE_MONTHS,
        "run": run,
    }
