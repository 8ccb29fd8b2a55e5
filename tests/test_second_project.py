"""A second project (regression, asset prefix ``shop``) configures the monitoring blocks, the jobs
and the sensor with YAML only: its keys, jobs and retraining runs are its own.
"""

import json

import dagster as dg
import pytest
import shop_project
from dagster._config import validate_config

from twelve.core import jobs
from twelve.monitoring.sensor import SENSOR_NAME


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["shop", name])


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """The shop project's definitions, in a throw-away twelve environment."""
    from twelve import testing

    testing.make_twelve_env(tmp_path / "env", monkeypatch)
    return shop_project.build_defs(shop_project.write_project(tmp_path))


def _selected(defs, job: str) -> list[str]:
    selected = defs.resolve_job_def(job).asset_layer.selected_asset_keys
    return sorted(k.to_user_string() for k in selected)


def test_its_assets_carry_its_prefix_and_say_what_they_are(shop):
    graph = shop.resolve_asset_graph()
    for name in ("raw_orders_profile", "training_set_profile", "month_drift",
                 "month_performance", "serving_skew"):  # fmt: skip
        node = graph.get(key(name))
        assert node.description.strip(), name
        assert "flight" not in node.description.lower(), name
    assert key("raw_orders") in graph.get(key("raw_orders_profile")).parent_keys
    assert graph.get(key("month_drift")).partitions_def.get_partition_keys()[0] == "2024-01-01"
    assert len(graph.get(key("month_performance")).partitions_def.get_partition_keys()) == 6
    assert "rmse" in graph.get(key("month_performance")).description


def test_the_five_jobs_select_its_assets_by_role(shop):
    assert _selected(shop, jobs.MONTHLY_ARRIVAL) == ["shop/raw_orders", "shop/raw_orders_profile"]
    assert _selected(shop, jobs.SERVING_WINDOW) == ["shop/serving_skew"]
    assert _selected(shop, jobs.DRIFT_CHECK) == [
        "shop/month_drift", "shop/month_performance", "shop/training_set",
    ]  # fmt: skip
    retraining = _selected(shop, jobs.RETRAINING)
    assert "shop/training_set" not in retraining
    assert "shop/month_drift" not in retraining
    assert {"shop/holdout", "shop/trained_model_linear", "shop/bento",
            "shop/training_set_profile"} <= set(retraining)  # fmt: skip
    golden = set(_selected(shop, jobs.GOLDEN_PATH))
    assert "shop/training_set" in golden
    assert "shop/bento" in golden
    assert not golden & {"shop/raw_orders", "shop/month_drift", "shop/serving_skew"}
    assert shop.resolve_job_def(jobs.DRIFT_CHECK).partitions_def is not None


def test_the_sensor_and_schedule_target_its_jobs_with_its_yaml(shop):
    sensor = shop.resolve_sensor_def(SENSOR_NAME)
    assert sorted(t.job_name for t in sensor.targets) == [jobs.DRIFT_CHECK, jobs.RETRAINING]
    assert sensor.metadata["gap_months"].value == 0
    schedule = shop.resolve_schedule_def("serving_window_hourly")
    assert schedule.cron_schedule == "15 * * * *"
    config = schedule.evaluate_tick(dg.build_schedule_context()).run_requests[0].run_config
    assert config == {"ops": {"shop__serving_skew": {"config": {"window_hours": 2.0}}}}
    job = shop.resolve_job_def(jobs.SERVING_WINDOW)
    assert validate_config(job.run_config_schema.config_type, config).success


def _tick(defs, instance, cursor=None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, sensor_name=SENSOR_NAME
    )
    data = defs.resolve_sensor_def(SENSOR_NAME).evaluate_tick(context)
    return list(data.run_requests or []), data.cursor


def test_the_sensor_watches_its_prefixed_keys_and_configures_its_pipelines(shop):
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=key("raw_orders"), partition="2024-05-01",
                tags={"dagster/data_version": "md5-may"},
            )
        )  # fmt: skip
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=key("month_performance"),
                partition="2024-05-01",
                metadata={"month": "2024-05", "verdict": "below", "metric": "rmse",
                          "score": 3.1, "required_score": 2.0, "model": "shop v1",
                          "performance_event": "2024-05@shop-v1"},
            )
        )  # fmt: skip

        (check, retrain), cursor = _tick(shop, instance)

        assert (check.job_name, check.partition_key) == (jobs.DRIFT_CHECK, "2024-05-01")
        assert retrain.job_name == jobs.RETRAINING
        assert retrain.tags["twelve/trigger"] == "performance"
        assert json.loads(retrain.tags["twelve/drift_scores"]) == {"rmse": 3.1}
        # gap_months 0: trained up to the month before the holdout; the gate's RMSE from YAML.
        assert retrain.run_config == {
            "ops": {
                "shop__holdout": {"config": {"month": "2024-05"}},
                "shop__trained_model": {"config": {"last_month": "2024-04"}},
                "shop__trained_model_linear": {"config": {"last_month": "2024-04"}},
                "shop__model_evaluation": {"config": {"required_score": 2.5}},
                "shop__model_evaluation_linear": {"config": {"required_score": 2.5}},
            }
        }
        job = shop.resolve_job_def(jobs.RETRAINING)
        assert validate_config(job.run_config_schema.config_type, retrain.run_config).success
        assert _tick(shop, instance, cursor)[0] == []  # one run per event


def test_a_retraining_that_leaves_no_training_month_runs_with_the_yaml(shop):
    # The pipelines' first training month is 2024-02: a holdout of February leaves none.
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=key("month_drift"),
                partition="2024-02-01",
                metadata={"month": "2024-02", "verdict": "drift", "drift_event": "2024-02@x"},
            )
        )
        (request,), _ = _tick(shop, instance)
    assert request.run_config == {}
    assert request.tags["twelve/training_window"] == "YAML defaults"
