"""Graph test: the whole golden path on two real months, in process, in a throw-away environment.

Runs through the same runner as ``make demo`` (real Dagster runs recorded in a temporary instance,
a temporary DVC repository and remote, DuckDB warehouse, Feast registry and online store, MLflow
store), then runs it again and checks that nothing downstream is recomputed.
"""

import dagster as dg
import pandas as pd
import pytest

from twelve.cli.runner import run_golden_path

pytestmark = pytest.mark.slow

MONTHS = ["2013-01-01", "2013-02-01"]
# Two months: train on January, hold out February (the defaults hold out December).
RUN_CONFIG = {
    "ops": {
        "holdout_set": {"config": {"month": "2013-02"}},
        "trained_model": {"config": {"first_month": "2013-01", "last_month": "2013-01"}},
        "model_evaluation": {"config": {"required_score": 0.6}},
        # The second pipeline (logistic regression), on the same months and the same holdout.
        "trained_model_logreg": {"config": {"first_month": "2013-01", "last_month": "2013-01"}},
        "model_evaluation_logreg": {"config": {"required_score": 0.6}},
    }
}


@pytest.fixture(scope="module")
def golden_path(tmp_path_factory):
    # Module scope: one materialization shared by the assertions below (it takes a while).
    mp = pytest.MonkeyPatch()
    from twelve import testing

    env = testing.make_twelve_env(tmp_path_factory.mktemp("golden"), mp)
    from flight_delays.definitions import build_defs

    defs = build_defs()
    instance = dg.DagsterInstance.ephemeral()
    first = run_golden_path(
        defs,
        instance,
        partitioned_job="monthly_arrival",
        partitions=MONTHS,
        main_job="golden_path",
        run_config=RUN_CONFIG,
    )
    second = run_golden_path(
        defs,
        instance,
        partitioned_job="monthly_arrival",
        partitions=MONTHS,
        main_job="golden_path",
        run_config=RUN_CONFIG,
    )
    yield env, defs, instance, first, second
    mp.undo()


def test_the_training_set_holds_the_two_months_with_a_plausible_late_rate(golden_path):
    env, *_ = golden_path
    training = pd.read_parquet(env.data_dir / "training" / "training_set.parquet")
    assert set(training["flight_month"]) == {"2013-01", "2013-02"}
    assert 0.15 < training["is_late"].mean() < 0.35
    leaks = {"dep_time", "dep_delay", "arr_time", "air_time", "arr_delay"} & set(training.columns)
    assert not leaks


def test_every_asset_check_ran_and_passed(golden_path):
    _, defs, instance, first, _ = golden_path
    graph = defs.resolve_asset_graph()
    materialized = {key for step in first.steps for key in step.assets}
    expected = {check for check in graph.asset_check_keys if check.asset_key in materialized}
    # The gate's two blocking checks of each pipeline and the dbt tests, at the least.
    names = {check.name for check in expected}
    assert {"beats_naive_baseline", "meets_required_score"} <= names
    assert len(expected) >= 10, sorted(check.to_user_string() for check in expected)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(expected))
    never_ran = sorted(check.to_user_string() for check in expected if check not in records)
    failed = sorted(
        check.to_user_string()
        for check, record in records.items()
        if record.status.value != "SUCCEEDED"
    )
    assert not never_ran, f"checks that never ran: {never_ran}"
    assert not failed, f"checks that did not succeed: {failed}"


def test_a_second_run_with_nothing_changed_recomputes_nothing_downstream(golden_path):
    *_, first, second = golden_path
    ran_first = {key for step in first.steps for key in step.assets}
    ran_second = {key.to_user_string() for step in second.steps for key in step.assets}
    assert dg.AssetKey("training_set") in ran_first
    assert ran_second <= {"raw_flights", "raw_weather", "raw_planes"}


def _latest_metadata(instance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None, f"{key} was never materialized"
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def test_the_model_is_registered_champion_and_built_into_a_bento(golden_path):
    env, _, instance, *_ = golden_path
    from pathlib import Path

    from twelve.training.tracking import MlflowResource

    aliases = MlflowResource(experiment="flight_delays").aliases_of("flight_delays")
    assert "champion" in aliases

    bento = _latest_metadata(instance, "bento")
    assert bento["bento_tag"].startswith("flight_delay:")
    dockerfile = Path(bento["dockerfile"])
    assert dockerfile.is_file()
    assert dockerfile.is_relative_to(env.home)
    assert "FROM" in dockerfile.read_text()


def test_both_pipelines_are_scored_on_the_same_versioned_holdout(golden_path):
    _, _, instance, *_ = golden_path
    boosted = _latest_metadata(instance, "model_evaluation")
    linear = _latest_metadata(instance, "model_evaluation_logreg")
    assert boosted["holdout_md5"] == linear["holdout_md5"]
    assert _latest_metadata(instance, "holdout_set")["dvc_md5"] == boosted["holdout_md5"]
    assert (boosted["registered_model"], linear["registered_model"]) == (
        "flight_delays",
        "flight_delays_logreg",
    )
    # Each pipeline's gate and aliases are its own: the logistic regression has its champion.
    assert _latest_metadata(instance, "model_alias_logreg")["alias"] == "champion"


def _every_version_stored(env, instance) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from twelve.data.versioning import DvcResource

    manifest = _latest_metadata(instance, "trained_model")["manifest"]
    versions = {
        **manifest["raw_inputs"],
        "training set": manifest["training_set_md5"],
        "holdout": manifest["holdout_md5"],
    }
    assert len(manifest["raw_inputs"]) == 4  # two months, weather, planes
    dvc = DvcResource()
    assert {name: dvc.stored(md5) for name, md5 in versions.items()} == {
        name: (True, True) for name in versions
    }
    dvc_bin = Path(sys.executable).parent / "dvc"
    status = subprocess.run(
        [str(dvc_bin), "status", "-c"], cwd=env.repo, capture_output=True, text=True, check=True
    )
    assert "missing" not in status.stdout, status.stdout


def test_every_data_version_the_model_depends_on_is_in_the_dvc_cache_and_remote(golden_path):
    env, _, instance, *_ = golden_path
    _every_version_stored(env, instance)


def test_a_training_whose_pointers_are_committed_stores_what_the_clone_lacks(golden_path):
    """As on a fresh clone: the pointers hold the right md5s, the cache and remote are empty.

    Last in this module: it empties the DVC cache and remote of the shared environment.
    """
    import shutil

    from twelve.data.versioning import DvcResource

    env, defs, instance, *_ = golden_path
    shutil.rmtree(env.repo / ".dvc" / "cache")
    shutil.rmtree(DvcResource()._remote())
    ops = {key: RUN_CONFIG["ops"][key] for key in ("trained_model",)}
    result = defs.resolve_job_def("golden_path").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("trained_model")], run_config={"ops": ops}
    )
    assert result.success
    _every_version_stored(env, instance)
