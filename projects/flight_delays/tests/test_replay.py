"""`twelve replay flight_delays`: the continuous-training loop on real months (its pure parts are
tested in tests/test_replay_summary.py).

The end-to-end test bootstraps a champion on January-March and replays April: April's flights are
served to the champion's bento (`bentoml serve`), April arrives, the sensor checks it and starts
one retraining whose gate decides. It runs the real CLI in a subprocess (its own environment).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from synthetic_training_set import build_training_set

TWELVE = str(Path(sys.executable).parent / "twelve")  # the entry point, as users run it


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """`twelve replay --initial 2013-01..2013-03 --months 2013-04` in a subprocess."""
    root = tmp_path_factory.mktemp("replay")
    data = root / "main-data"
    (data / "training").mkdir(parents=True)
    # The traffic source: April's real flights with their point-in-time features.
    build_training_set(months=[4], rows_per_month=400).to_parquet(
        data / "training" / "training_set.parquet", index=False
    )
    workdir = root / "replay"
    env = {
        **os.environ,
        "TWELVE_HOME": str(root / "main-home"),
        "TWELVE_DATA_DIR": str(data),
        "DAGSTER_HOME": str(root / "main-home" / "dagster_home"),
    }
    command = [
        TWELVE, "replay", "--initial", "2013-01..2013-03",
        "--months", "2013-04", "--rows", "300", "--workdir", str(workdir),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    summary = json.loads((workdir / "replay.json").read_text()) if done.returncode == 0 else {}
    return done, workdir, summary


@pytest.mark.slow
@pytest.mark.long
def test_the_loop_runs_drift_to_sensor_to_retraining_to_gate(replayed):
    done, workdir, summary = replayed
    assert done.returncode == 0, done.stderr[-4000:]

    (april,) = summary["months"]
    assert april["traffic_rows"] == 300
    assert april["traffic_errors"] == 0
    assert april["served_model"] == summary["first_champion"] == "flight_delays v1"
    assert april["serving_verdict"] in ("drift", "possible drift", "no drift")
    # April against the champion's January rows: spring is warmer (real drift).
    assert april["drift_verdict"] == "drift"
    assert "temp" in april["drifted"]
    assert summary["metric"] == "roc_auc"
    assert summary["project"] == "flight_delays"
    assert april["score"] is not None
    assert april["performance_verdict"] in ("ok", "below")
    jobs = [(run["job"], run["success"]) for run in april["runs"]]
    assert jobs == [("drift_check", True), ("retraining", True)]
    assert april["decision"] in ("promoted", "kept challenger")
    assert april["challenger_score"] is not None
    assert april["champion_score"] is not None
    assert april["bento_after"].startswith("flight_delay:")
    page = (workdir / "replay.html").read_text()
    assert "<svg" in page
    assert "2013-04" in page
    assert "twelve replay: 1 month(s)" in done.stderr
    assert "Where to look next" in done.stderr


@pytest.mark.slow
@pytest.mark.long
def test_the_runs_were_started_by_the_sensor_with_the_evidence(replayed):
    done, workdir, summary = replayed
    assert done.returncode == 0, done.stderr[-4000:]
    home = workdir / "home" / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/sensor_name": "drift_retraining"})
        )
        by_job = {run.job_name: run for run in runs}
        assert sorted(by_job) == ["drift_check", "retraining"]
        assert by_job["drift_check"].tags["dagster/partition"] == "2013-04-01"
        tags = by_job["retraining"].tags
        assert "drift" in tags["twelve/trigger"].split(",")
        assert tags["twelve/holdout_month"] == "2013-04"
        assert "temp" in tags["twelve/drift_features"].split(",")
        assert json.loads(tags["twelve/drift_scores"])["temp"] > 0.15
        assert tags["dagster/run_key"].startswith("retrain:")
        # The gate's decision is on the retrained version's alias materialization.
        alias = instance.get_latest_materialization_event(dg.AssetKey("model_alias"))
        decision = alias.asset_materialization.metadata["decision"].value
        assert decision == summary["months"][0]["decision"]

        # One more tick from where the sensor stood: nothing new, no run (one run per event).
        from flight_delays.definitions import build_defs
        from twelve.cli import sensor_ticks

        tick = sensor_ticks.tick(build_defs(), "drift_retraining", instance,
                                 summary["sensor_cursor"])  # fmt: skip
        assert tick.requests == []


def test_a_missing_traffic_source_is_a_usage_error(tmp_path):
    env = {**os.environ, "TWELVE_HOME": str(tmp_path / "home"),
           "TWELVE_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    done = subprocess.run(
        [TWELVE, "replay", "--workdir", str(tmp_path / "replay")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 2
    assert "training_set.parquet does not exist: run `make demo` first" in done.stderr
    assert not (tmp_path / "replay").exists()  # refused before anything was created
