"""The data-report block of flight_delays through Dagster: profile + report per data version,
logged to MLflow (experiment flight_delays_data), for every raw month and the training set.
"""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from flight_delays import ingest
from twelve.core.files import file_md5, write_parquet
from twelve.core.project import Project
from twelve.monitoring.data_runs import data_tracking
from twelve.monitoring.profiling import ProfileStore, row_count
from twelve.training.tracking import MlflowResource

JANUARY = "2013-01-01"


def _metadata(result, key):
    return result.asset_materializations_for_node(key)[0].metadata


def _data_runs(mlflow: MlflowResource, dataset: str):
    tracking = data_tracking(mlflow)
    return tracking.client().search_runs(
        [tracking.experiment_id()], filter_string=f"tags.`twelve.dataset` = '{dataset}'"
    )


def _artifacts(mlflow: MlflowResource, run_id: str) -> set[str]:
    client = mlflow.client()
    found = set()
    for folder in ("profile", "report"):
        found |= {item.path for item in client.list_artifacts(run_id, folder)}
    return found | {item.path for item in client.list_artifacts(run_id) if not item.is_dir}


@pytest.fixture
def project(twelve_env):
    """The project's definitions and an instance, in a throw-away environment."""
    from flight_delays.definitions import build_defs

    defs = build_defs()

    def materialize(name: str, partition: str | None = None, **kwargs):
        return dg.materialize(
            [defs.resolve_assets_def(name)],
            partition_key=partition,
            instance=instance,
            raise_on_error=False,
            **kwargs,
        )

    with dg.instance_for_test() as instance:
        yield materialize


def _arrive(materialize, partition: str):
    """A raw month materialized by the raw block (written, versioned with DVC): path, md5."""
    result = materialize("raw_flights", partition)
    assert result.success
    metadata = _metadata(result, "raw_flights")
    return Path(metadata["path"].value), metadata["dvc_md5"].value


@pytest.mark.slow
def test_a_raw_month_is_profiled_reported_and_logged_under_its_dvc_md5(twelve_env, project):
    path, md5 = _arrive(project, JANUARY)
    mlflow = MlflowResource()

    result = project("raw_flights_profile", JANUARY)

    store = ProfileStore()
    assert (
        store.path_of("raw_flights", md5) == twelve_env.home / "profiles/raw_flights" / f"{md5}.bin"
    )
    assert row_count(store.read("raw_flights", md5)) == len(pd.read_parquet(path)) == 27004
    info = store.info("raw_flights", md5)
    assert info["source"] == str(path)
    assert info["month"] == "2013-01"
    report = twelve_env.home / "reports" / "raw_flights" / f"{md5}.html"
    html = report.read_text()
    assert md5 in html
    assert all(column in html for column in ingest.FLIGHT_DTYPES)

    metadata = _metadata(result, "raw_flights_profile")
    assert metadata["data_version"].value == md5
    assert metadata["rows"].value == 27004
    assert metadata["report"] == dg.MetadataValue.path(str(report))
    assert "| carrier | categorical |" in metadata["summary"].value
    event = result.asset_materializations_for_node("raw_flights_profile")[0]
    assert event.tags["dagster/data_version"] == md5

    (run,) = _data_runs(mlflow, "raw_flights")
    assert run.info.run_id == metadata["mlflow_run_id"].value
    assert run.data.tags["twelve.data_version"] == md5
    assert run.data.tags["dagster.partition"] == JANUARY
    assert run.data.metrics["rows"] == 27004
    assert _artifacts(mlflow, run.info.run_id) >= {
        f"profile/{md5}.bin",
        f"profile/{md5}.json",
        f"report/{md5}.html",
        "summary.md",
    }

    # The same data version again: reused, not profiled and logged a second time.
    again = project("raw_flights_profile", JANUARY)
    assert _metadata(again, "raw_flights_profile")["reused"].value is True
    assert len(_data_runs(mlflow, "raw_flights")) == 1


def _failure(result) -> str:
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    return failure.step_failure_data.error.message


@pytest.mark.slow
def test_a_month_that_dvc_does_not_track_fails_clearly(twelve_env, project):
    _arrive(project, "2013-02-01")
    (twelve_env.data_dir / "raw" / "flights" / "2013-02.parquet.dvc").unlink()  # untracked

    message = _failure(project("raw_flights_profile", "2013-02-01"))

    assert "2013-02.parquet is not tracked by DVC" in message
    assert not (twelve_env.home / "profiles" / "raw_flights").exists()


@pytest.mark.slow
def test_a_month_changed_after_versioning_fails_clearly(project):
    path, md5 = _arrive(project, JANUARY)
    write_parquet(ingest.read_flights("2013-01").head(10), path)  # edited behind DVC's back

    message = _failure(project("raw_flights_profile", JANUARY))

    assert f"changed since DVC versioned it (pointer md5 {md5}" in message


def test_a_month_that_never_arrived_is_named(project):
    message = _failure(project("raw_flights_profile", "2013-03-01"))

    assert "raw_flights has no materialization of 2013-03-01: materialize it first" in message


def _small_training_set() -> pd.DataFrame:
    """A few hundred January flights in the training set's layout (enough to profile)."""
    flights = ingest.read_flights("2013-01").dropna(subset=["dep_time", "arr_delay"]).head(300)
    return pd.DataFrame(
        {
            "flight_id": [f"f{i}" for i in range(len(flights))],
            "event_timestamp": flights["time_hour"],
            "flight_month": "2013-01",
            "carrier": flights["carrier"],
            "origin": flights["origin"],
            "distance": flights["distance"],
            "sched_dep_hour": flights["hour"],
            "temp": 35.0,
            "plane_year": None,
            "is_late": (flights["arr_delay"] > 15).astype("int64"),
        }
    )


@pytest.mark.slow
def test_the_training_set_profile_becomes_the_reference(twelve_env, project):
    path = Project.of_package("flight_delays").training_set_path()
    write_parquet(_small_training_set(), path)
    md5 = file_md5(path)

    result = project("training_set_profile")

    store = ProfileStore()
    assert store.reference_version("training_set") == md5
    assert store.reference_path("training_set") == store.path_of("training_set", md5)
    assert row_count(store.read_reference("training_set")) == 300
    roles = store.info("training_set", md5)["column_roles"]
    assert roles == {
        "identifiers": ["flight_id", "event_timestamp", "flight_month"],
        "label": "is_late",
        "features": ["carrier", "origin", "distance", "sched_dep_hour", "temp", "plane_year"],
    }
    metadata = _metadata(result, "training_set_profile")
    pointer = twelve_env.home / "profiles" / "training_set" / "reference.json"
    assert metadata["reference"] == dg.MetadataValue.path(str(pointer))
    assert json.loads(pointer.read_text())["version"] == md5
    assert (twelve_env.home / "reports" / "training_set" / f"{md5}.html").is_file()


def test_the_missing_training_set_is_named(project):
    message = _failure(project("training_set_profile"))

    assert "training_set.parquet does not exist" in message


def test_the_block_definitions_load_with_their_resources():
    from flight_delays.definitions import build_defs

    defs = build_defs()
    graph = defs.resolve_asset_graph()
    for key in ("raw_flights_profile", "training_set_profile"):
        node = graph.get(dg.AssetKey(key))
        assert node.description.strip()
        assert node.group_name == "data_reports"
    raw = graph.get(dg.AssetKey("raw_flights_profile"))
    assert raw.partitions_def == Project.of_package("flight_delays").partitions()
    assert dg.AssetKey("raw_flights") in raw.parent_keys
    assert {"mlflow", "dvc"} <= set(defs.resources)
