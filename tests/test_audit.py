"""`twelve audit`: a row per factor; a fixture breaking one factor fails exactly that row."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from twelve.cli.commands import audit as audit_command
from twelve.core import paths as twelve_paths
from twelve.proof import audit
from twelve.proof.audit import FAIL, PASS, WARN, RunState

GOOD = Path(__file__).parent / "fixtures" / "audit" / "good"
HOLDOUT = "h" * 32


def good_state() -> RunState:
    """A run state where every factor that depends on the stores holds."""
    manifest = {
        "git_commit": "c" * 40,
        "git_dirty": False,
        "training_set_md5": "t" * 32,
        "holdout_md5": HOLDOUT,
        "config_hash": "f" * 16,
        "uv_lock_sha256": "u" * 64,
        "raw_inputs": {"flights/2013-01.parquet": "r" * 32},
    }
    return RunState(
        run_id="run1",
        tags={"twelve.holdout_md5": HOLDOUT, "twelve.pipeline": "first"},
        params={"estimator": "hist_gradient_boosting"},
        metrics={"roc_auc": 0.7},
        artifacts=["manifest.json", "plots", "model"],
        manifest=manifest,
        raw_inputs_in_dvc={"flights/2013-01.parquet": True},
        training_set_profiled=True,
        training_set_report=True,
        holdouts_by_pipeline={"first": HOLDOUT, "second": HOLDOUT},
        reproduction_verdict="match",
        bento_tag="demo:abc",
        bento_dockerfile=True,
        bento_model_tag="demo:v1-run1",
    )


@pytest.fixture
def fixture_repo(tmp_path) -> Path:
    """A copy of the good fixture monorepo, in its own git repository."""
    repo = tmp_path / "fixture"
    shutil.copytree(GOOD, repo)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def _card(repo: Path, state: RunState | None = None):
    return audit.audit(repo / "projects" / "demo", state=state or good_state())


def _statuses(card) -> dict[str, str]:
    return {row.key: row.status for row in card.rows}


def test_the_good_fixture_passes_every_factor(fixture_repo):
    card = _card(fixture_repo)
    assert [row.number for row in card.rows] == list(range(1, 13))
    assert set(_statuses(card).values()) == {PASS}, card.text()
    assert all(row.evidence for row in card.rows)


def _edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        path = repo / relative
        text = path.read_text()
        assert old in text, f"fixture {relative} lacks {old!r}"
        path.write_text(text.replace(old, new))

    return apply


def _write(relative: str, content: str) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        (repo / relative).write_text(content)

    return apply


def _remove(relative: str) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        (repo / relative).unlink()

    return apply


DEFS = "projects/demo/src/demo/defs"
FILE_BREAKS = {
    "versioning": _write(
        f"{DEFS}/raw.py",
        '"""Raw data, written in place."""\n\n\ndef raw_file(path):\n    return path\n',
    ),
    "features": _remove("projects/demo/src/demo/contract.py"),
    "config": _edit(f"{DEFS}/training.py", "config.seed)", "config.seed)\n\n\nSPLIT = '2013-11'"),
    "reproducibility": _remove("uv.lock"),
    "testing": _remove("projects/demo/tests/test_serving.py"),
    "drift": _remove(f"{DEFS}/sensors.py"),
    "skew": _edit(
        f"{DEFS}/training.py",
        'modeling.build_pipeline(["x"], [], "logistic_regression", {}, config.seed)',
        "object()",
    ),
    "monitoring": _edit(
        "bentos/demo/service.py",
        'profiles them with whylogs and\nexposes request counts on /metrics."""',
        'and answers."""',
    ),
}
STATE_BREAKS = {
    "tracking": {"artifacts": ["plots", "model"]},  # no manifest.json logged
    "reports": {"training_set_report": False},
    "comparability": {"holdouts_by_pipeline": {"first": HOLDOUT, "second": "o" * 32}},
    "deployability": {"bento_tag": None},
}


def _only_failure(card, factor: str) -> None:
    statuses = _statuses(card)
    failing = sorted(key for key, status in statuses.items() if status == FAIL)
    assert failing == [factor], card.text()
    assert not [key for key, status in statuses.items() if status == WARN], card.text()


@pytest.mark.parametrize("factor", sorted(FILE_BREAKS))
def test_a_fixture_breaking_one_factor_in_its_files_fails_exactly_that_row(fixture_repo, factor):
    if factor == "monitoring":
        # Remove the profiling stand-in too, so the service really profiles nothing.
        _edit("bentos/demo/service.py", "def profile_rows(rows):", "def rows_of(rows):")(
            fixture_repo
        )
        _edit("bentos/demo/service.py", "whylogs rolling profile of", "list of")(fixture_repo)
    FILE_BREAKS[factor](fixture_repo)
    _only_failure(_card(fixture_repo), factor)


@pytest.mark.parametrize("factor", sorted(STATE_BREAKS))
def test_a_run_state_breaking_one_factor_fails_exactly_that_row(fixture_repo, factor):
    _only_failure(_card(fixture_repo, replace(good_state(), **STATE_BREAKS[factor])), factor)


def test_a_literal_date_is_reported_with_file_and_line(fixture_repo):
    FILE_BREAKS["config"](fixture_repo)
    (row,) = [row for row in _card(fixture_repo).rows if row.key == "config"]
    assert any(item.startswith(f"{DEFS}/training.py:11:") for item in row.evidence), row.evidence


def test_a_project_never_trained_fails_the_factors_that_need_a_run(fixture_repo):
    statuses = _statuses(_card(fixture_repo, RunState()))
    assert statuses["tracking"] == statuses["deployability"] == FAIL
    assert statuses["reproducibility"] == FAIL  # nothing to reproduce from
    assert statuses["versioning"] == statuses["reports"] == WARN


def test_a_failed_reproduction_fails_factor_4(fixture_repo):
    card = _card(fixture_repo, replace(good_state(), reproduction_verdict="mismatch"))
    _only_failure(card, "reproducibility")


def test_the_flight_delay_project_passes_what_is_built_and_names_what_is_not():
    project = twelve_paths.REPO_ROOT / "projects" / "flight_delays"
    state = replace(
        good_state(),
        tags={"twelve.holdout_md5": HOLDOUT, "twelve.pipeline": "hist_gradient_boosting"},
        holdouts_by_pipeline={"hist_gradient_boosting": HOLDOUT, "logistic_regression": HOLDOUT},
    )
    card = audit.audit(project, state=state)
    statuses = _statuses(card)
    # Built and shipped: these rest on the files of this checkout and must hold.
    for factor in ("versioning", "features", "config", "reproducibility", "tracking", "reports"):
        assert statuses[factor] == PASS, card.text()
    for factor in ("skew", "comparability", "deployability"):
        assert statuses[factor] == PASS, card.text()
    (features,) = [row for row in card.rows if row.key == "features"]
    assert any("flight_delay_v1" in item for item in features.evidence)
    (comparability,) = [row for row in card.rows if row.key == "comparability"]
    assert "logistic_regression" in comparability.evidence[0]
    # Drift, monitoring and the parity test are scored from what exists: each names it.
    evidence = {row.key: " ".join(row.evidence) for row in card.rows}
    for factor in ("testing", "drift", "monitoring"):
        assert statuses[factor] == PASS, card.text()
    assert "drift sensor drift_retraining in projects/flight_delays" in evidence["drift"]
    assert "tests/test_serving_bento.py" in evidence["testing"]
    assert (
        "profiled: " in evidence["monitoring"]
        and "bentos/flight_delay/service.py" in (evidence["monitoring"])
    )


def test_the_command_prints_json_and_exits_1_on_a_failing_factor(fixture_repo, twelve_env, capsys):
    _remove(f"{DEFS}/sensors.py")(fixture_repo)
    parser = argparse.ArgumentParser()
    audit_command.register(parser.add_subparsers())
    args = parser.parse_args(["audit", str(fixture_repo / "projects" / "demo"), "--json"])

    code = args.func(args)

    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["project"] == "demo" and len(data["rows"]) == 12
    by_key = {row["key"]: row for row in data["rows"]}
    assert by_key["drift"]["status"] == FAIL
    # The throw-away stores hold no run: the factors that need one fail and say so.
    assert by_key["tracking"]["status"] == FAIL
    assert any("experiment demo does not exist" in item for item in by_key["tracking"]["evidence"])


# ------------------------------------------------------- evidence belongs to the audited project
def test_another_projects_bento_is_no_evidence_for_this_one(fixture_repo):
    (fixture_repo / "bentos" / "demo").rename(fixture_repo / "bentos" / "other")
    statuses = _statuses(_card(fixture_repo))
    assert statuses["skew"] == statuses["monitoring"] == FAIL
    # A bento folder of another name is the project's when its bentofile says so.
    bentofile = fixture_repo / "bentos" / "other" / "bentofile.yaml"
    bentofile.write_text(bentofile.read_text() + "labels:\n  project: demo\n")
    assert set(_statuses(_card(fixture_repo)).values()) == {PASS}


@pytest.mark.parametrize(("names_the_project", "expected"), [(False, FAIL), (True, PASS)])
def test_a_repository_parity_test_counts_only_when_it_names_the_project(
    fixture_repo, names_the_project, expected
):
    parity = fixture_repo / "projects/demo/tests/test_serving.py"
    text = parity.read_text()
    parity.unlink()
    if names_the_project:
        text = text.replace('"""The served model', '"""The demo bento: the served model')
    (fixture_repo / "tests").mkdir()
    (fixture_repo / "tests" / "test_parity.py").write_text(text)
    assert _statuses(_card(fixture_repo))["testing"] == expected


def test_the_pipeline_may_be_built_in_a_model_module_of_the_package(fixture_repo):
    training = fixture_repo / DEFS / "training.py"
    call = 'modeling.build_pipeline(["x"], [], "logistic_regression", {}, config.seed)'
    training.write_text(training.read_text().replace(call, "transforms.model(config)"))
    assert _statuses(_card(fixture_repo))["skew"] == FAIL
    transforms = fixture_repo / "projects/demo/src/demo/transforms.py"
    transforms.write_text(transforms.read_text() + f"\n\ndef model(config):\n    return {call}\n")
    assert _statuses(_card(fixture_repo))["skew"] == PASS


def test_a_data_version_is_documented_under_any_data_set_name(tmp_path):
    import pandas as pd

    from twelve.monitoring import reports
    from twelve.monitoring.profiling import ProfileStore, profile_frame

    store = ProfileStore(tmp_path / "profiles")
    view = profile_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    store.write("churn_training_set", "a" * 32, view)
    store.write("training_set", "b" * 32, view)
    reports.write_report(
        "<html></html>", reports.report_path("churn_training_set", "a" * 32, tmp_path)
    )
    assert audit.documented("a" * 32, store, tmp_path) == (True, True)
    assert audit.documented("b" * 32, store, tmp_path) == (True, False)  # no report
    assert audit.documented("c" * 32, store, tmp_path) == (False, False)


def test_a_project_configuring_the_monitoring_blocks_passes_drift_and_reports(fixture_repo):
    # The blocks of the library, configured in YAML, instead of the project's own modules.
    _remove(f"{DEFS}/sensors.py")(fixture_repo)
    _remove(f"{DEFS}/profiles.py")(fixture_repo)
    for folder, kind in (("continuous_training", "ContinuousTraining"),
                         ("data_reports", "DataReports")):  # fmt: skip
        block = fixture_repo / DEFS / folder / "defs.yaml"
        block.parent.mkdir()
        block.write_text(f"type: twelve.monitoring.component.{kind}\n")

    card = _card(fixture_repo)

    assert set(_statuses(card).values()) == {PASS}, card.text()
    evidence = {row.key: " ".join(row.evidence) for row in card.rows}
    assert (
        f"drift sensor drift_retraining in {DEFS}/continuous_training/defs.yaml"
        in (evidence["drift"])
    )
    assert f"{DEFS}/data_reports/defs.yaml" in evidence["reports"]
