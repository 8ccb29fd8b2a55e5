"""The code location loads every block configured in ``defs/`` and draws the golden path."""

import dagster as dg
import pytest

# Child -> parents, by asset name (the keys carry the project's prefix).
LINEAGE = {
    "stg_events": {"raw_events"},
    "entity_features": {"stg_events"},
    "label_events": {"stg_events"},
    "feast_definitions": {"entity_features"},
    "online_features": {"feast_definitions"},
    "training_set": {"feast_definitions", "label_events"},
    "holdout_set": {"training_set"},
    "trained_model": {"training_set", "holdout_set"},
    "model_evaluation": {"trained_model", "holdout_set"},
    "model_alias": {"model_evaluation"},
}


@pytest.fixture(scope="module")
def defs(project_module) -> dg.Definitions:
    return project_module("definitions").build_defs()


def test_the_asset_graph_is_the_golden_path(project, defs):
    graph = defs.resolve_asset_graph()
    for child, parents in LINEAGE.items():
        node = graph.get(project.key(child))
        assert {project.key(parent) for parent in parents} <= node.parent_keys, child


def test_every_asset_has_a_description(defs):
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, f"{spec.key.to_user_string()} has no description"


def test_the_jobs_sensor_and_schedule_of_continuous_training_are_there(defs):
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"monthly_arrival", "golden_path", "drift_check", "retraining"} <= jobs
    sensor = defs.resolve_sensor_def("drift_retraining")
    assert {target.job_name for target in sensor.targets} == {"drift_check", "retraining"}
    assert defs.resolve_schedule_def("serving_window_hourly").job_name == "serving_window"
