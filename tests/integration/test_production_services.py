"""The production profile on real services: PostgreSQL, Redis and an S3-compatible store.

The golden path (two real months) runs with ``TWELVE_PROFILE=production`` against Debian's
PostgreSQL and Redis and moto's S3 on 127.0.0.1: the Dagster instance, MLflow's tracking and
registry store and Feast's registry on PostgreSQL, MLflow artifacts and the DVC remote on S3, the
online store in Redis. Then PostgreSQL and Redis restart, and everything is still there; the
tracking store's database goes down before and during a training (reliability: it fails clearly,
nothing is registered, a re-run completes); the bento the golden path built is served and scores
flights with the entity features it reads from Redis.
"""

import contextlib
import json
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml

from twelve import testing
from twelve.core.paths import REPO_ROOT

pytestmark = pytest.mark.slow

# The quick two-month slice every golden-path test uses (train January, hold out February).
RUN_CONFIG = yaml.safe_load(
    (REPO_ROOT / "projects" / "flight_delays" / "conf" / "runs" / "two_months.yaml").read_text()
)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    import local_services

    from twelve import testing

    root = tmp_path_factory.mktemp("production")
    mp = pytest.MonkeyPatch()
    env = testing.make_twelve_env(root / "env", mp)
    # Not under pytest's tmp: that is private to root, and PostgreSQL runs as `postgres`.
    services_dir = Path(tempfile.mkdtemp(prefix="twelve-services-"))
    services_dir.chmod(0o755)
    with local_services.running(services_dir) as services:
        for name, value in services.environment().items():
            mp.setenv(name, value)
        from twelve.core.resources import project_resources

        project_resources.cache_clear()  # resolved for the production profile from here on
        home = root / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO_ROOT / "infra" / "production" / "dagster.yaml",
                        home / "dagster.yaml")  # fmt: skip
        mp.setenv("DAGSTER_HOME", str(home))
        instance = dg.DagsterInstance.get()

        from flight_delays.definitions import build_defs
        from twelve.cli.runner import run_golden_path

        summary = run_golden_path(
            build_defs(), instance, partitioned_job="monthly_arrival",
            partitions=["2013-01-01", "2013-02-01"], main_job="golden_path",
            run_config=RUN_CONFIG,
        )  # fmt: skip
        yield env, services, instance, summary
        instance.dispose()
        project_resources.cache_clear()
    mp.undo()
    shutil.rmtree(services_dir, ignore_errors=True)


def _s3_keys(services, prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=services.s3.endpoint, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="twelve", Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _online_temp(origin: str):
    resources = testing.stores("flight_delays")

    store = resources.feast.feature_store()
    rows = store.get_online_features(features=["weather_hourly:temp"],
                                     entity_rows=[{"origin": origin}]).to_dict()  # fmt: skip
    return rows["temp"][0]


def test_the_golden_path_ran_on_postgres_with_data_and_artifacts_on_s3(production):
    _, services, instance, summary = production
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert len(instance.get_run_records()) == len(summary.steps)
    assert _s3_keys(services, "dvc/files/md5/"), "no data version was pushed to the S3 remote"
    assert _s3_keys(services, "mlflow/"), "no MLflow artifact reached S3"

    resources = testing.stores("flight_delays")

    assert "champion" in resources.mlflow.aliases_of("flight_delays")
    assert resources.mlflow.resolved_tracking_uri().startswith("postgresql+psycopg2://")
    assert _online_temp("JFK") is not None, "the Redis online store has no weather for JFK"


def test_a_past_data_version_reads_back_from_the_s3_remote(production):
    env, *_ = production
    resources = testing.stores("flight_delays")

    path = env.data_dir / "raw" / "flights" / "2013-01.parquet"
    md5 = resources.dvc.version_of(path)
    shutil.rmtree(env.repo / ".dvc" / "cache")
    assert resources.dvc.read_version(md5) == path.read_bytes()


def test_everything_is_still_there_after_postgres_and_redis_restart(production):
    _, services, instance, summary = production
    resources = testing.stores("flight_delays")
    from twelve.core.resources import project_resources

    temp_before = _online_temp("EWR")
    aliases_before = resources.mlflow.aliases_of("flight_delays")
    services.restart_stores()
    project_resources.cache_clear()  # new clients: nothing cached in this process survives
    assert len(instance.get_run_records()) == len(summary.steps)
    assert resources.mlflow.aliases_of("flight_delays") == aliases_before
    assert _online_temp("EWR") == temp_before


# ----------------------------------------------------------------------------- tracking store down
MODEL = "flight_delays"
TRAINING_STEPS = ("trained_model", "model_evaluation", "model_alias")


@contextlib.contextmanager
def _database_down(services, database: str):
    """PostgreSQL refuses every connection to ``database`` (open ones are cut) until the exit.

    The tracking store's database alone goes down: the Dagster instance, in another database of
    the same server, keeps recording the run and its failure.
    """
    import psycopg2

    admin = psycopg2.connect(host="127.0.0.1", port=services.postgres.port, user="postgres",
                             dbname="postgres")  # fmt: skip
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
        yield
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        admin.close()


def _registry_state():
    resources = testing.stores("flight_delays")

    mlflow = resources.mlflow
    versions = sorted(
        int(v.version) for v in mlflow.client().search_model_versions(f"name = '{MODEL}'")
    )
    runs = mlflow.client().search_runs([mlflow.experiment_id()], max_results=1000)
    return mlflow.aliases_of(MODEL), versions, len(runs)


def _train_again(instance):
    """trained_model -> model_evaluation -> model_alias, as a re-run after a failure runs them."""
    from flight_delays.definitions import build_defs

    ops = {k: v for k, v in RUN_CONFIG["ops"].items() if k in TRAINING_STEPS}
    started = time.perf_counter()
    result = build_defs().resolve_job_def("golden_path").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(k) for k in TRAINING_STEPS],
        run_config={"ops": ops}, raise_on_error=False,
    )  # fmt: skip
    failures = [
        f"{event.step_key}: {event.event_specific_data.error.to_string()}"
        for event in result.all_events
        if event.is_step_failure
    ]
    return result.success, "\n".join(failures), time.perf_counter() - started


@pytest.mark.reliability
def test_the_tracking_store_down_fails_the_training_clearly_and_a_rerun_completes(
    production, monkeypatch
):
    from twelve.training import fitting

    _, services, instance, _ = production
    before = _registry_state()
    assert "champion" in before[0]

    # Down when the training starts: it fails in seconds, before the fit, naming the store.
    with _database_down(services, "mlflow"):
        ok, error_at_start, start_s = _train_again(instance)
    assert not ok
    assert start_s < 30, "an outage at the start must fail before the fit, not after it"
    assert "MLflow tracking store postgresql+psycopg2://" in error_at_start
    assert "/mlflow is unavailable" in error_at_start
    assert _registry_state() == before

    # Down while the model is being fitted: logging the run fails; nothing is registered.
    fit = fitting.fit_and_score
    outage = contextlib.ExitStack()

    def fit_then_outage(*args, **kwargs):
        scored = fit(*args, **kwargs)
        outage.enter_context(_database_down(services, "mlflow"))
        return scored

    monkeypatch.setattr(fitting, "fit_and_score", fit_then_outage)
    with outage:
        ok, error_mid_run, mid_s = _train_again(instance)
    monkeypatch.undo()
    assert not ok
    assert 'database "mlflow"' in error_mid_run
    after_failures = _registry_state()
    assert after_failures == before

    # The store is back: the same steps run to the end and register one new version.
    ok, error, rerun_s = _train_again(instance)
    assert ok, error
    aliases, versions, runs = _registry_state()
    assert versions == [*before[1], max(before[1]) + 1]
    assert aliases["champion"] in {before[0]["champion"], str(max(versions))}
    print(
        f"\ntracking store down: at start failed in {start_s:.1f} s, mid-run failed in "
        f"{mid_s:.1f} s (fit included): versions {after_failures[1]}, aliases "
        f"{after_failures[0]}, MLflow runs {before[2]} -> {after_failures[2]}; restored: the "
        f"re-run took {rerun_s:.1f} s, registered version {max(versions)}, aliases {aliases}, "
        f"runs {runs}"
    )


# ----------------------------------------------------------------------------- serving from Redis
# A real flight of the holdout month (UA 1545's plane, EWR -> IAH): every entity is in the store.
FLIGHT = {
    "carrier": "UA",
    "origin": "EWR",
    "dest": "IAH",
    "tailnum": "N14228",
    "scheduled_departure": "2013-02-01T05:15:00-05:00",
    "distance": 1400.0,
}
FEATURE_SERVICE = "flight_delay_v1"
SERVED_REQUESTS = 40
# Under the production profile a bento serves only with a bearer token (Kubernetes: a Secret).
TOKEN = "production-test-token"


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def _predict(url: str) -> dict:
    return _post(f"{url}/predict", {"flights": [FLIGHT]})["predictions"][0]


def _row_from_the_online_store() -> dict:
    """The model input of FLIGHT as this test reads it from the online store, through Feast."""
    import pandas as pd

    resources = testing.stores("flight_delays")

    store = resources.feast.feature_store()
    online = store.get_online_features(
        features=store.get_feature_service(FEATURE_SERVICE),
        entity_rows=[{key: FLIGHT[key] for key in ("origin", "tailnum", "carrier")}],
    ).to_dict()
    local = pd.Timestamp(FLIGHT["scheduled_departure"]).tz_convert("America/New_York")
    row = {
        **{key: FLIGHT[key] for key in ("carrier", "origin", "dest", "distance")},
        "sched_dep_hour": local.hour,
        "day_of_week": local.dayofweek,
        "month": local.month,
    }
    for name, values in online.items():
        if name not in ("origin", "tailnum", "carrier"):
            row[name] = values[0]
    return row


def _redis_key_of_plane(tailnum: str) -> bytes:
    """The Redis key under which Feast keeps one plane's features (Feast's own key function)."""
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    resources = testing.stores("flight_delays")

    config = resources.feast.feature_store().config
    key = EntityKey(join_keys=["tailnum"], entity_values=[Value(string_val=tailnum)])
    version = config.entity_key_serialization_version
    return _redis_key(config.project, key, entity_key_serialization_version=version)


def test_the_built_bento_serves_features_from_redis(production, tmp_path):
    import redis
    from bento_support import start_server, stop_server

    env, services, instance, _ = production
    event = instance.get_latest_materialization_event(dg.AssetKey("bento"))
    metadata = event.asset_materialization.metadata
    tag, bento_path = metadata["bento_tag"].value, Path(metadata["bento_path"].value)
    # What the bento recorded when the golden path built it under the production profile.
    recorded = json.loads((bento_path / "src" / "serving_config.json").read_text())
    assert recorded["feature_store"]["online_store"]["type"] == "redis"
    assert recorded["feature_store"]["registry"]["registry_type"] == "sql"

    client = redis.Redis(host="127.0.0.1", port=services.redis.port)
    with pytest.raises(RuntimeError, match="TWELVE_SERVING_TOKEN"):  # no open endpoint there
        stop_server(start_server(tag, env.home, tmp_path, {}, fail_on="TWELVE_SERVING_TOKEN")[0])
    server, url, _, ready_s = start_server(tag, env.home, tmp_path, {"TWELVE_SERVING_TOKEN": TOKEN})
    try:
        for _ in range(3):  # warm-up: the first lookups open the SQL registry and Redis
            _predict(url)
        latencies = []
        for _ in range(SERVED_REQUESTS):
            began = time.perf_counter()
            served = _predict(url)
            latencies.append((time.perf_counter() - began) * 1000)
        assert served["unknown_entities"] == []
        # The same row, its entity features read from the store by this test, scores the same.
        expected = _post(f"{url}/predict_features", {"rows": [_row_from_the_online_store()]})
        assert served["probability"] == pytest.approx(expected["predictions"][0]["probability"])

        # Proof that it is Redis, read live: the plane's record removed, the plane is unknown.
        key = _redis_key_of_plane(FLIGHT["tailnum"])
        saved = client.dump(key)
        assert saved is not None, "the plane's record is not in Redis"
        client.delete(key)
        try:
            without_plane = _predict(url)
        finally:
            client.restore(key, 0, saved)
        assert without_plane["unknown_entities"] == ["tailnum"]
        assert without_plane["probability"] != served["probability"]
        assert _predict(url) == served

        # PostgreSQL and Redis restart under the running server: it reconnects, same answer.
        services.restart_stores()
        after_restart = _predict(url)
        assert after_restart == served
        assert not (env.home / "feast_online_store.db").exists(), "a SQLite store was created"
    finally:
        stop_server(server)
        client.close()
    print(
        f"\nbento {tag} on Redis: ready in {ready_s:.1f} s; {SERVED_REQUESTS} /predict requests, "
        f"0 errors, median {statistics.median(latencies):.1f} ms, "
        f"p95 {statistics.quantiles(latencies, n=20)[-1]:.1f} ms; plane record deleted -> "
        f"unknown {without_plane['unknown_entities']}; same answer after a Redis/PostgreSQL restart"
    )
