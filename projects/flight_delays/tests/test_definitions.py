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
    for job in ("monthly_arrival", "golden_path", "drift_check", "retraining", "serving_window"):
        assert isinstance(defs.resolve_job_def(job), dg.JobDefinition)
        assert defs.resolve_job_def(job).description.strip()
    sensor = defs.resolve_sensor_def("drift_retraining")
    assert sorted(target.job_name for target in sensor.targets) == ["drift_check", "retraining"]
    assert sensor.description.strip()
    schedule = defs.resolve_schedule_def("serving_window_hourly")
    assert schedule.job_name == "serving_window"
    assert schedule.description.strip()


def test_the_jobs_select_the_projects_assets_by_role():
    from flight_delays.definitions import build_defs

    defs = build_defs()

    def selected(job: str) -> set[str]:
        keys = defs.resolve_job_def(job).asset_layer.selected_asset_keys
        return {key.to_user_string() for key in keys}

    assert selected("monthly_arrival") == {"raw_flights", "raw_flights_profile"}
    assert selected("serving_window") == {"serving_skew"}
    assert selected("drift_check") == {
        *("stg_flights", "stg_planes", "stg_weather", "flight_events", "weather_features"),
        *("plane_features", "carrier_features", "feast_definitions", "training_set"),
        *("month_drift", "month_performance"),
    }
    assert selected("retraining") == {
        *("holdout_set", "trained_model", "model_evaluation", "model_alias"),
        *("trained_model_logreg", "model_evaluation_logreg", "model_alias_logreg"),
        *("leaderboard", "training_set_profile", "bento"),
    }
    golden = selected("golden_path")
    assert {"raw_weather", "raw_planes", "training_set", "bento", "online_features"} <= golden
    assert not golden & {"raw_flights", "raw_flights_profile", "month_drift", "serving_skew"}


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
