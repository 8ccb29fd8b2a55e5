"""`twelve audit` judges evidence: a fake project that names every right thing but does nothing
fails every factor it fakes, one test per factor.

The fake (``tests/fixtures/audit/fake``) has a contract file, a sensor that always skips, a parity
test ``assert [0.1] == [0.1]``, a service that profiles nothing. Where it can act, it is made to:
its parity test runs under the test-record plugin, its sensor is evaluated by Dagster, its service
is called; what they leave in real (throw-away) stores becomes the evidence the rules judge.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.audit_support import COLUMNS, MODEL_TAG, good_evidence
from twelve.proof import rules
from twelve.proof.evidence import DriftCheck, Reproduction, ServedProfile
from twelve.proof.gather import served_profiles
from twelve.proof.scorecard import FAIL, PASS, WARN
from twelve.proof.testing_evidence import git_state, read_record, record_path

FAKE = Path(__file__).parent / "fixtures" / "audit" / "fake"


def statuses(evidence) -> dict[str, str]:
    return {row.key: row.status for row in rules.score(evidence).rows}


def row(evidence, key: str):
    (found,) = [r for r in rules.score(evidence).rows if r.key == key]
    return found


@pytest.fixture
def fake_repo(tmp_path) -> Path:
    """A copy of the fake monorepo, committed in its own git repository."""
    repo = tmp_path / "fake"
    shutil.copytree(FAKE, repo)
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fake"],
    ):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    return repo


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_healthy_champion_passes_every_factor():
    card = rules.score(good_evidence())
    assert [r.number for r in card.rows] == list(range(1, 13))
    assert set(statuses(good_evidence()).values()) == {PASS}, card.text()
    assert all(r.evidence for r in card.rows)


# ------------------------------------------------------------- the fake fails what it fakes
def test_versioning_fails_naming_a_raw_month_the_remote_lost():
    evidence = good_evidence()
    evidence.data_versions[1] = replace(evidence.data_versions[1], in_cache=False, in_remote=False)
    verdict = row(evidence, "versioning")
    assert verdict.status == FAIL
    assert any("MISSING raw flights/2013-02.parquet" in line for line in verdict.evidence)
    # the same data version is what makes the champion unreproducible
    assert row(evidence, "reproducibility").status == FAIL


def test_versioning_fails_when_the_champions_commit_is_not_in_git():
    verdict = row(replace(good_evidence(), commit_exists=False), "versioning")
    assert verdict.status == FAIL
    assert "is not in git" in " ".join(verdict.evidence)


def test_features_fails_when_the_served_contract_is_not_the_trained_one():
    evidence = good_evidence()
    # The fake's contract file says distance is text; the model was trained on numbers.
    evidence.bento.contract_columns = [("origin", "string"), ("distance", "string")]
    verdict = row(evidence, "features")
    assert verdict.status == FAIL
    assert "distance: trained double, served string" in verdict.evidence


def test_features_fails_when_the_feature_service_is_not_registered():
    verdict = row(replace(good_evidence(), registry_services=["other_v2"]), "features")
    assert verdict.status == FAIL
    assert "demo_v1" in verdict.evidence[0]


def test_config_fails_when_the_recorded_config_does_not_reload():
    from twelve.core.config import config_hash
    from twelve.proof.gather import config_error

    evidence = good_evidence()
    broken = {**evidence.manifest["config"], "first_month": "2013-13", "extra_knob": 1}
    evidence.manifest.update(config=broken, config_hash=config_hash(broken))
    evidence.config_error = config_error(broken)
    verdict = row(evidence, "config")
    assert verdict.status == FAIL
    assert "does not reload" in verdict.evidence[-1]
    assert "first_month" in verdict.evidence[-1]


def test_config_fails_when_the_recorded_config_was_altered():
    evidence = good_evidence()
    evidence.manifest["config"] = {**evidence.manifest["config"], "seed": 7}
    assert row(evidence, "config").status == FAIL


def test_reproducibility_warns_until_reproduced_and_fails_on_a_mismatch():
    assert row(replace(good_evidence(), reproductions=[]), "reproducibility").status == WARN
    mismatch = [Reproduction("rep2", "mismatch", "metric roc_auc: 0.70 vs 0.69")]
    verdict = row(replace(good_evidence(), reproductions=mismatch), "reproducibility")
    assert verdict.status == FAIL
    assert "roc_auc" in verdict.evidence[-1]


def test_testing_fails_a_parity_test_that_compares_constants(fake_repo, tmp_path):
    """The fake's `assert [0.1] == [0.1]` passes, and records no served-vs-offline check."""
    home = tmp_path / "home"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "twelve.testing",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(fake_repo),
            str(fake_repo / "projects/demo/tests/test_serving.py"),
        ],
        env={**__import__("os").environ, "TWELVE_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    commit, _ = git_state(fake_repo / "projects" / "demo")
    record = read_record(record_path(home, "demo", commit))
    assert record is not None
    assert record.passed == 1
    assert not record.parity
    evidence = good_evidence()
    evidence.manifest["git_commit"] = commit
    verdict = row(replace(evidence, tests=record), "testing")
    assert verdict.status == FAIL
    assert "no passing test compared served and offline predictions" in " ".join(verdict.evidence)


def test_testing_warns_when_the_champions_commit_has_no_record():
    verdict = row(replace(good_evidence(), tests=None), "testing")
    assert verdict.status == WARN
    assert "never recorded" in verdict.evidence[0]


def test_drift_fails_when_the_sensor_skips_a_drift(fake_repo):
    """The fake's sensor is evaluated by Dagster: it skips, whatever the drift check found."""
    import dagster as dg

    sensors = _load(fake_repo / "projects/demo/src/demo/defs/sensors.py")
    results = [sensors.drift_sensor.evaluate_tick(dg.build_sensor_context()) for _ in range(3)]
    ticks = {"SKIPPED": sum(bool(r.skip_message) and not r.run_requests for r in results)}
    assert ticks == {"SKIPPED": 3}
    evidence = replace(good_evidence(), sensor_ticks=ticks, sensor_runs=0)
    verdict = row(evidence, "drift")
    assert verdict.status == FAIL
    assert "never requested a run" in verdict.evidence[-1]


def test_drift_warns_when_the_newest_month_was_never_checked():
    checks = [DriftCheck("2013-01-01", "no drift", 50.0)]
    verdict = row(replace(good_evidence(), drift_checks=checks), "drift")
    assert verdict.status == WARN
    assert "2013-02-01" in verdict.evidence[0]


def test_tracking_fails_a_run_without_its_manifest_artifact():
    verdict = row(replace(good_evidence(), artifacts=["model"]), "tracking")
    assert verdict.status == FAIL
    assert "manifest.json artifact: MISSING" in verdict.evidence


def test_reports_fails_a_training_set_without_a_report():
    assert row(replace(good_evidence(), training_set_report=False), "reports").status == FAIL


def test_skew_and_monitoring_fail_a_service_that_profiles_nothing(fake_repo, tmp_path):
    """The fake service answers, profiles nothing; the serving window then finds no profile."""
    service = _load(fake_repo / "bentos/demo/service.py")
    assert service.profile_rows([{"x": 1}, {"x": 2}]) == 2
    served = served_profiles(MODEL_TAG, root=tmp_path / "serving_profiles")
    assert served == []
    evidence = replace(good_evidence(), served_profiles=served, serving_skew_profiles=0)
    for factor in ("skew", "monitoring"):
        verdict = row(evidence, factor)
        assert verdict.status == FAIL
        assert "without profiling" in verdict.evidence[0]


def test_skew_and_monitoring_warn_when_never_served():
    evidence = replace(good_evidence(), served_profiles=[], serving_skew_profiles=None)
    assert row(evidence, "skew").status == row(evidence, "monitoring").status == WARN


def test_monitoring_fails_profiles_of_zero_rows():
    empty = [ServedProfile("p.bin", 0, "demo:x", "t" * 32)]
    assert row(replace(good_evidence(), served_profiles=empty), "monitoring").status == FAIL


def test_skew_fails_when_served_profiles_reference_another_training_set():
    other = [ServedProfile("p.bin", 10, "demo:x", "o" * 32)]
    assert row(replace(good_evidence(), served_profiles=other), "skew").status == FAIL


def test_comparability_fails_when_a_pipeline_was_scored_on_another_holdout():
    evidence = replace(good_evidence(), holdouts_by_pipeline={"first": "h" * 32, "b": "o" * 32})
    assert row(evidence, "comparability").status == FAIL


def test_deployability_fails_when_the_bento_model_is_not_the_registered_one():
    evidence = good_evidence()
    evidence.bento.model_hash = "x" * 32
    verdict = row(evidence, "deployability")
    assert verdict.status == FAIL
    assert "hashes to xxxxxxxxxxxx" in verdict.evidence[-1]


def test_deployability_fails_without_a_bento_or_its_dockerfile():
    assert row(replace(good_evidence(), bento=None), "deployability").status == FAIL
    evidence = good_evidence()
    evidence.bento.dockerfile = False
    assert row(evidence, "deployability").status == FAIL


def test_deployability_names_the_image_built_from_the_bento_or_how_to_build_it():
    evidence = good_evidence()
    verdict = row(evidence, "deployability")
    assert "no image built from it yet (`make image`)" in verdict.evidence
    evidence.bento.image, evidence.bento.image_id = "localhost/svc:v1", "a" * 64
    verdict = row(evidence, "deployability")
    assert verdict.status == PASS
    assert "built into the image localhost/svc:v1 (id aaaaaaaaaaaa)" in verdict.evidence


def test_a_project_without_a_champion_fails_what_needs_one_and_says_why():
    from twelve.proof.evidence import Evidence

    evidence = Evidence(project="demo", registered_model="demo", drift_checks=[], sensor_ticks={})
    card = rules.score(evidence)
    assert {r.key for r in card.failed} == set(rules.RULES) - {"drift"}
    assert "holds the champion alias" in card.rows[0].evidence[0]


def test_the_fake_fixture_has_what_it_fakes():
    """The fake names every right thing: if one goes missing, the tests above prove less."""
    assert (FAKE / "projects/demo/src/demo/contract.py").is_file()
    assert "SkipReason" in (FAKE / "projects/demo/src/demo/defs/sensors.py").read_text()
    assert "[0.1] == [0.1]" in (FAKE / "projects/demo/tests/test_serving.py").read_text()
    assert "whylogs" in (FAKE / "bentos/demo/service.py").read_text()
    assert COLUMNS  # the trained columns the fake contract is compared with
