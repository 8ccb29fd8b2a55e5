"""The Feast repo (feature_repo/) and how the platform loads, relocates and applies it."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from feast_support import (
    FEATURE_REPO,
    carrier_table,
    copy_feature_repo,
    make_resource,
    plane_table,
    weather_table,
    write_tables,
)

from flight_delays import contract
from twelve.features.feast import FeastResource
from twelve.features.feast_repo import (
    build_repo_config,
    check_source_files,
    load_repo_contents,
    rebind_file_sources,
)

SMALL_TABLES = {
    "weather_features": weather_table(
        [("JFK", "2013-03-05 13:00", 40), ("JFK", "2013-03-05 14:00", 41)]
    ),
    "plane_features": plane_table([("N1", "2013-01-01 00:00", 100)]),
    "carrier_features": carrier_table([("AA", "2013-03-05 05:00", 0.2)]),
}


@pytest.fixture(scope="module")
def contents():
    return load_repo_contents(FEATURE_REPO)


def test_the_repo_defines_the_briefs_entities_views_and_service(contents):
    assert {e.name: [e.join_key] for e in contents.entities} == {
        "origin": ["origin"],
        "tailnum": ["tailnum"],
        "carrier": ["carrier"],
    }
    views = {v.name: v for v in contents.feature_views}
    assert set(views) == {"weather_hourly", "plane_attributes", "carrier_on_time"}
    assert [s.name for s in contents.feature_services] == ["flight_delay_v1"]
    assert {name: view.entities for name, view in views.items()} == {
        "weather_hourly": ["origin"],
        "plane_attributes": ["tailnum"],
        "carrier_on_time": ["carrier"],
    }


def test_the_feature_service_lists_exactly_the_features_the_model_reads(contents):
    (service,) = contents.feature_services
    served = [f.name for p in service.feature_view_projections for f in p.features]

    assert served == contract.FEAST_FEATURE_COLUMNS


def test_ttls_follow_how_fast_each_domain_changes(contents):
    ttls = {v.name: v.ttl for v in contents.feature_views}

    assert ttls == {
        "weather_hourly": timedelta(hours=3),
        "plane_attributes": timedelta(0),  # Feast: never expires
        "carrier_on_time": timedelta(days=3),
    }


def test_sources_are_the_dbt_parquet_files_relative_to_the_repo(contents):
    paths = {s.name: s.path for s in contents.data_sources}

    assert paths == {
        name: f"../data/features/{name}.parquet"
        for name in ("weather_features", "plane_features", "carrier_features")
    }
    assert {s.timestamp_field for s in contents.data_sources} == {"event_timestamp"}


def test_loading_leaves_no_repo_module_or_path_behind():
    path_before, modules_before = list(sys.path), set(sys.modules)

    first = load_repo_contents(FEATURE_REPO)
    second = load_repo_contents(FEATURE_REPO)

    assert sys.path == path_before
    assert not {"entities", "data_sources", "feature_services"} & set(sys.modules)
    assert set(sys.modules) - modules_before <= {m for m in sys.modules if "feast" in m}
    assert first.feature_views[0] is not second.feature_views[0]  # fresh definitions each time


def test_feastignore_keeps_stray_files_out(tmp_path):
    repo = copy_feature_repo(tmp_path)
    (repo / "scratch").mkdir()
    (repo / "scratch" / "notes.py").write_text("raise RuntimeError('scratch imported')\n")
    (repo / "test_views.py").write_text("raise RuntimeError('test imported')\n")

    contents = load_repo_contents(repo)

    assert len(contents.feature_views) == 3
    (repo / "stray.py").write_text("raise RuntimeError('stray imported')\n")
    with pytest.raises(RuntimeError, match="stray imported"):
        load_repo_contents(repo)


def test_sources_are_rebound_onto_the_configured_data_dir(tmp_path):
    contents = load_repo_contents(FEATURE_REPO)

    rebound = rebind_file_sources(contents, FEATURE_REPO, tmp_path / "elsewhere")

    expected = str((tmp_path / "elsewhere" / "features" / "weather_features.parquet").resolve())
    assert rebound["weather_features"] == expected
    weather = next(v for v in contents.feature_views if v.name == "weather_hourly")
    assert weather.batch_source.path == expected


def test_registry_and_online_store_follow_the_state_dir(tmp_path):
    config = build_repo_config(FEATURE_REPO, "feature_store.yaml", tmp_path / "home")

    assert config.project == "twelve"
    assert config.registry.path == str(tmp_path / "home" / "feast_registry.db")
    assert config.online_store.path == str(tmp_path / "home" / "feast_online_store.db")
    assert config.offline_store.type == "file"


def test_a_missing_feature_column_is_named_before_anything_is_registered(tmp_path):
    weather = SMALL_TABLES["weather_features"].drop(columns="visib")
    write_tables(tmp_path / "data", **{**SMALL_TABLES, "weather_features": weather})
    contents = load_repo_contents(FEATURE_REPO)
    rebind_file_sources(contents, FEATURE_REPO, tmp_path / "data")

    with pytest.raises(
        ValueError, match=r"weather_hourly': weather_features.parquet lacks .*'visib'"
    ):
        check_source_files(contents)


def test_a_missing_feature_file_is_named(tmp_path):
    contents = load_repo_contents(FEATURE_REPO)
    rebind_file_sources(contents, FEATURE_REPO, tmp_path / "data")

    with pytest.raises(FileNotFoundError, match=r"source file .*_features.parquet does not exist"):
        check_source_files(contents)


def test_the_area_exposes_its_assets_and_the_feast_resource():
    from flight_delays.definitions import build_defs

    definitions = build_defs()

    assert isinstance(definitions.resources["feast"], FeastResource)
    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"feast_definitions", "online_features", "training_set"} <= keys
    deps = {
        name: {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}
        for name in ("feast_definitions", "online_features", "training_set")
    }
    assert deps == {
        "feast_definitions": {"weather_features", "plane_features", "carrier_features"},
        "online_features": {"feast_definitions"},
        "training_set": {"feast_definitions", "flight_events"},
    }
    for name in deps:
        assert graph.get(dg.AssetKey(name)).description


# ----------------------------------------------------------------------------- slow: real Feast


@pytest.mark.slow
def test_apply_materialize_and_serve_the_latest_values(tmp_path):
    write_tables(tmp_path / "data", **SMALL_TABLES)
    resource = make_resource(tmp_path)

    summary = resource.apply()
    start, end = resource.data_time_range("flight_delay_v1")
    resource.materialize(start, end + timedelta(seconds=1))
    online = resource.online_features(
        [{"origin": "JFK", "tailnum": "N1", "carrier": "AA"}], "flight_delay_v1"
    )

    assert summary["feature_services"] == ["flight_delay_v1"]
    assert summary["registry"] == str(tmp_path / "home" / "feast_registry.db")
    assert Path(summary["sources"]["plane_features"]).parent == (tmp_path / "data" / "features")
    assert (start, end) == (
        pd.Timestamp("2013-01-01", tz="UTC"),
        pd.Timestamp("2013-03-05 14:00", tz="UTC"),
    )
    assert online["temp"] == [41.0]
    assert online["plane_seats"] == [100]
    assert online["carrier_late_rate_28d"] == [0.2]


@pytest.mark.slow
def test_reapplying_after_a_view_is_removed_deletes_it(tmp_path):
    write_tables(tmp_path / "data", **SMALL_TABLES)
    resource = make_resource(tmp_path)
    assert resource.apply()["deleted"] == []
    repo = tmp_path / "feature_repo"
    services = (repo / "feature_services.py").read_text()
    services = services.replace("from feature_views.carriers import carrier_on_time\n", "")
    (repo / "feature_services.py").write_text(
        services.replace('carrier_on_time[["carrier_late_rate_28d", "carrier_flights_28d"]],', "")
    )
    (repo / "feature_views" / "carriers.py").unlink()

    summary = FeastResource(**resource.model_dump()).apply()

    assert summary["deleted"] == ["FeatureView:carrier_on_time"]
    assert summary["feature_views"] == ["plane_attributes", "weather_hourly"]


@pytest.mark.slow
def test_the_feast_cli_works_in_the_repo_with_the_local_yaml(tmp_path):
    """The default layout: feature_repo/ beside data/ and .twelve/, no environment needed."""
    repo = copy_feature_repo(tmp_path)
    write_tables(tmp_path / "data", **SMALL_TABLES)
    feast = Path(sys.executable).parent / "feast"
    env = {**os.environ, "FEAST_USAGE": "False", "DO_NOT_TRACK": "true"}

    applied = subprocess.run(
        [str(feast), "apply"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    listed = subprocess.run(
        [str(feast), "feature-services", "list"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert applied.returncode == 0, applied.stderr[-2000:]
    assert "Created feature service flight_delay_v1" in applied.stdout
    assert (tmp_path / ".twelve" / "feast_registry.db").is_file()
    assert "flight_delay_v1" in listed.stdout
    assert "carrier_on_time:carrier_flights_28d" in listed.stdout


@pytest.mark.slow
def test_the_feature_assets_run_on_real_dbt_outputs(dbt_feature_slice, tmp_path, monkeypatch):
    """Feb-Mar 2013 through dbt, then Feast and the training set: the contract holds on them."""
    assert dbt_feature_slice["run"].success, dbt_feature_slice["run"].output[-2000:]
    data_dir = tmp_path / "data"
    features_dir = data_dir / "features"
    features_dir.mkdir(parents=True)
    for parquet in (dbt_feature_slice["data_dir"] / "features").glob("*.parquet"):
        (features_dir / parquet.name).write_bytes(parquet.read_bytes())
    monkeypatch.setenv("TWELVE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TWELVE_HOME", str(tmp_path / "home"))
    from flight_delays.definitions import build_defs

    definitions = build_defs()
    names = ("feast_definitions", "online_features", "training_set")
    result = dg.materialize(
        [definitions.get_assets_def(name) for name in names],
        resources={"feast": definitions.resources["feast"]},
        instance=dg.DagsterInstance.ephemeral(),
    )

    assert result.success
    events = pd.read_parquet(features_dir / "flight_events.parquet")
    training = pd.read_parquet(data_dir / "training" / "training_set.parquet")
    assert len(training) == len(events)
    assert list(training.columns) == contract.TRAINING_SET_COLUMNS
    assert training["flight_month"].unique().tolist() == ["2013-02", "2013-03"]
    assert training["is_late"].mean() == pytest.approx(events["is_late"].mean())
    # Weather is hourly at every airport: nearly every flight finds an observation within 3 h.
    assert training["temp"].isna().mean() < 0.02
    assert training["plane_type"].notna().mean() > 0.8
