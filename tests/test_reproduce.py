"""`twelve reproduce`: a run is rebuilt from raw data and reproduced exactly; what differs is named.

The code is a snapshot of this checkout committed to a throw-away git repository, so the run's
manifest names a real commit and the reproduction checks that commit out. The original run is
made from real raw months (January and February 2013) through the snapshot's own pipeline (dbt
-> Feast -> training set -> holdout -> training) by the same driver the reproduction uses, with
its data versioned in the snapshot's DVC repository and a throw-away remote.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from twelve.cli.commands import reproduce as reproduce_command
from twelve.core import paths as twelve_paths
from twelve.proof import compare, rebuild, reproduce

pytestmark = pytest.mark.slow

CONFIG_OPS = {
    "first_month": "2013-01",
    "last_month": "2013-01",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 40, "max_leaf_nodes": 15, "early_stopping": False},
    "seed": 7,
    "importance_sample_rows": 300,
}


def _snapshot(destination: Path) -> str:
    """Commit what the project's pipeline needs (platform, project, Feast repo, bento folder)."""
    root = twelve_paths.REPO_ROOT
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "target", "logs")
    shutil.copytree(root / "platform" / "src", destination / "platform" / "src", ignore=ignore)
    folders = ("projects/flight_delays/src", "projects/flight_delays/dbt",
               "projects/flight_delays/conf", "feature_repo", "bentos/flight_delay")  # fmt: skip
    for folder in folders:
        if (root / folder).is_dir():
            shutil.copytree(root / folder, destination / folder, ignore=ignore)
    for name in ("uv.lock", ".gitignore", ".dvcignore", "projects/flight_delays/pyproject.toml"):
        shutil.copyfile(root / name, destination / name)
    git = ["git", "-C", str(destination), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(destination)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _write_raw(code: Path, dvc) -> dict[str, Path]:
    """January and February's flights, the weather and the planes: raw files, DVC-versioned."""
    from flight_delays import ingest
    from twelve.core.files import write_parquet

    raw = code / "data" / "raw"
    files = {
        "flights/2013-01.parquet": ingest.read_flights("2013-01"),
        "flights/2013-02.parquet": ingest.read_flights("2013-02"),
        "weather.parquet": ingest.read_weather(),
        "planes.parquet": ingest.read_planes(),
    }
    written = {}
    for relative, frame in files.items():
        written[relative] = write_parquet(frame, raw / relative)
        dvc.track(written[relative])
    return written


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """The original run: the snapshot's pipeline from raw, its data in the snapshot's DVC."""
    from twelve import testing
    from twelve.data.versioning import DvcResource

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("reproduce")
    env = testing.make_twelve_env(root, mp)
    code = root / "code"
    commit = _snapshot(code)
    mp.setenv("TWELVE_DATA_DIR", str(code / "data"))
    dvc = DvcResource(repo_dir=str(code), remote_url=str(env.home / "dvc-remote"))
    raw = _write_raw(code, dvc)
    isolated = rebuild.IsolatedEnv(code_dir=code, home=env.home, python=Path(sys.executable))
    steps = [
        {"name": "training set", "upstream_of": "training_set"},
        {"name": "holdout", "assets": ["holdout_set"],
         "ops": {"holdout_set": {"config": {"month": "2013-02"}}}},
        {"name": "training", "assets": ["trained_model"],
         "ops": {"trained_model": {"config": CONFIG_OPS}}},
    ]  # fmt: skip
    results = rebuild.run_steps(
        isolated,
        code / "projects" / "flight_delays",
        steps,
        log_file=root / "original.log",
        on_step=lambda _: None,
        source_dirs=[code / "platform" / "src", code / "projects" / "flight_delays" / "src"],
    )
    assert [r["success"] for r in results] == [True] * 4, results[-1]["errors"]
    run_id = results[-1]["metadata"]["trained_model"]["mlflow_run_id"]
    yield env, root, commit, run_id, dvc, raw
    mp.undo()


def _mlflow(env):
    from twelve.training.tracking import MlflowResource

    return MlflowResource(
        experiment="flight_delays",
        tracking_uri=f"sqlite:///{env.home / 'mlflow' / 'mlflow.db'}",
    )


def _reproduce(original, run_id: str, name: str, lines: list[str] | None = None):
    env, root, _, _, dvc, _ = original
    return reproduce.reproduce(
        run_id,
        mlflow_resource=_mlflow(env),
        dvc=dvc,
        repo=root / "code",
        workdir=root / name,
        progress=(lines.append if lines is not None else lambda _: None),
    )


def _steps(lines: list[str]) -> list[str]:
    """Progress lines without their ``[  1.2 s] `` elapsed-time prefix: what each step says."""
    return [re.sub(r"^\[\s*[\d.]+ s\] ", "", line) for line in lines]


def test_a_run_is_rebuilt_from_raw_and_reproduced_exactly(original):
    env, root, commit, run_id, _, _ = original
    mlflow = _mlflow(env)
    aliases_before = mlflow.aliases_of("flight_delays")
    lines: list[str] = []

    outcome = _reproduce(original, run_id, "match", lines)

    assert outcome.matched, compare.format_report(outcome)
    steps = {step.name: step for step in outcome.steps}
    assert list(steps) == ["restore raw data", "dbt parse", "training set", "holdout", "training"]
    assert all(step.verdict == "ok" for step in outcome.steps)
    recorded = mlflow.client().get_run(run_id).data.tags["twelve.training_set_md5"]
    assert steps["training set"].detail == f"md5 {recorded}, as recorded"
    assert any(line.startswith("training set: ok in ") for line in _steps(lines))
    rows = {row.name: row for row in outcome.rows}
    assert rows["git_commit"].recorded == rows["git_commit"].reproduced == commit[:16] + "..."
    assert rows["training_set_md5"].matches
    assert rows["holdout_md5"].matches
    assert rows["roc_auc"].matches
    assert rows["holdout predictions"].note == "bit-identical"
    assert compare.format_report(outcome).splitlines()[-1].startswith("MATCH: rebuilt from raw")
    # Recorded where users look, and nothing of the real stores or the checkout changed.
    logged = mlflow.client().get_run(outcome.logged_run_id)
    assert logged.data.tags[compare.REPRODUCES_TAG] == run_id
    assert logged.data.tags[compare.VERDICT_TAG] == "match"
    assert mlflow.aliases_of("flight_delays") == aliases_before
    assert not (root / "match").exists()  # the temporary checkout is removed


def test_the_verdict_is_metadata_on_the_model_in_the_dagster_ui(original):
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_observations(dg.AssetKey("trained_model"), limit=1).records
    assert records, "no observation of trained_model"
    metadata = records[0].asset_observation.metadata
    assert metadata["reproduction"].value == "match"
    assert metadata["reproduced_mlflow_run"].value == original[3]


def _run_command(original, run_id: str, name: str, capsys) -> tuple[int, str]:
    env, root, _, _, dvc, _ = original
    parser = argparse.ArgumentParser()
    reproduce_command.register(parser.add_subparsers())
    args = parser.parse_args(["reproduce", run_id, "--workdir", str(root / name), "--json"])
    real = reproduce.reproduce

    def against_the_snapshot(run_id_, **kwargs):
        kwargs.update(mlflow_resource=_mlflow(env), dvc=dvc, repo=root / "code")
        return real(run_id_, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reproduce, "reproduce", against_the_snapshot)
        mp.setattr("twelve.training.tracking.MlflowResource.for_profile", lambda _: _mlflow(env))
        code = args.func(args)
    return code, capsys.readouterr().out


def _stored_copies(env, dvc, md5: str) -> list[Path]:
    relative = Path("files") / "md5" / md5[:2] / md5[2:]
    candidates = [
        Path(dvc.repo_dir) / ".dvc" / "cache" / relative,
        env.home / "dvc-remote" / relative,
    ]
    return [path for path in candidates if path.exists()]


def test_a_rebuilt_md5_other_than_the_recorded_one_is_the_first_difference():
    """The rebuilt training set's md5 is checked against the manifest's, and named when not."""
    from twelve.core.project import Project

    recorded = reproduce.Recorded(
        run_id="r", experiment="flight_delays", manifest={"training_set_md5": "a" * 32,
        "holdout_md5": "b" * 32}, metrics={}, params={}, tags={}, asset="trained_model",
        tracking_uri="",
    )  # fmt: skip
    project = Project.of_package("flight_delays")
    outcome = compare.Outcome(run_id="r")
    same = {"step": "training set", "success": True, "seconds": 1.0,
            "metadata": {"training_set": {"md5": "a" * 32}}, "errors": []}  # fmt: skip
    assert reproduce._check_step(same, outcome, recorded, project).verdict == "ok"
    assert not outcome.problems
    other = {**same, "metadata": {"training_set": {"md5": "c" * 32}}}
    step = reproduce._check_step(other, outcome, recorded, project)
    assert (step.verdict, step.detail) == ("DIFF", f"md5 {'c' * 32}, recorded {'a' * 32}")
    assert outcome.differing()[0] == (
        f"the rebuilt training set differs: md5 {'c' * 32}, recorded {'a' * 32} "
        "(training_set from the raw versions of the manifest)"
    )
    failed = {**same, "success": False, "errors": ["dbt failed on stg_weather"]}
    assert reproduce._check_step(failed, outcome, recorded, project).verdict == "FAILED"


def test_a_tampered_raw_version_is_named_with_exit_code_1(original, capsys):
    env, _, _, run_id, dvc, raw = original
    md5 = dvc.version_of(raw["weather.parquet"])
    stored = _stored_copies(env, dvc, md5)
    saved = {path: path.read_bytes() for path in stored}
    try:
        for path in stored:
            path.chmod(0o644)
            frame = pd.read_parquet(path)
            frame["temp"] = frame["temp"] + 10
            frame.to_parquet(path, index=False)
        code, out = _run_command(original, run_id, "tampered", capsys)
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
    answer = json.loads(out)
    assert code == 1
    assert answer["differing"][0].startswith(f"altered data version: raw/weather.parquet md5 {md5}")
    assert [step["name"] for step in answer["steps"]] == ["restore raw data"]  # nothing rebuilt


def test_a_raw_month_stored_nowhere_stops_the_reproduction_with_exit_code_2(original, capsys):
    env, _, _, run_id, dvc, raw = original
    md5 = dvc.version_of(raw["flights/2013-01.parquet"])
    stored = _stored_copies(env, dvc, md5)
    assert len(stored) == 2  # the cache and the remote
    saved = {path: path.read_bytes() for path in stored}
    try:
        for path in stored:
            path.chmod(0o644)
            path.unlink()
        code, out = _run_command(original, run_id, "missing", capsys)
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
    answer = json.loads(out)
    assert code == 2
    assert answer["verdict"] == "cannot run"
    assert answer["differing"] == [
        f"missing data version: raw/flights/2013-01.parquet md5 {md5} is in neither the DVC "
        "cache nor the remote"
    ]
    assert [step["name"] for step in answer["steps"]] == ["restore raw data"]  # no rebuild


def test_an_unknown_run_cannot_be_reproduced(original):
    with pytest.raises(compare.ReproductionError, match="is not in the tracking store"):
        _reproduce(original, "0123456789abcdef0123456789abcdef", "unknown")


def test_the_comparison_names_a_changed_lock_file_and_metric_drift():
    note = compare.environment_note({"uv_lock_sha256": "old", "git_commit": "c" * 40}, "new")
    assert "old recorded, new installed" in note
    assert "uv sync --locked" in note
    assert "--isolated-env" in note
    assert compare.environment_note({"uv_lock_sha256": "same"}, "same") is None
    rows = compare.compare_metrics(
        {"roc_auc": 0.7, "brier": 0.2, "fit_seconds": 3.0}, {"roc_auc": 0.7 + 1e-9}
    )
    assert [(row.name, row.matches) for row in rows] == [("brier", False), ("roc_auc", True)]
    drifted = compare.compare_metrics({"roc_auc": 0.7}, {"roc_auc": 0.71})
    assert not drifted[0].matches
    assert "tolerance" in drifted[0].note
    close = compare.compare_predictions([0.1, 0.2], [0.1, 0.2 + 1e-9])
    assert close.matches
    assert close.note.startswith("max |delta p|")
    assert not compare.compare_predictions([0.1, 0.2], [0.1, 0.3]).matches
    raw = compare.compare_manifests(
        {"raw_inputs": {"a": "1", "b": "2"}}, {"raw_inputs": {"a": "1", "b": "3"}}
    )
    (raw_row,) = [row for row in raw if row.name == "raw_inputs"]
    assert not raw_row.matches
    assert raw_row.note == "differing: b"


def test_the_evaluation_steps_metrics_on_the_training_run_are_not_compared():
    """`eval_*` are logged later by the evaluation step, which a reproduction does not re-run."""
    from twelve.proof.compare import compare_metrics

    rows = compare_metrics({"roc_auc": 0.7, "eval_baseline_roc_auc": 0.53}, {"roc_auc": 0.7})
    assert [(row.name, row.matches) for row in rows] == [("roc_auc", True)]
