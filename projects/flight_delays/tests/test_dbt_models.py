"""The dbt project on real data (February and March 2013, across the DST change of 10 March).

The raw files are written in the raw schema to a temporary TWELVE_DATA_DIR, ``dbt build`` runs in
process, and the feature files Feast reads are checked against independent pandas computations.
"""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from raw_slices import run_dbt

from flight_delays import ingest

pytestmark = pytest.mark.slow  # each dbt build takes a few seconds

MONTHS = (2, 3)
NEW_YORK = "America/New_York"
TS_UTC = pa.timestamp("us", tz="UTC")
WEATHER_COLUMNS = [
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
]

# The feature files' columns and types, as Feast and the training set expect them (shared brief).
EXPECTED_SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "flight_events": {
        "flight_id": pa.string(),
        "event_timestamp": TS_UTC,
        "flight_month": pa.string(),
        "carrier": pa.string(),
        "origin": pa.string(),
        "dest": pa.string(),
        "tailnum": pa.string(),
        "distance": pa.float64(),
        "sched_dep_hour": pa.int64(),
        "day_of_week": pa.int64(),
        "month": pa.int64(),
        "is_late": pa.int64(),
    },
    "weather_features": {
        "origin": pa.string(),
        "event_timestamp": TS_UTC,
        **dict.fromkeys(WEATHER_COLUMNS, pa.float64()),
    },
    "plane_features": {
        "tailnum": pa.string(),
        "event_timestamp": TS_UTC,
        "plane_year": pa.float64(),
        "plane_seats": pa.int64(),
        "plane_engines": pa.int64(),
        "plane_type": pa.string(),
        "plane_manufacturer": pa.string(),
        "plane_engine": pa.string(),
    },
    "carrier_features": {
        "carrier": pa.string(),
        "event_timestamp": TS_UTC,
        "carrier_late_rate_28d": pa.float64(),
        "carrier_flights_28d": pa.int64(),
    },
}


@pytest.fixture(scope="module")
def built(dbt_feature_slice):
    """The session's dbt build of February and March (conftest), as this module names it."""
    assert dbt_feature_slice["months"] == MONTHS
    return {**dbt_feature_slice, "result": dbt_feature_slice["run"]}


@pytest.fixture(scope="module")
def raw_flights() -> pd.DataFrame:
    """The same two months in pandas, for independent computations."""
    return pd.concat(
        [ingest.read_flights(f"2013-{month:02d}") for month in MONTHS], ignore_index=True
    )


def _features(built, name: str) -> pd.DataFrame:
    return pd.read_parquet(built["data_dir"] / "features" / f"{name}.parquet")


def test_build_succeeds_and_every_dbt_test_passes(built):
    result = built["result"]
    assert result.success, result.output
    statuses = result.statuses
    tests = {uid: status for uid, status in statuses.items() if uid.startswith("test.")}
    assert len(tests) >= 50
    assert set(tests.values()) == {"pass"}, {u: s for u, s in tests.items() if s != "pass"}
    models = {uid: status for uid, status in statuses.items() if uid.startswith("model.")}
    assert set(models) == {
        f"model.flight_delays.{name}"
        for name in ("stg_flights", "stg_weather", "stg_planes", *EXPECTED_SCHEMAS)
    }
    assert set(models.values()) == {"success"}


@pytest.mark.parametrize("name", sorted(EXPECTED_SCHEMAS))
def test_feature_file_has_exactly_the_contract_columns(built, name):
    schema = pq.read_schema(built["data_dir"] / "features" / f"{name}.parquet")
    assert dict(zip(schema.names, schema.types, strict=True)) == EXPECTED_SCHEMAS[name]
    assert schema.names == list(EXPECTED_SCHEMAS[name])


def _flight_ids(frame: pd.DataFrame) -> set[str]:
    """flight_id as the brief's key, computed independently from raw columns."""
    return {
        f"{y:04d}-{m:02d}-{d:02d}_{sched:04d}_{carrier}{flight}_{origin}"
        for y, m, d, sched, carrier, flight, origin in zip(
            frame["year"], frame["month"], frame["day"], frame["sched_dep_time"],
            frame["carrier"], frame["flight"], frame["origin"], strict=True,
        )
    }  # fmt: skip


def test_flight_events_hold_only_arrived_flights(built, raw_flights):
    events = _features(built, "flight_events")
    cancelled = raw_flights["dep_time"].isna()
    diverted = raw_flights["dep_time"].notna() & raw_flights["arr_delay"].isna()
    assert cancelled.sum() > 0
    assert diverted.sum() > 0
    assert len(events) == len(raw_flights) - cancelled.sum() - diverted.sum()
    assert events["flight_id"].is_unique
    assert set(events["flight_id"]) == _flight_ids(raw_flights[~cancelled & ~diverted])
    assert not set(events["flight_id"]) & _flight_ids(raw_flights[cancelled | diverted])


def test_late_rate_is_the_share_of_arrivals_over_15_minutes_late(built, raw_flights):
    events = _features(built, "flight_events")
    arrived = raw_flights[raw_flights["arr_delay"].notna()]
    expected = (arrived["arr_delay"] > 15).mean()
    assert events["is_late"].mean() == pytest.approx(expected, abs=1e-12)
    assert 0.10 < events["is_late"].mean() < 0.40
    assert set(events["is_late"].unique()) == {0, 1}


def test_a_known_flight_has_its_utc_departure_and_local_calendar(built):
    events = _features(built, "flight_events").set_index("flight_id")
    # UA 1545 EWR->IAH, 1 Feb 2013 (a Friday); scheduled departures differ by day, so read the raw.
    raw = ingest.read_flights("2013-02")
    row = raw[(raw["carrier"] == "UA") & (raw["day"] == 1) & raw["arr_delay"].notna()].iloc[0]
    flight_id = f"2013-02-01_{row['sched_dep_time']:04d}_UA{row['flight']}_{row['origin']}"
    event = events.loc[flight_id]
    local = pd.Timestamp(2013, 2, 1, row["hour"], row["minute"], tz=NEW_YORK)
    assert event["event_timestamp"] == local.tz_convert("UTC")
    assert (event["sched_dep_hour"], event["day_of_week"], event["month"]) == (row["hour"], 4, 2)
    assert event["flight_month"] == "2013-02"
    assert event["is_late"] == int(row["arr_delay"] > 15)


def test_flights_without_tail_number_get_unknown(built, raw_flights):
    with duckdb.connect(str(built["home"] / "warehouse.duckdb"), read_only=True) as con:
        unknown = con.execute(
            "select count(*) from stg_flights where tailnum = 'UNKNOWN'"
        ).fetchone()
        nulls = con.execute("select count(*) from stg_flights where tailnum is null").fetchone()
    assert raw_flights["tailnum"].isna().sum() > 0
    assert unknown[0] == raw_flights["tailnum"].isna().sum()
    assert nulls[0] == 0


def test_planes_without_year_keep_a_null_plane_year(built):
    planes = _features(built, "plane_features")
    raw = ingest.read_planes()
    assert len(planes) == len(raw)
    assert planes["plane_year"].isna().sum() == raw["year"].isna().sum() > 0
    assert (planes["event_timestamp"] == pd.Timestamp("2013-01-01", tz="UTC")).all()


def _carrier_window(raw: pd.DataFrame, carrier: str, day: dt.date, first: int, last: int):
    """Late rate and count of ``carrier``'s arrived flights of local days day-first..day-last."""
    dates = pd.to_datetime(raw[["year", "month", "day"]]).dt.date
    in_window = (dates >= day - dt.timedelta(days=first)) & (dates <= day - dt.timedelta(days=last))
    chosen = raw[in_window & (raw["carrier"] == carrier) & raw["arr_delay"].notna()]
    rate = (chosen["arr_delay"] > 15).mean() if len(chosen) else None
    return rate, len(chosen)


@pytest.mark.parametrize(
    ("carrier", "day"),
    [
        ("UA", dt.date(2013, 3, 5)),  # EST
        ("B6", dt.date(2013, 3, 20)),  # EDT, window across the DST change
        ("EV", dt.date(2013, 3, 11)),  # the first day after the change
        ("DL", dt.date(2013, 2, 20)),  # window partly before the first day of data
    ],
)
def test_carrier_record_uses_only_days_d_minus_29_to_d_minus_2(built, raw_flights, carrier, day):
    features = _features(built, "carrier_features")
    stamp = pd.Timestamp(day, tz=NEW_YORK).tz_convert("UTC")
    row = features[(features["carrier"] == carrier) & (features["event_timestamp"] == stamp)]
    assert len(row) == 1, f"no record for {carrier} at {stamp}"

    rate, count = _carrier_window(raw_flights, carrier, day, first=29, last=2)
    assert row["carrier_flights_28d"].iloc[0] == count > 0
    assert row["carrier_late_rate_28d"].iloc[0] == pytest.approx(rate, abs=1e-12)
    # The test can tell a leak apart: a window reaching day D-1 gives another answer.
    leaky_rate, leaky_count = _carrier_window(raw_flights, carrier, day, first=28, last=1)
    assert (leaky_rate, leaky_count) != (rate, count)


def test_carrier_records_cover_every_day_with_null_rate_without_history(built, raw_flights):
    features = _features(built, "carrier_features")
    carriers = raw_flights.loc[raw_flights["arr_delay"].notna(), "carrier"].unique()
    days = pd.date_range("2013-02-01", "2013-04-02", freq="D", tz=NEW_YORK).tz_convert("UTC")
    assert len(features) == len(carriers) * len(days)
    assert set(features["event_timestamp"]) == set(days)
    # The first two days of data have no finished day before them.
    first_two = features[features["event_timestamp"] < days[2]]
    assert (first_two["carrier_flights_28d"] == 0).all()
    assert first_two["carrier_late_rate_28d"].isna().all()


def test_a_renamed_raw_column_fails_the_build_naming_it(raw_slice, tmp_path):
    data_dir = raw_slice([2], rename_flight_columns={"origin": "origin_airport"})
    result = run_dbt(
        ["build"], home=tmp_path / "home", data_dir=data_dir, target_dir=tmp_path / "target"
    )
    assert not result.success
    assert result.statuses["model.flight_delays.stg_flights"] == "error"
    assert '"origin"' in result.messages["model.flight_delays.stg_flights"]
    assert '"origin"' in result.output  # what a user reads in the Dagster run log
    assert not (data_dir / "features" / "flight_events.parquet").exists()


def test_dagster_assets_checks_and_lineage_come_from_the_manifest(built):
    from dagster_dbt import DbtProject

    from twelve.core.project import Project
    from twelve.features.dbt import build_dbt_assets

    flight_delays = Project.of_package("flight_delays")
    project = DbtProject(project_dir=flight_delays.dbt_dir(), target_path=built["target"])
    assets = build_dbt_assets(flight_delays, project)
    specs = {key.to_user_string(): spec for key, spec in assets.specs_by_key.items()}
    assert {name: spec.group_name for name, spec in specs.items()} == {
        "stg_flights": "dbt",
        "stg_weather": "dbt",
        "stg_planes": "dbt",
        "flight_events": "features",
        "weather_features": "features",
        "plane_features": "features",
        "carrier_features": "features",
    }
    parents = {
        name: {dep.asset_key.to_user_string() for dep in spec.deps} for name, spec in specs.items()
    }
    assert parents["stg_flights"] == {"raw_flights"}
    assert parents["stg_weather"] == {"raw_weather"}
    assert parents["stg_planes"] == {"raw_planes"}
    assert parents["carrier_features"] == {"flight_events"}
    assert "Cancelled flights" in specs["flight_events"].description
    assert "parquet" in specs["flight_events"].kinds
    check_names = {check.name for check in assets.check_specs}
    assert "unique_flight_events_flight_id" in check_names
    assert "relationships_flight_events_carrier__carrier__ref_carrier_features_" in check_names
    assert len(check_names) == sum(1 for uid in built["result"].statuses if uid.startswith("test."))


def test_dbt_tests_run_as_dagster_asset_checks(built, raw_slice, tmp_path, monkeypatch):
    from dagster_dbt import DbtProject

    from twelve.core.project import Project
    from twelve.features.dbt import LocalDbtCliResource, build_dbt_assets, dbt_executable

    flight_delays = Project.of_package("flight_delays")

    # Own folders (the session's slice stays read-only); dagster-dbt's run targets go to tmp_path.
    data_dir = raw_slice([3])
    monkeypatch.setenv("TWELVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TWELVE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    project = DbtProject(project_dir=flight_delays.dbt_dir(), target_path=built["target"])
    result = dg.materialize(
        [build_dbt_assets(flight_delays, project)],
        resources={
            "dbt": LocalDbtCliResource(project_dir=project, dbt_executable=dbt_executable())
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert set(EXPECTED_SCHEMAS) <= materialized
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 50
    assert all(check.passed for check in checks)
    assert (tmp_path / "home" / "warehouse.duckdb").exists()
    # The asset body created the features folder and dbt wrote every feature file into it.
    assert {p.stem for p in (data_dir / "features").glob("*.parquet")} == set(EXPECTED_SCHEMAS)
