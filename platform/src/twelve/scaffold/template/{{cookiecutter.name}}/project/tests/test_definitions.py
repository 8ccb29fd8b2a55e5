"""The code location loads and draws the golden path (`twelve new` prepared the dbt manifest)."""

from {{ cookiecutter.name }}.definitions import defs
from {{ cookiecutter.name }}.paths import asset_key

LINEAGE = {
    "stg_events": {"raw_events"},
    "entity_features": {"stg_events"},
    "label_events": {"stg_events"},
    "feast_definitions": {"entity_features"},
    "online_features": {"feast_definitions"},
    "training_set": {"feast_definitions", "label_events"},
    "raw_events_profile": {"raw_events"},
    "training_set_profile": {"training_set", "raw_events_profile"},
    "holdout_set": {"training_set"},
    "trained_model": {"training_set", "holdout_set"},
    "model_evaluation": {"trained_model"},
    "model_alias": {"model_evaluation"},
    "leaderboard_report": {"model_evaluation"},
    "bento": {"model_alias", "training_set_profile"},
}


def test_the_asset_graph_is_the_golden_path():
    graph = defs.resolve_asset_graph()
    for child, parents in LINEAGE.items():
        node = graph.get(asset_key(child))
        assert node.parent_keys == {asset_key(parent) for parent in parents}, child


def test_every_asset_has_a_description():
    for spec in defs.resolve_all_asset_specs():
        assert spec.description, f"{spec.key.to_user_string()} has no description"


def test_the_drift_sensor_starts_the_golden_path():
    sensor = defs.resolve_sensor_def("drift_retraining")
    assert sensor.job_name == "golden_path"
    assert sensor.asset_key == asset_key("raw_events_profile")
