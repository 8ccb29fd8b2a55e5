"""Reproduce a past training run from raw data, and prove it (factor 4).

``reproduce(run_id)``:

1. reads the run's manifest from MLflow (git commit, the DVC md5 of every raw input, training-set
   and holdout md5, config, ``uv.lock`` hash); an unknown run or one without a manifest cannot
   be reproduced (exit 2);
2. checks the environment: when the installed one was not synced from the run's ``uv.lock``,
   says so and how to get it; ``isolated_env`` builds it in a temporary venv from the run's lock;
3. checks the commit out into a temporary clone (``git clone --shared``: the repository's refs,
   index and work tree are never touched);
4. restores each raw data version by its md5 from the DVC cache or remote (a version stored
   nowhere stops the reproduction, naming it: exit 2), and versions them in the clone;
5. rebuilds, with the commit's code and the run's recorded config, in isolated stores
   (:mod:`twelve.proof.rebuild`): dbt -> Feast -> the point-in-time training set, then the
   holdout, then the training; each step prints its verdict and time, and the rebuilt training
   set and holdout must have the manifest's md5s (the first difference is named);
6. compares the reproduced run with the record (:mod:`twelve.proof.compare`): every metric, the
   manifest's data and config hashes, the predictions of both models on the holdout;
7. records the verdict where users look: an MLflow run in ``<experiment>_reproductions`` linked to
   the original, and an observation of the model's asset in the Dagster instance.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from twelve.core import paths
from twelve.proof import rebuild
from twelve.proof.compare import (
    Outcome,
    ReproductionError,
    Step,
    compare_manifests,
    compare_metrics,
    compare_predictions,
    environment_note,
)
from twelve.proof.records import log_reproduction, observe_reproduction

log = logging.getLogger(__name__)


@dataclass
class Recorded:
    """The original run as read from MLflow."""

    run_id: str
    experiment: str
    manifest: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    asset: str
    tracking_uri: str
    project: str = ""

    @property
    def holdout_month(self) -> str:
        """The month the run was scored on (its ``holdout_months`` param)."""
        return self.params.get("holdout_months", "").split(",")[-1]


def read_run(mlflow_resource, run_id: str, project: str = "") -> Recorded:
    """The run, its metrics and its manifest (``manifest.json``) from the tracking store.

    Raises:
        ReproductionError: no such run, or no manifest (the message says which).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow_resource.client()
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise ReproductionError(
            f"run {run_id} is not in the tracking store {mlflow_resource.resolved_tracking_uri()}"
        ) from error
    try:
        manifest = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/manifest.json")
    except Exception as error:
        raise ReproductionError(
            f"run {run_id} has no manifest.json artifact: it was not made by a twelve training "
            "asset, and cannot be reproduced"
        ) from error
    needed = ("git_commit", "training_set_md5", "holdout_md5", "raw_inputs", "config")
    missing = [key for key in needed if not manifest.get(key)]
    if missing:
        raise ReproductionError(f"the manifest of run {run_id} has no {missing}")
    return Recorded(
        run_id=run_id,
        experiment=client.get_experiment(run.info.experiment_id).name,
        manifest=manifest,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        tags=dict(run.data.tags),
        asset=run.data.tags.get("twelve.asset", "trained_model"),
        tracking_uri=mlflow_resource.resolved_tracking_uri(),
        project=project,
    )


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def check_out(repo: Path, commit: str, destination: Path) -> None:
    """Check ``commit`` out into ``destination``, a clone sharing ``repo``'s objects.

    Raises:
        RuntimeError: the commit is not in the repository (message says how to get it).
    """
    if _git("-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise RuntimeError(
            f"commit {commit} is not in the repository {repo}: fetch it (`git fetch --all`) "
            "or reproduce from a clone that has it"
        )
    done = _git("clone", "--quiet", "--shared", "--no-checkout", str(repo), str(destination))
    if done.returncode != 0:
        raise RuntimeError(f"git clone of {repo} failed: {done.stderr.strip()}")
    done = _git("-C", str(destination), "checkout", "--quiet", "--detach", commit)
    if done.returncode != 0:
        raise RuntimeError(f"git checkout of {commit} failed: {done.stderr.strip()}")


def restore_raw(dvc, raw_inputs: dict[str, str], raw_dir: Path) -> list[str]:
    """Write every recorded raw version into ``raw_dir`` (its other raw files removed).

    Returns:
        One sentence per version stored nowhere (the reproduction cannot run) or altered (its
        stored content hashes to something else).
    """
    from twelve.data.versioning import DataVersionNotFound

    shutil.rmtree(raw_dir, ignore_errors=True)  # the commit's pointers: not this run's inputs
    problems = []
    for relative, md5 in sorted(raw_inputs.items()):
        try:
            content = dvc.read_version(md5)
        except DataVersionNotFound:
            problems.append(
                f"missing data version: raw/{relative} md5 {md5} is in neither the DVC cache nor "
                "the remote"
            )
            continue
        actual = hashlib.md5(content, usedforsecurity=False).hexdigest()
        if actual != md5:
            problems.append(
                f"altered data version: raw/{relative} md5 {md5} now hashes to {actual}"
            )
        target = raw_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return problems


def isolated_python(code_dir: Path, venv: Path, progress: Callable[[str], None]) -> Path:
    """A venv synced from the checkout's ``uv.lock`` (``uv sync --locked``), its interpreter.

    Raises:
        RuntimeError: uv failed (its output is in the message).
    """
    uv = Path(sys.executable).parent / "uv"
    command = [str(uv) if uv.exists() else "uv", "sync", "--locked", "--all-packages", "--quiet"]
    progress(f"building the run's environment from its uv.lock in {venv}")
    done = subprocess.run(
        command,
        cwd=code_dir,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`uv sync --locked` of the run's lock failed:\n{done.stderr[-2000:]}")
    return venv / "bin" / "python"


def _steps(project, recorded: Recorded) -> list[dict[str, Any]]:
    asset = recorded.asset
    training_set = project.key("training_set").to_user_string()
    holdout = project.key("holdout_set").to_user_string()
    return [
        {"name": "training set", "upstream_of": training_set},
        {"name": "holdout", "assets": [holdout],
         "ops": {_op(holdout): {"config": {"month": recorded.holdout_month}}}},
        {"name": "training", "assets": [asset],
         "ops": {_op(asset): {"config": recorded.manifest["config"]}}},
    ]  # fmt: skip


def _op(user_string: str) -> str:
    return user_string.replace("/", "__")


def _check_step(result: dict[str, Any], outcome: Outcome, recorded: Recorded, project) -> Step:
    """The verdict of one rebuilt step, and the first difference when its data differ."""
    name, seconds = result["step"], result["seconds"]
    if not result["success"]:
        outcome.problems.append(f"the {name} step failed: {'; '.join(result['errors'])}")
        return Step(name, "FAILED", seconds, "; ".join(result["errors"])[:200])
    checks = {
        "training set": ("training_set", "md5", "training_set_md5"),
        "holdout": ("holdout_set", "dvc_md5", "holdout_md5"),
    }
    if name not in checks:
        return Step(name, "ok", seconds)
    asset, field, key = checks[name]
    rebuilt = result["metadata"].get(project.key(asset).to_user_string(), {}).get(field)
    expected = recorded.manifest[key]
    if rebuilt == expected:
        return Step(name, "ok", seconds, f"md5 {expected}, as recorded")
    outcome.problems.append(
        f"the rebuilt {name} differs: md5 {rebuilt}, recorded {expected} "
        f"({project.key(asset).to_user_string()} from the raw versions of the manifest)"
    )
    return Step(name, "DIFF", seconds, f"md5 {rebuilt}, recorded {expected}")


def reproduce(
    run_id: str,
    *,
    project: str = "flight_delays",
    mlflow_resource=None,
    dvc=None,
    repo: Path | None = None,
    workdir: Path | None = None,
    isolated_env: bool = False,
    keep: bool = False,
    log_run: bool = True,
    progress: Callable[[str], None] = log.info,
) -> Outcome:
    """Reproduce a training run from raw data and compare it with the record (module docstring).

    Raises:
        ReproductionError: no such run, or no manifest.
    """
    from twelve.core.project import Project
    from twelve.data.versioning import DvcResource
    from twelve.training.tracking import MlflowResource

    started = time.perf_counter()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow_resource = mlflow_resource or MlflowResource(experiment=project)
    dvc = dvc or DvcResource()
    repo = Path(repo or paths.REPO_ROOT)
    progress(f"reading run {run_id} and its manifest")
    recorded = read_run(mlflow_resource, run_id, project)
    outcome = Outcome(run_id=run_id)
    root = Path(workdir or tempfile.mkdtemp(prefix="twelve-reproduce-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        code = _checkout_and_restore(recorded, outcome, root, repo, dvc, progress)
        if code is not None:
            checkout = Project.load(code / "projects" / project)
            env, sources = _environment(recorded, outcome, root, checkout, isolated_env, progress)
            _rebuild(recorded, outcome, env, checkout, sources, root, progress)
    finally:
        outcome.seconds["total"] = time.perf_counter() - started
        if log_run:
            outcome.logged_run_id = log_reproduction(mlflow_resource, recorded, outcome)
            observe_reproduction(recorded, outcome)
            progress(
                f"recorded as run {outcome.logged_run_id} of {recorded.experiment}_reproductions"
            )
        if keep:
            progress(f"kept the reproduction's checkout and stores in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return outcome


def _checkout_and_restore(recorded, outcome, root, repo, dvc, progress) -> Path | None:
    """The clone with the run's raw versions in its data folder; None when it cannot run."""
    from twelve.core.project import Project

    manifest, started = recorded.manifest, time.perf_counter()
    commit = manifest["git_commit"]
    if manifest.get("git_dirty"):
        outcome.warnings.append(
            f"the run was trained from uncommitted changes (git_dirty): commit {commit[:12]} may "
            "not be exactly the code that ran"
        )
    progress(f"checking out commit {commit[:12]} into {root / 'code'}")
    try:
        check_out(repo, commit, root / "code")
    except RuntimeError as error:
        outcome.blockers.append(str(error))
        return None
    project = Project.load(root / "code" / "projects" / recorded.project)
    data = root / "code" / "data"
    raw_dir = (data / project.data_folder if project.data_folder else data) / "raw"
    problems = restore_raw(dvc, manifest["raw_inputs"], raw_dir)
    outcome.blockers += [p for p in problems if p.startswith("missing")]
    outcome.problems += [p for p in problems if not p.startswith("missing")]
    count = f"{len(manifest['raw_inputs'])} version(s) by md5"
    step = Step("restore raw data", "FAILED" if problems else "ok", time.perf_counter() - started,
                "; ".join(problems) or count)  # fmt: skip
    outcome.steps.append(step)
    progress(step.line())
    if problems:  # stored nowhere (cannot run) or altered (differs): nothing to rebuild from
        return None
    # The clone's DVC repository and an isolated remote: the rebuilt run records these versions.
    from twelve.data.versioning import DvcResource

    isolated = DvcResource(
        repo_dir=str(root / "code"), remote_url=str(root / "home" / "dvc-remote")
    )
    for path in sorted(raw_dir.rglob("*.parquet")):
        isolated.track(path)
    return root / "code"


def _environment(recorded, outcome, root, project, isolated_env, progress):
    """The isolated environment and the source folders its interpreter must import first."""
    from twelve.core.files import file_sha256

    python, sources = (
        Path(sys.executable),
        [root / "code" / "platform" / "src", project.root / "src"],
    )
    note = environment_note(recorded.manifest, file_sha256(paths.REPO_ROOT / "uv.lock"))
    if isolated_env:
        python, sources, note = isolated_python(root / "code", root / "venv", progress), [], None
    if note:
        outcome.warnings.append(note)
        progress(f"warning: {note}")
    return rebuild.make_isolated_env(root, root / "code", python), sources


def _rebuild(recorded, outcome, env, project, sources, root, progress) -> None:
    def on_step(result: dict[str, Any]) -> None:
        if result["step"] == "dbt parse":
            step = Step("dbt parse", "ok", result["seconds"])
        else:
            step = _check_step(result, outcome, recorded, project)
        outcome.steps.append(step)
        progress(step.line())

    progress(f"rebuilding from raw with the code of {recorded.manifest['git_commit'][:12]}")
    try:
        results = rebuild.run_steps(
            env, project.root, _steps(project, recorded),
            log_file=root / "rebuild.log", on_step=on_step, source_dirs=sources,
        )  # fmt: skip
    except RuntimeError as error:
        outcome.problems.append(str(error))
        return
    trained = next((r for r in results if r["step"] == "training" and r["success"]), None)
    if trained is None or outcome.problems:
        return
    metadata = trained["metadata"][recorded.asset]
    _compare_models(recorded, outcome, env, metadata, progress)


def _compare_models(recorded, outcome, env, metadata, progress) -> None:
    from mlflow import MlflowClient
    from mlflow.artifacts import load_dict

    uri = env.tracking_uri()
    outcome.reproduced_run_id = str(metadata["mlflow_run_id"])
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(outcome.reproduced_run_id)
    reproduced_manifest = load_dict(f"{run.info.artifact_uri}/manifest.json")
    outcome.rows += compare_manifests(recorded.manifest, reproduced_manifest)
    outcome.rows += compare_metrics(recorded.metrics, dict(run.data.metrics))
    progress("predicting the holdout with the original and the reproduced model")
    holdout = pd.read_parquet(io.BytesIO(_holdout_bytes(env, recorded.manifest["holdout_md5"])))
    original = _predict(recorded.tracking_uri, f"runs:/{recorded.run_id}/model", holdout)
    again = _predict(uri, str(metadata["model_uri"]), holdout)
    outcome.rows.append(compare_predictions(original, again))


def _holdout_bytes(env: rebuild.IsolatedEnv, md5: str) -> bytes:
    from twelve.data.versioning import DvcResource

    isolated = DvcResource(repo_dir=str(env.code_dir), remote_url=str(env.home / "dvc-remote"))
    return isolated.read_version(md5)


def _predict(tracking_uri: str, model_uri: str, holdout: pd.DataFrame):
    """The answers of a logged model on the holdout: P(class 1), or the predicted value.

    The input is typed from the model's logged signature (strings as objects with NaN for
    missing, numbers as float64, as training fed it), so any past version can be scored whatever
    the current code's columns are.
    """
    import mlflow
    import mlflow.sklearn
    import numpy as np

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    signature = mlflow.models.get_model_info(model_uri).signature
    frame = pd.DataFrame(index=holdout.index)
    for spec in signature.inputs.inputs:
        if spec.name not in holdout.columns:
            raise KeyError(f"the holdout lacks the model input column '{spec.name}'")
        values = holdout[spec.name]
        if str(spec.type).lower().endswith("string"):
            frame[spec.name] = values.astype(object).where(values.notna(), np.nan)
        else:
            frame[spec.name] = pd.to_numeric(values).astype("float64")
    model = mlflow.sklearn.load_model(model_uri)
    if hasattr(model, "predict_proba"):
        return model.predict_proba(frame)[:, list(model.classes_).index(1)]
    return np.asarray(model.predict(frame), dtype="float64")
