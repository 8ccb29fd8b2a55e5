"""The code location loads: every asset, check, job and resource resolves, with docstrings."""

import dagster as dg


def test_definitions_load_and_every_asset_is_described():
    from flight_delays.definitions import build_defs

    defs = build_defs()

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    expected = {
        "raw_flights",
        "raw_weather",
        "raw_planes",
        "flight_events",
        "weather_features",
        "plane_features",
        "carrier_features",
        "training_set",
    }
    assert expected <= keys
    undocumented = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable and not (graph.get(key).description or "").strip()
    ]
    assert not undocumented, f"assets without a description: {undocumented}"
    for job in ("monthly_arrival", "golden_path", "drift_check"):
        assert isinstance(defs.resolve_job_def(job), dg.JobDefinition)
    sensor = defs.resolve_sensor_def("drift_retraining")
    assert sorted(target.job_name for target in sensor.targets) == ["drift_check", "retraining"]


def _ancestors(graph, key: dg.AssetKey) -> set[str]:
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return {k.to_user_string() for k in seen}


def test_the_lineage_runs_from_raw_data_to_the_training_set():
    from flight_delays.definitions import build_defs

    defs = build_defs()

    ancestors = _ancestors(defs.resolve_asset_graph(), dg.AssetKey("training_set"))
    assert {"raw_flights", "raw_weather", "raw_planes"} <= ancestors
    assert {"flight_events", "weather_features", "plane_features", "carrier_features"} <= ancestors
