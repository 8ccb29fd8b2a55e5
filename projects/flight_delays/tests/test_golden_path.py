"""Graph test: the whole golden path on two real months, in process, in a throw-away environment.

Runs through the same runner as ``make demo`` (real Dagster runs recorded in a temporary instance,
a temporary DVC repository and remote, DuckDB warehouse, Feast registry and online store, MLflow
store), then runs it again and checks that nothing downstream is recomputed.
"""

import dagster as dg
import pandas as pd
import pytest

from twelve.runner import run_golden_path

pytestmark = pytest.mark.slow

MONTHS = ["2013-01-01", "2013-02-01"]
# Two months: train on January, hold out February (the defaults hold out December).
RUN_CONFIG = {
    "ops": {
        "holdout_set": {"config": {"month": "2013-02"}},
        "trained_model": {"config": {"first_month": "2013-01", "last_month": "2013-01"}},
        "model_evaluation": {"config": {"min_roc_auc": 0.6}},
        # The second pipeline (logistic regression), on the same months and the same holdout.
        "trained_model_logreg": {"config": {"first_month": "2013-01", "last_month": "2013-01"}},
        "model_evaluation_logreg": {"config": {"min_roc_auc": 0.6}},
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


def test_every_asset_check_passed(golden_path):
    _, defs, instance, *_ = golden_path
    graph = defs.resolve_asset_graph()
    failed = []
    for check_key in graph.asset_check_keys:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [check_key]
        ).get(check_key)
        if record is not None and record.status.value != "SUCCEEDED":
            failed.append(check_key.to_user_string())
    assert not failed


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

    from twelve.tracking import MlflowResource

    aliases = MlflowResource(experiment="flight_delays").aliases_of("flight_delays")
    assert "champion" in aliases

    bento = _latest_metadata(instance, "bento")
    assert bento["bento_tag"].startswith("flight_delay:")
    dockerfile = Path(bento["dockerfile"])
    assert dockerfile.is_file() and dockerfile.is_relative_to(env.home)
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
