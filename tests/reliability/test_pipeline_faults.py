"""Reliability of the training pipeline under faults: nothing already stored is lost or moved.

One throw-away environment runs the two-month golden path (a champion exists), then:
- a training run is killed with SIGKILL mid-fit: the registry and its aliases are unchanged, and
  a re-run completes;
- the upstream weather source renames a column: the run stops before any model is trained, the
  error names the column, and the champion alias is untouched.
Each test prints its figures.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest
import yaml

from twelve import testing
from twelve.core.paths import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

RUN_CONFIG = yaml.safe_load(
    (REPO_ROOT / "projects" / "flight_delays" / "conf" / "runs" / "two_months.yaml").read_text()
)
MODEL = "flight_delays"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from twelve import testing
    from twelve.cli.runner import run_golden_path

    mp = pytest.MonkeyPatch()
    env = testing.make_twelve_env(tmp_path_factory.mktemp("faults"), mp)
    from flight_delays.definitions import build_defs
    from twelve.core.resources import project_resources

    project_resources.cache_clear()  # the stores of this throw-away environment
    defs = build_defs()
    instance = dg.DagsterInstance.get()
    run_golden_path(
        defs, instance, partitioned_job="monthly_arrival",
        partitions=["2013-01-01", "2013-02-01"], main_job="golden_path", run_config=RUN_CONFIG,
    )  # fmt: skip
    yield env, defs, instance
    mp.undo()


def _registry():
    resources = testing.stores("flight_delays")

    mlflow = resources.mlflow
    versions = sorted(
        int(v.version) for v in mlflow.client().search_model_versions(f"name = '{MODEL}'")
    )
    return mlflow.aliases_of(MODEL), versions


# A slow fit (many small boosting steps, no early stop) so the kill lands inside it.
SLOW_TRAINING = textwrap.dedent(
    """
    import dagster as dg
    from flight_delays.definitions import build_defs

    config = {"first_month": "2013-01", "last_month": "2013-01",
              "params": {"max_iter": 4000, "learning_rate": 0.01, "early_stopping": False}}
    build_defs().resolve_job_def("golden_path").execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=[dg.AssetKey("trained_model")],
        run_config={"ops": {"trained_model": {"config": config}}},
    )
    """
)


def _wait_for_running_training(timeout: float = 300.0) -> float:
    resources = testing.stores("flight_delays")

    mlflow = resources.mlflow
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        runs = mlflow.client().search_runs(
            [mlflow.experiment_id()], "attributes.status = 'RUNNING'"
        )
        if runs:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"no training run started within {timeout:.0f} s")


def test_a_training_killed_mid_fit_leaves_the_registry_as_it_was_and_a_rerun_completes(trained):
    _, defs, instance = trained
    aliases_before, versions_before = _registry()
    assert "champion" in aliases_before

    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_TRAINING], env=os.environ.copy(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        waited = _wait_for_running_training()
        time.sleep(2.0)  # inside the fit: the MLflow run exists, nothing is registered yet
        assert process.poll() is None, "the training finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    aliases_after, versions_after = _registry()
    print(f"\nkill -9 after {waited + 2:.1f} s: versions {versions_before} -> {versions_after}, "
          f"aliases {aliases_before} -> {aliases_after}")  # fmt: skip
    assert aliases_after == aliases_before
    assert versions_after == versions_before

    # The same pipeline runs again to the end: a new version, gated, the champion kept.
    keys = [dg.AssetKey(k) for k in ("trained_model", "model_evaluation", "model_alias")]
    ops = {k: v for k, v in RUN_CONFIG["ops"].items() if k in {key.path[0] for key in keys}}
    result = defs.resolve_job_def("golden_path").execute_in_process(
        instance=instance, asset_selection=keys, run_config={"ops": ops}
    )
    assert result.success
    aliases_rerun, versions_rerun = _registry()
    assert len(versions_rerun) == len(versions_before) + 1
    assert aliases_rerun["champion"] == aliases_before["champion"]


def test_a_renamed_upstream_column_stops_the_run_and_leaves_the_champion(trained, monkeypatch):
    from flight_delays import ingest
    from flight_delays.definitions import build_defs
    from twelve.cli.runner import run_golden_path

    _, _, instance = trained
    aliases_before, versions_before = _registry()
    original = ingest.read_weather
    monkeypatch.setattr(
        ingest, "read_weather", lambda: original().rename(columns={"temp": "temperature"})
    )
    # The raw block binds its readers when the definitions load: load them with the new source.
    defs = build_defs()
    started = time.perf_counter()
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    # dbt's staging model is the first to read the column: it refuses to build.
    with pytest.raises(DagsterDbtCliRuntimeError) as failure:
        run_golden_path(
            defs, instance, partitioned_job="monthly_arrival", partitions=[],
            main_job="golden_path", run_config=RUN_CONFIG,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    message = str(failure.value)
    for cause in (failure.value.__cause__, getattr(failure.value, "user_exception", None)):
        message += f" {cause}"
    print(f"\nrenamed column: stopped after {seconds:.1f} s: {message[:300]}")
    # The error names the renamed column and the model that reads it.
    assert 'Column "temp"' in message, message[:2000]
    assert "stg_weather" in message, message[:2000]
    assert _registry() == (aliases_before, versions_before)
