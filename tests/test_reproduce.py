"""`twelve reproduce`: a run made in the test is reproduced exactly; tampered data is named.

The code is a snapshot of this checkout committed to a throw-away git repository, so the run's
manifest names a real commit and the reproduction checks that commit out. The original training
runs through the same subprocess driver as the reproduction (the code of the snapshot, the data
and stores of a throw-away twelve environment), on a small contract-valid training set.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from twelve.cli.commands import reproduce as reproduce_command
from twelve.core import paths as twelve_paths
from twelve.proof import reproduce

pytestmark = pytest.mark.slow

PROJECT_TESTS = twelve_paths.REPO_ROOT / "projects" / "flight_delays" / "tests"
CONFIG = {
    "first_month": "2013-01",
    "last_month": "2013-03",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 40, "max_leaf_nodes": 15, "early_stopping": False},
    "seed": 7,
    "importance_sample_rows": 300,
}


def _snapshot(destination: Path) -> str:
    """Commit the code a training needs (platform, project, lock file) to a fresh repository."""
    root = twelve_paths.REPO_ROOT
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(root / "platform" / "src", destination / "platform" / "src", ignore=ignore)
    project = root / "projects" / "flight_delays"
    for part in ("src", "conf"):
        shutil.copytree(
            project / part, destination / "projects" / "flight_delays" / part, ignore=ignore
        )
    # What the project's [tool.twelve] names (its folders must exist, as in any checkout).
    for folder in ("feature_repo", "bentos/flight_delay"):
        shutil.copytree(root / folder, destination / folder, ignore=ignore)
    for name in ("uv.lock", ".gitignore", "projects/flight_delays/pyproject.toml"):
        shutil.copyfile(root / name, destination / name)
    git = ["git", "-C", str(destination), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(destination)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _content_paths(env, md5: str) -> list[Path]:
    relative = Path("files") / "md5" / md5[:2] / md5[2:]
    candidates = [env.repo / ".dvc" / "cache" / relative, env.home / "dvc-remote" / relative]
    return [path for path in candidates if path.exists()]


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    from twelve import testing

    sys.path.insert(0, str(PROJECT_TESTS))
    from synthetic_training_set import build_training_set

    root = tmp_path_factory.mktemp("reproduce")
    env = testing.make_twelve_env(root, mp)
    shutil.copyfile(twelve_paths.REPO_ROOT / ".gitignore", env.repo / ".gitignore")
    commit = _snapshot(root / "code")
    frame = build_training_set(months=[1, 2, 3, 5], rows_per_month=800)
    (env.data_dir / "training").mkdir(parents=True)
    frame.to_parquet(env.data_dir / "training" / "training_set.parquet", index=False)
    from twelve.data.versioning import DvcResource

    dvc = DvcResource()
    for relative in ("flights/2013-01.parquet", "weather.parquet"):
        path = env.data_dir / "raw" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"stand_in": [relative]}).to_parquet(path)
        dvc.track(path)

    made = reproduce.run_training(
        reproduce.IsolatedEnv(code_dir=root / "code", data_repo=env.repo, home=env.home),
        "flight_delays",
        ["holdout_set", "trained_model"],
        {"holdout_set": {"config": {"month": "2013-05"}}, "trained_model": {"config": CONFIG}},
        log_file=root / "original.log",
    )
    assert made["success"], made["errors"]
    yield env, root, commit, made
    mp.undo()
    sys.path.remove(str(PROJECT_TESTS))


def _steps(lines: list[str]) -> list[str]:
    """Progress lines without their ``[  1.2 s] `` elapsed-time prefix: what each step says."""
    import re

    return [re.sub(r"^\[\s*[\d.]+ s\] ", "", line) for line in lines]


def _reproduce(env, root, run_id, name):
    from twelve.data.versioning import DvcResource
    from twelve.training.tracking import MlflowResource

    lines: list[str] = []
    outcome = reproduce.reproduce(
        run_id,
        mlflow_resource=MlflowResource(),
        dvc=DvcResource(),
        repo=root / "code",
        workdir=root / name,
        progress=lines.append,
    )
    return outcome, lines


def test_a_run_is_reproduced_exactly_and_logged_apart(original):
    env, root, commit, made = original
    run_id = made["metadata"]["trained_model"]["mlflow_run_id"]
    status_before = subprocess.run(
        ["git", "-C", str(root / "code"), "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    from twelve.training.tracking import MlflowResource

    mlflow = MlflowResource()
    aliases_before = mlflow.aliases_of("flight_delays")
    versions_before = len(mlflow.client().search_model_versions("name='flight_delays'"))

    outcome, lines = _reproduce(env, root, run_id, "match")

    assert outcome.matched, reproduce.format_report(outcome)
    (commit_row,) = [row for row in outcome.rows if row.name == "git_commit"]
    assert commit_row.recorded == commit_row.reproduced == commit[:16] + "..."
    names = {row.name for row in outcome.rows}
    assert {"training_set_md5", "holdout_md5", "raw_inputs", "config_hash", "roc_auc"} <= names
    (predictions,) = [row for row in outcome.rows if row.name == "holdout predictions"]
    assert predictions.note == "bit-identical"
    steps = _steps(lines)
    assert any(step.startswith("restoring") for step in steps)
    assert any(step.startswith("training trained_model at commit") for step in steps)
    report = reproduce.format_report(outcome)
    assert report.splitlines()[-1].startswith("MATCH")
    # Nothing of the real stores or the checkout changed; the reproduction is its own run.
    assert mlflow.aliases_of("flight_delays") == aliases_before
    assert len(mlflow.client().search_model_versions("name='flight_delays'")) == versions_before
    status_after = subprocess.run(
        ["git", "-C", str(root / "code"), "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    assert status_after == status_before
    logged = mlflow.client().get_run(outcome.logged_run_id)
    assert logged.data.tags[reproduce.REPRODUCES_TAG] == run_id
    assert logged.data.tags[reproduce.VERDICT_TAG] == "match"
    assert mlflow.client().get_experiment(logged.info.experiment_id).name == (
        "flight_delays_reproductions"
    )
    assert not (root / "match").exists()  # the temporary checkout is removed


def test_a_tampered_data_version_is_a_named_mismatch_with_exit_code_1(original, capsys):
    env, root, _, made = original
    meta = made["metadata"]["trained_model"]
    md5 = meta["training_set_md5"]
    # Flip labels in the stored copy of the training set's version (cache and remote).
    stored = _content_paths(env, md5)
    assert stored
    frame = pd.read_parquet(stored[0])
    frame["is_late"] = 1 - frame["is_late"]
    tampered = root / "tampered.parquet"
    frame.to_parquet(tampered, index=False)
    for path in stored:
        path.chmod(0o644)
        shutil.copyfile(tampered, path)

    parser = argparse.ArgumentParser()
    reproduce_command.register(parser.add_subparsers())
    args = parser.parse_args(["reproduce", meta["mlflow_run_id"], "--workdir", str(root / "bad")])
    # The command reproduces from this checkout's repository: point it at the snapshot's.
    code = _run_with_repo(args, root / "code")
    out = capsys.readouterr().out

    assert code == 1
    assert "MISMATCH" in out
    assert f"altered data version: training/training_set.parquet md5 {md5}" in out
    actual = hashlib.md5(tampered.read_bytes()).hexdigest()
    assert actual in out  # the reproduced training-set md5 is shown against the recorded one
    assert "roc_auc" in out.split("MISMATCH")[1]


def _run_with_repo(args, repo: Path) -> int:
    real = reproduce.reproduce

    def with_repo(run_id, **kwargs):
        return real(run_id, repo=repo, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(reproduce, "reproduce", with_repo)
    try:
        return args.func(args)
    finally:
        mp.undo()


def test_a_data_version_missing_from_the_remote_is_named_before_any_training(original):
    env, root, _, made = original
    meta = made["metadata"]["trained_model"]
    for path in _content_paths(env, meta["holdout_md5"]):
        path.chmod(0o644)
        path.unlink()

    outcome, lines = _reproduce(env, root, meta["mlflow_run_id"], "missing")

    assert not outcome.matched
    assert any(
        problem.startswith(
            f"missing data version: training/holdout.parquet md5 {meta['holdout_md5']}"
        )
        for problem in outcome.problems
    )
    steps = _steps(lines)
    assert any(step.startswith("restoring") for step in steps)  # the progress was captured
    assert not any(step.startswith("training") for step in steps)


def test_the_comparison_names_a_changed_lock_file_and_metric_drift():
    problems = reproduce.check_environment({"uv_lock_sha256": "old"}, "new")
    assert "changed lock file" in problems[0] and "old" in problems[0] and "new" in problems[0]
    rows = reproduce.compare_metrics({"roc_auc": 0.7, "brier": 0.2}, {"roc_auc": 0.7 + 1e-9})
    assert [(row.name, row.matches) for row in rows] == [("roc_auc", True), ("brier", False)]
    drifted = reproduce.compare_metrics({"roc_auc": 0.7}, {"roc_auc": 0.71})
    assert not drifted[0].matches and "tolerance" in drifted[0].note
    close = reproduce.compare_predictions([0.1, 0.2], [0.1, 0.2 + 1e-9])
    assert close.matches and close.note.startswith("max |delta p|")
    assert not reproduce.compare_predictions([0.1, 0.2], [0.1, 0.3]).matches
    raw = reproduce.compare_manifests(
        {"raw_inputs": {"a": "1", "b": "2"}}, {"raw_inputs": {"a": "1", "b": "3"}}
    )
    (raw_row,) = [row for row in raw if row.name == "raw_inputs"]
    assert not raw_row.matches and raw_row.note == "differing: b"
