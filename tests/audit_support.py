"""Evidence of a healthy champion, for the audit's tests: each test breaks one fact of it."""

from __future__ import annotations

from twelve.core.config import config_hash
from twelve.proof.evidence import (
    Arrival,
    BentoFacts,
    DataVersion,
    DriftCheck,
    Evidence,
    Reproduction,
    ServedProfile,
)
from twelve.proof.testing_evidence import ParityCheck, RecordedTests

COMMIT = "c" * 40
TRAINING, HOLDOUT = "t" * 32, "h" * 32
RAW = {"flights/2013-01.parquet": "a" * 32, "flights/2013-02.parquet": "b" * 32}
CONFIG = {
    "first_month": "2013-01",
    "last_month": "2013-01",
    "estimator": "logistic_regression",
    "params": {},
    "seed": 0,
    "threshold": 0.5,
    "registered_model": "demo",
    "feature_service": "demo_v1",
    "importance_sample_rows": 2000,
    "threads": 0,
}
COLUMNS = [("origin", "string"), ("distance", "double")]
BENTO_TAG, MODEL_TAG = "demo:v1-run1-abcd1234", "demo:v1-run1"


def good_evidence() -> Evidence:
    """A champion whose every factor holds."""
    manifest = {
        "git_commit": COMMIT,
        "git_dirty": False,
        "training_set_md5": TRAINING,
        "holdout_md5": HOLDOUT,
        "feature_service": "demo_v1",
        "feature_service_version": "1",
        "config": dict(CONFIG),
        "config_hash": config_hash(CONFIG),
        "uv_lock_sha256": "u" * 64,
        "raw_inputs": dict(RAW),
    }
    versions = [DataVersion(f"raw {name}", md5, True, True) for name, md5 in RAW.items()]
    versions += [
        DataVersion("training set", TRAINING, True, True),
        DataVersion("holdout", HOLDOUT, True, True),
    ]
    record = RecordedTests(
        project="demo",
        commit=COMMIT,
        dirty=False,
        outcomes={"projects/demo/tests/test_serving.py::test_parity": "passed"},
        parity=[
            ParityCheck("demo", "projects/demo/tests/test_serving.py::test_parity", 50, 1e-12, 1e-9)
        ],
    )
    return Evidence(
        project="demo",
        registered_model="demo",
        feature_service="demo_v1",
        champion_version="1",
        run_id="run1",
        params={"estimator": "logistic_regression"},
        metrics={"roc_auc": 0.7},
        tags={"twelve.holdout_md5": HOLDOUT},
        artifacts=["manifest.json", "plots", "model"],
        manifest=manifest,
        trained_columns=list(COLUMNS),
        holdouts_by_pipeline={"first": HOLDOUT, "second": HOLDOUT},
        reproductions=[Reproduction("rep1", "match")],
        commit_exists=True,
        config_error="",
        data_versions=versions,
        registry_services=["demo_v1"],
        bento=BentoFacts(BENTO_TAG, MODEL_TAG, True, list(COLUMNS), "m" * 32, "m" * 32),
        newest_arrival=Arrival("raw_flights", "2013-02-01", "b" * 32, 100.0),
        drift_checks=[DriftCheck("2013-02-01", "drift", 200.0)],
        sensor_ticks={"SUCCESS": 1, "SKIPPED": 3},
        sensor_runs=1,
        tests=record,
        training_set_profiled=True,
        training_set_report=True,
        served_profiles=[ServedProfile("p1.bin", 120, BENTO_TAG, TRAINING, ("origin",))],
        serving_skew_profiles=1,
    )
