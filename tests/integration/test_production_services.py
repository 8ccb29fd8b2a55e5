"""The production profile on real services: PostgreSQL, Redis and an S3-compatible store.

The golden path (two real months) runs with ``TWELVE_PROFILE=production`` against Debian's
PostgreSQL and Redis and moto's S3 on 127.0.0.1: the Dagster instance, MLflow's tracking and
registry store and Feast's registry on PostgreSQL, MLflow artifacts and the DVC remote on S3, the
online store in Redis. Then PostgreSQL and Redis restart, and everything is still there.
"""

import shutil
import tempfile
from pathlib import Path

import dagster as dg
import pytest
import yaml

from twelve.paths import REPO_ROOT

pytestmark = pytest.mark.slow

# The quick two-month slice every golden-path test uses (train January, hold out February).
RUN_CONFIG = yaml.safe_load(
    (REPO_ROOT / "projects" / "flight_delays" / "conf" / "runs" / "two_months.yaml").read_text()
)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    from twelve import local_services, testing

    root = tmp_path_factory.mktemp("production")
    mp = pytest.MonkeyPatch()
    env = testing.make_twelve_env(root / "env", mp)
    # Not under pytest's tmp: that is private to root, and PostgreSQL runs as `postgres`.
    services_dir = Path(tempfile.mkdtemp(prefix="twelve-services-"))
    services_dir.chmod(0o755)
    with local_services.running(services_dir) as services:
        for name, value in services.environment().items():
            mp.setenv(name, value)
        from flight_delays import resources

        for factory in (resources.dvc, resources.mlflow, resources.feast):
            factory.cache_clear()
        home = root / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO_ROOT / "infra" / "production" / "dagster.yaml",
                        home / "dagster.yaml")  # fmt: skip
        mp.setenv("DAGSTER_HOME", str(home))
        instance = dg.DagsterInstance.get()

        from flight_delays.definitions import build_defs
        from twelve.runner import run_golden_path

        summary = run_golden_path(
            build_defs(), instance, partitioned_job="monthly_arrival",
            partitions=["2013-01-01", "2013-02-01"], main_job="golden_path",
            run_config=RUN_CONFIG,
        )  # fmt: skip
        yield env, services, instance, summary
        instance.dispose()
        for factory in (resources.dvc, resources.mlflow, resources.feast):
            factory.cache_clear()
    mp.undo()
    shutil.rmtree(services_dir, ignore_errors=True)


def _s3_keys(services, prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=services.s3.endpoint, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="twelve", Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _online_temp(origin: str):
    from flight_delays import resources

    store = resources.feast().feature_store()
    rows = store.get_online_features(features=["weather_hourly:temp"],
                                     entity_rows=[{"origin": origin}]).to_dict()  # fmt: skip
    return rows["temp"][0]


def test_the_golden_path_ran_on_postgres_with_data_and_artifacts_on_s3(production):
    _, services, instance, summary = production
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert len(instance.get_run_records()) == len(summary.steps)
    assert _s3_keys(services, "dvc/files/md5/"), "no data version was pushed to the S3 remote"
    assert _s3_keys(services, "mlflow/"), "no MLflow artifact reached S3"

    from flight_delays import resources

    assert "champion" in resources.mlflow().aliases_of("flight_delays")
    assert resources.mlflow().resolved_tracking_uri().startswith("postgresql+psycopg2://")
    assert _online_temp("JFK") is not None, "the Redis online store has no weather for JFK"


def test_a_past_data_version_reads_back_from_the_s3_remote(production):
    env, *_ = production
    from flight_delays import resources

    path = env.data_dir / "raw" / "flights" / "2013-01.parquet"
    md5 = resources.dvc().version_of(path)
    shutil.rmtree(env.repo / ".dvc" / "cache")
    assert resources.dvc().read_version(md5) == path.read_bytes()


def test_everything_is_still_there_after_postgres_and_redis_restart(production):
    _, services, instance, summary = production
    from flight_delays import resources

    temp_before = _online_temp("EWR")
    aliases_before = resources.mlflow().aliases_of("flight_delays")
    services.restart_stores()
    resources.feast.cache_clear()  # a new client: nothing cached in this process survives
    assert len(instance.get_run_records()) == len(summary.steps)
    assert resources.mlflow().aliases_of("flight_delays") == aliases_before
    assert _online_temp("EWR") == temp_before
