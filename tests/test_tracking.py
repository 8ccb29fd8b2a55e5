"""The MLflow resource: fails fast on an outage, logs pipelines safely, never half-registers."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from twelve.testing import free_port
from twelve.training.tracking import MlflowResource, MlflowUnavailableError, model_requirements

MODEL = "tracking_test"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating one costs ~1.2 s of migrations)."""
    root = tmp_path_factory.mktemp("mlflow")
    return MlflowResource(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifact_location=(root / "artifacts").as_uri(),
        experiment="tracking_test",
    )


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), x


def _logged_run(store, fitted, name="tracking"):
    """Log the pipeline in a fresh run; return (run_id, model_uri)."""
    from mlflow.models import infer_signature

    pipeline, x = fitted
    signature = infer_signature(x, pipeline.predict_proba(x))
    with store.start_run(name) as run:
        info = store.log_sklearn_pipeline(pipeline, signature=signature, input_example=x.head(3))
    return run.info.run_id, info.model_uri


def _versions_of(store, run_id):
    return store.client().search_model_versions(f"name = '{MODEL}' and run_id = '{run_id}'")


def test_a_dead_tracking_server_is_reported_in_seconds_with_its_uri():
    dead = MlflowResource(tracking_uri=f"http://127.0.0.1:{free_port()}")
    started = time.perf_counter()
    with pytest.raises(MlflowUnavailableError, match=r"http://127\.0\.0\.1:\d+ is unavailable"):
        dead.ensure_available()
    assert time.perf_counter() - started < 5


def test_the_embedded_store_is_available(store):
    store.ensure_available()


def test_a_logged_pipeline_is_skops_with_pinned_requirements_and_loads_back(store, fitted):
    import mlflow

    pipeline, x = fitted
    run_id, model_uri = _logged_run(store, fitted)
    flavor = mlflow.models.get_model_info(model_uri).flavors["python_function"]
    assert flavor["predict_fn"] == "predict_proba"
    sklearn_flavor = mlflow.models.get_model_info(model_uri).flavors["sklearn"]
    assert sklearn_flavor["serialization_format"] == "skops"
    requirements = mlflow.pyfunc.get_model_dependencies(model_uri)
    pinned = Path(requirements).read_text()
    for requirement in model_requirements():
        assert requirement in pinned
    with store.provisional_version(model_uri, MODEL, run_id) as version:
        pass
    loaded = store.load_sklearn_model(MODEL, str(version.version))
    np.testing.assert_array_equal(loaded.predict_proba(x), pipeline.predict_proba(x))


def test_a_failure_after_registration_deletes_the_version_and_fails_the_run(store, fitted):
    run_id, model_uri = _logged_run(store, fitted)
    # PT012 allowed: the failure must be raised inside provisional_version's block, after the check.
    with (  # noqa: PT012
        pytest.raises(RuntimeError, match="later step"),
        store.provisional_version(model_uri, MODEL, run_id, {"k": "v"}) as version,
    ):
        assert _versions_of(store, run_id)[0].version == version.version
        raise RuntimeError("a later step failed")
    assert _versions_of(store, run_id) == []
    assert store.client().get_run(run_id).info.status == "FAILED"


def test_a_registration_that_fails_halfway_leaves_no_version(store, fitted, monkeypatch):
    import mlflow

    run_id, model_uri = _logged_run(store, fitted)
    register = mlflow.register_model

    def register_then_fail(*args, **kwargs):
        register(*args, **kwargs)
        raise TimeoutError("registry stopped answering")

    monkeypatch.setattr(mlflow, "register_model", register_then_fail)
    with (
        pytest.raises(TimeoutError),
        store.provisional_version(model_uri, MODEL, run_id),
    ):
        pass
    assert _versions_of(store, run_id) == []


def test_a_successful_registration_keeps_the_version_with_its_tags(store, fitted):
    run_id, model_uri = _logged_run(store, fitted)
    with store.provisional_version(model_uri, MODEL, run_id, {"twelve.x": "1"}) as version:
        pass
    (kept,) = _versions_of(store, run_id)
    assert kept.version == version.version
    assert kept.tags["twelve.x"] == "1"
    assert store.client().get_run(run_id).info.status == "FINISHED"


def test_aliases_are_read_and_set_and_absent_ones_are_none(store, fitted):
    assert store.version_by_alias("no_such_model", "champion") is None
    assert store.aliases_of("no_such_model") == {}
    run_id, model_uri = _logged_run(store, fitted)
    with store.provisional_version(model_uri, MODEL, run_id) as version:
        pass
    assert store.version_by_alias(MODEL, "nobody_has_this") is None
    store.set_alias(MODEL, "champion", version.version)
    assert str(store.version_by_alias(MODEL, "champion").version) == str(version.version)
    assert store.aliases_of(MODEL)["champion"] == str(version.version)


def test_run_links_point_at_the_server_or_explain_the_local_ui(store):
    assert "make mlflow-ui" in store.run_link("1", "abc")
    server = MlflowResource(tracking_uri="http://mlflow.internal:5000")
    assert server.run_link("1", "abc") == "http://mlflow.internal:5000/#/experiments/1/runs/abc"
