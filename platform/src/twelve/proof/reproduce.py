"""Reproduce a past training run from its manifest, and prove it (factor 4).

``reproduce(run_id)``:

1. reads the run's manifest from MLflow (git commit, DVC md5 of every raw input, training-set and
   holdout md5, config, ``uv.lock`` hash) and checks what can be checked before any work: the lock
   file of the environment we run in, the commit being in the repository;
2. checks that commit out into a temporary clone (``git clone --shared``: the repository's refs,
   index and work tree are never touched);
3. restores every recorded data version from the DVC cache or remote by its md5 into an isolated
   data folder, verifying each restored file hashes to its md5;
4. re-runs the training through the same Dagster asset of that commit (its ``defs()``), with the
   recorded config, in a subprocess whose ``TWELVE_HOME``, ``TWELVE_DATA_DIR`` and ``DAGSTER_HOME``
   are isolated (the real registry, aliases and runs are untouched);
5. compares recorded and reproduced side by side: each metric, the training-set and holdout md5,
   the raw inputs, the config hash, and the predictions of both models on the holdout;
6. logs the reproduction as its own MLflow run in ``<experiment>_reproductions``, tagged with the
   original run id.

Tolerance (documented, asserted in the tests): data hashes and the config hash must be equal;
metrics may differ by at most ``METRIC_TOLERANCE`` (absolute); predictions by at most
``PREDICTION_TOLERANCE`` per row (the fingerprint, a SHA-256 of the float64 bytes, says whether
they are bit-identical, which they are on the same machine and lock file).

The comparison and the report are pure functions; the steps above are thin I/O around them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twelve.core import paths
from twelve.core.environment import OFFLINE_ENV

log = logging.getLogger(__name__)

METRIC_TOLERANCE = 1e-6
PREDICTION_TOLERANCE = 1e-6
COMPARED_METRICS = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "accuracy",
    "precision",
    "recall",
    "baseline_roc_auc",
    "train_label_mean",
    "train_late_rate",  # its name in runs made before the training block was a library block
)
# Manifest entries that must be equal (the reproduced run's own ids, time stamps differ).
COMPARED_MANIFEST_KEYS = (
    "git_commit",
    "training_set_md5",
    "holdout_md5",
    "raw_inputs",
    "feature_service",
    "config_hash",
    "uv_lock_sha256",
)
TRAINING_SET_FILE = "training/training_set.parquet"
HOLDOUT_FILE = "training/holdout.parquet"
REPRODUCES_TAG = "twelve.reproduces"
VERDICT_TAG = "twelve.reproduction_verdict"


class ReproductionError(RuntimeError):
    """The run cannot be reproduced at all (no such run, no manifest): a usage problem."""


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side comparison."""

    name: str
    recorded: str
    reproduced: str
    matches: bool
    note: str = ""


@dataclass
class Outcome:
    """Everything a reproduction found: input problems, the comparison, the timings."""

    run_id: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    reproduced_run_id: str = ""
    logged_run_id: str = ""

    @property
    def matched(self) -> bool:
        """True only when nothing differs: no input problem and every row matches."""
        return not self.problems and bool(self.rows) and all(row.matches for row in self.rows)

    def differing(self) -> list[str]:
        """What differs, one clear sentence each (input problems first)."""
        return [*self.problems] + [
            f"{row.name}: recorded {row.recorded}, reproduced {row.reproduced}"
            + (f" ({row.note})" if row.note else "")
            for row in self.rows
            if not row.matches
        ]


# -------------------------------------------------------------------------------- pure checks
def check_environment(recorded: Mapping[str, Any], current_lock_sha256: str) -> list[str]:
    """Problems with the environment we would reproduce in (pure).

    Args:
        recorded: the run's manifest.
        current_lock_sha256: SHA-256 of the ``uv.lock`` the running environment was synced from.

    Returns:
        Sentences naming each difference (empty when none).
    """
    problems = []
    recorded_lock = recorded.get("uv_lock_sha256")
    if recorded_lock != current_lock_sha256:
        problems.append(
            f"changed lock file: the run was trained with uv.lock sha256 {recorded_lock}, this "
            f"environment was synced from {current_lock_sha256}; sync a venv from the recorded "
            "commit's uv.lock (`git show COMMIT:uv.lock`) and reproduce from there"
        )
    return problems


def check_manifest(recorded: Mapping[str, Any]) -> list[str]:
    """Manifest entries missing for a reproduction (pure): each is named."""
    needed = ("git_commit", "training_set_md5", "holdout_md5", "raw_inputs", "config")
    return [f"the run manifest has no '{key}'" for key in needed if not recorded.get(key)]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, dict):
        return f"{len(value)} file(s)"
    text = str(value)
    # Hashes longer than an md5 (commit, lock file) are shown by their first 16 characters.
    return text[:16] + "..." if len(text) > 32 else text


def compare_manifests(recorded: Mapping[str, Any], reproduced: Mapping[str, Any]) -> list[Row]:
    """One row per compared manifest entry; raw inputs differing are named file by file (pure)."""
    rows = []
    for key in COMPARED_MANIFEST_KEYS:
        before, after = recorded.get(key), reproduced.get(key)
        note = ""
        if key == "raw_inputs" and before != after:
            before, after = before or {}, after or {}
            names = sorted(
                name for name in set(before) | set(after) if before.get(name) != after.get(name)
            )
            note = "differing: " + ", ".join(names)
        rows.append(Row(key, _fmt(before), _fmt(after), before == after, note))
    return rows


def compare_metrics(
    recorded: Mapping[str, float],
    reproduced: Mapping[str, float],
    names: Sequence[str] = COMPARED_METRICS,
    tolerance: float = METRIC_TOLERANCE,
) -> list[Row]:
    """One row per metric the original run recorded: equal within ``tolerance`` (pure)."""
    rows = []
    for name in names:
        if name not in recorded:
            continue
        before = float(recorded[name])
        if name not in reproduced:
            rows.append(Row(name, _fmt(before), "missing", False, "not logged by the reproduction"))
            continue
        after = float(reproduced[name])
        delta = abs(after - before)
        rows.append(
            Row(
                name,
                _fmt(before),
                _fmt(after),
                bool(delta <= tolerance),
                "" if delta == 0 else f"|delta| {delta:.2e}, tolerance {tolerance:.0e}",
            )
        )
    return rows


def fingerprint(proba) -> str:
    """SHA-256 of predicted probabilities as little-endian float64 (bit-identical or not)."""
    values = np.ascontiguousarray(np.asarray(proba, dtype="<f8"))
    return hashlib.sha256(values.tobytes()).hexdigest()


def compare_predictions(recorded, reproduced, tolerance: float = PREDICTION_TOLERANCE) -> Row:
    """The two models' holdout predictions: fingerprints, and the largest difference (pure)."""
    before, after = np.asarray(recorded, dtype="float64"), np.asarray(reproduced, dtype="float64")
    if before.shape != after.shape:
        return Row(
            "holdout predictions",
            f"{before.shape[0]} rows",
            f"{after.shape[0]} rows",
            False,
            "not the same number of holdout rows",
        )
    worst = float(np.max(np.abs(before - after))) if len(before) else 0.0
    same = fingerprint(before) == fingerprint(after)
    note = "bit-identical" if same else f"max |delta p| {worst:.2e}, tolerance {tolerance:.0e}"
    return Row(
        "holdout predictions",
        fingerprint(before)[:16],
        fingerprint(after)[:16],
        same or worst <= tolerance,
        note,
    )


def format_report(outcome: Outcome) -> str:
    """The side-by-side report a user reads (pure)."""
    lines = [f"reproduction of run {outcome.run_id}"]
    if outcome.rows:
        width = max(len(row.name) for row in outcome.rows)
        cell = max(12, *(len(row.recorded) for row in outcome.rows))
        lines.append(f"  {'':{width}}  {'recorded':{cell}}  reproduced")
        for row in outcome.rows:
            mark = "ok  " if row.matches else "DIFF"
            note = f"  ({row.note})" if row.note else ""
            lines.append(
                f"  {row.name:{width}}  {row.recorded:{cell}}  {row.reproduced}  {mark}{note}"
            )
    for warning in outcome.warnings:
        lines.append(f"  warning: {warning}")
    if outcome.seconds:
        lines.append(
            "  time: "
            + ", ".join(f"{name} {value:.1f} s" for name, value in outcome.seconds.items())
        )
    if outcome.matched:
        lines.append(
            f"MATCH: metrics within {METRIC_TOLERANCE:.0e}, predictions within "
            f"{PREDICTION_TOLERANCE:.0e}, every data version and the config identical"
        )
    else:
        lines.append("MISMATCH:")
        lines += [f"  - {sentence}" for sentence in outcome.differing()]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ I/O
@dataclass
class Recorded:
    """The original run as read from MLflow."""

    run_id: str
    experiment: str
    manifest: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]
    asset: str
    artifact_uri: str
    tracking_uri: str


def read_run(mlflow_resource, run_id: str) -> Recorded:
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
    experiment = client.get_experiment(run.info.experiment_id).name
    return Recorded(
        run_id=run_id,
        experiment=experiment,
        manifest=manifest,
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        asset=run.data.tags.get("twelve.asset", "trained_model"),
        artifact_uri=run.info.artifact_uri,
        tracking_uri=mlflow_resource.resolved_tracking_uri(),
    )


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def check_out(repo: Path, commit: str, destination: Path) -> None:
    """Check ``commit`` out into ``destination``, a clone sharing ``repo``'s objects.

    ``git clone --shared`` writes nothing into ``repo`` (no worktree entry, no ref, no index
    change), so the user's checkout is untouched even if the process is killed.

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


def restore_data(
    dvc, recorded: Mapping[str, Any], data_dir: Path, progress: Callable[[str], None]
) -> tuple[list[str], dict[str, str]]:
    """Write every recorded data version under ``data_dir``, read from the DVC cache or remote.

    Args:
        dvc: the ``DvcResource`` of the original store.
        recorded: the manifest.
        data_dir: the isolated data folder (``raw/``, ``training/`` are written in it).
        progress: called with a line per step.

    Returns:
        (problems, restored): one sentence per version missing (fatal) or altered (its content
        hashes to something else), and file -> md5 of what was actually written.
    """
    from twelve.data.versioning import DataVersionNotFound

    wanted = {f"raw/{name}": md5 for name, md5 in recorded["raw_inputs"].items()}
    wanted[TRAINING_SET_FILE] = recorded["training_set_md5"]
    wanted[HOLDOUT_FILE] = recorded["holdout_md5"]
    problems, restored = [], {}
    progress(f"restoring {len(wanted)} data version(s) from DVC")
    for relative, md5 in wanted.items():
        try:
            content = dvc.read_version(md5)
        except DataVersionNotFound as error:
            problems.append(f"missing data version: {relative} md5 {md5}: {error}")
            continue
        actual = hashlib.md5(content).hexdigest()
        if actual != md5:
            problems.append(
                f"altered data version: {relative} md5 {md5} in the DVC store now hashes to "
                f"{actual} (the stored copy was changed)"
            )
        target = data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        restored[relative] = actual
    return problems, restored


# The training, run by the code under reproduction: this script only uses Dagster's public API
# and the project's `<package>.definitions` (its `build_defs()`, else its `defs`), so it works
# for any commit of the project.
_DRIVER = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
import dagster as dg
from importlib import import_module
from pathlib import Path


def imported(name):
    module = import_module(name)
    if not module.__file__.startswith(spec["code_dir"]):
        raise SystemExit(f"{name} was imported from {module.__file__}, not the checkout")
    return module


def training_defs():
    # Only the training block and its stores when the commit configures the library's block: a
    # checkout has no prepared dbt manifest (git-ignored), and training needs no other block.
    root = Path(spec["code_dir"]) / "projects" / spec["project"]
    block = root / "src" / spec["project"] / "defs" / "training" / "defs.yaml"
    if not block.is_file():
        module = imported(spec["module"])
        return module.build_defs() if hasattr(module, "build_defs") else module.defs
    import yaml
    from twelve.core import resources
    from twelve.core.project import Project

    settings = yaml.safe_load(block.read_text())
    module_name, _, class_name = settings["type"].rpartition(".")
    component = getattr(imported(module_name), class_name)
    project = Project.load(root)
    stores = {"mlflow": resources.mlflow_for(project), "dvc": resources.dvc_for(project)}
    return dg.Definitions.merge(
        component.resolve_from_dict(settings.get("attributes") or {}).defs_for(project),
        dg.Definitions(resources=stores),
    )


defs = training_defs()
keys = {key.to_user_string() for assets in defs.assets for key in assets.keys}
missing = [key for key in spec["assets"] if key not in keys]
if missing:
    raise SystemExit(f"no asset {missing} in {spec['module']} at this commit "
                     f"(it has {sorted(keys)})")
started = time.perf_counter()
result = dg.materialize(
    list(defs.assets), selection=[dg.AssetKey(k) for k in spec["assets"]],
    resources=defs.resources, run_config={"ops": spec["ops"]},
    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
)
seconds = time.perf_counter() - started
metadata, errors = {}, []
for event in result.get_asset_materialization_events():
    values = {}
    for name, value in event.materialization.metadata.items():
        raw = value.value
        if isinstance(raw, (str, int, float, bool)) or raw is None:
            values[name] = raw
    metadata[event.asset_key.to_user_string()] = values
for event in result.all_events:
    if event.is_step_failure:
        data = event.step_failure_data
        errors.append(str(data.user_failure_data.description) if data.user_failure_data
                      else data.error.message)
json.dump({"success": result.success, "seconds": seconds, "metadata": metadata,
           "errors": errors}, open(spec["result"], "w"))
"""


@dataclass(frozen=True)
class IsolatedEnv:
    """Where a training runs apart from the real stores."""

    code_dir: Path
    data_repo: Path
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.data_repo / "data"

    def variables(self) -> dict[str, str]:
        """The environment of the training subprocess."""
        return {
            "TWELVE_HOME": str(self.home),
            "TWELVE_DATA_DIR": str(self.data_dir),
            "DAGSTER_HOME": str(self.home / "dagster_home"),
            "BENTOML_HOME": str(self.home / "bentoml"),
        }

    def dvc(self):
        """A DVC repository and remote of this environment only."""
        from twelve.data.versioning import DvcResource

        return DvcResource(repo_dir=str(self.data_repo), remote_url=str(self.home / "dvc-remote"))


def make_isolated_env(root: Path, code_dir: Path) -> IsolatedEnv:
    """A fresh git repository for the data (DVC needs one) and a home, under ``root``."""
    env = IsolatedEnv(code_dir=code_dir, data_repo=root / "data-repo", home=root / "home")
    env.data_dir.mkdir(parents=True)
    (env.home / "dagster_home").mkdir(parents=True)
    (env.home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    subprocess.run(["git", "init", "-q", str(env.data_repo)], check=True)
    return env


def run_training(
    env: IsolatedEnv,
    project: str,
    assets: Sequence[str],
    ops: Mapping[str, Any],
    *,
    log_file: Path,
) -> dict[str, Any]:
    """Materialize ``assets`` of ``<project>.definitions`` from ``env.code_dir``, isolated.

    The subprocess imports the project and the platform from the checkout (``PYTHONPATH``
    before the installed ones), with the isolated roots in its environment.

    Returns:
        ``success``, ``seconds``, ``metadata`` (asset -> scalar metadata), ``errors``.

    Raises:
        RuntimeError: the subprocess crashed (the tail of its log is in the message).
    """
    result_path = log_file.with_suffix(".json")
    spec = {
        "project": project,
        "module": f"{project}.definitions",
        "code_dir": str(env.code_dir),
        "assets": list(assets),
        "ops": dict(ops),
        "result": str(result_path),
    }
    source_dirs = [env.code_dir / "platform" / "src", env.code_dir / "projects" / project / "src"]
    variables = {
        **os.environ,
        **OFFLINE_ENV,
        **env.variables(),
        "PYTHONPATH": os.pathsep.join(str(d) for d in source_dirs),
    }
    with log_file.open("w") as output:
        done = subprocess.run(
            [sys.executable, "-c", _DRIVER, json.dumps(spec)],
            cwd=env.code_dir,
            env=variables,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0 or not result_path.is_file():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"the training subprocess failed (exit {done.returncode}):\n{tail}")
    return json.loads(result_path.read_text())


def model_input_from_signature(frame: pd.DataFrame, signature) -> pd.DataFrame:
    """The model's input columns of ``frame``, typed as the logged signature says.

    The same conversion as training (``twelve.training.modeling.model_input``): strings as objects
    with
    NaN for missing, numbers as float64; taken from the signature so that any past model version
    can be fed, whatever the current code's columns are.
    """
    out = pd.DataFrame(index=frame.index)
    for spec in signature.inputs.inputs:
        if spec.name not in frame.columns:
            raise KeyError(f"the holdout lacks the model input column '{spec.name}'")
        if str(spec.type).lower().endswith("string"):
            values = frame[spec.name].astype(object)
            out[spec.name] = values.where(values.notna(), np.nan)
        else:
            out[spec.name] = pd.to_numeric(frame[spec.name]).astype("float64")
    return out


def predict_holdout(tracking_uri: str, model_uri: str, holdout: pd.DataFrame) -> np.ndarray:
    """P(late) of a logged model on the holdout (loaded from the given store)."""
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    info = mlflow.models.get_model_info(model_uri)
    model = mlflow.sklearn.load_model(model_uri)
    return model.predict_proba(model_input_from_signature(holdout, info.signature))[:, 1]


def _read_manifest(tracking_uri: str, run_id: str) -> tuple[dict[str, Any], dict[str, float]]:
    from mlflow import MlflowClient
    from mlflow.artifacts import load_dict

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run = client.get_run(run_id)
    return load_dict(f"{run.info.artifact_uri}/manifest.json"), dict(run.data.metrics)


def reproduce(
    run_id: str,
    *,
    project: str = "flight_delays",
    mlflow_resource=None,
    dvc=None,
    repo: Path | None = None,
    workdir: Path | None = None,
    keep: bool = False,
    log_run: bool = True,
    progress: Callable[[str], None] = log.info,
) -> Outcome:
    """Reproduce a training run and compare it with the record (see the module docstring).

    Args:
        run_id: the MLflow run to reproduce.
        project: the project package (its training block's ``trained_model`` is run).
        mlflow_resource: the store holding the run (default: the embedded one).
        dvc: the DVC repository and remote holding its data (default: the project's).
        repo: the git repository holding its commit (default: this checkout).
        workdir: where the temporary checkout and stores go (default: a new temp folder).
        keep: keep the temporary folder (its path is logged).
        log_run: log the reproduction as a run of ``<experiment>_reproductions``.
        progress: called with a line per step.

    Returns:
        The outcome (``matched`` says whether everything matched).

    Raises:
        ReproductionError: no such run, or no manifest.
    """
    from twelve.core.files import file_sha256
    from twelve.data.versioning import DvcResource
    from twelve.training.tracking import MlflowResource

    started = time.perf_counter()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    report_progress = progress

    def progress(line: str) -> None:
        report_progress(f"[{time.perf_counter() - started:5.1f} s] {line}")

    mlflow_resource = mlflow_resource or MlflowResource()
    dvc = dvc or DvcResource()
    repo = Path(repo or paths.REPO_ROOT)
    progress(f"reading run {run_id} and its manifest")
    recorded = read_run(mlflow_resource, run_id)
    manifest = recorded.manifest
    outcome = Outcome(run_id=run_id)
    outcome.problems += check_manifest(manifest)
    if outcome.problems:
        return outcome
    outcome.problems += check_environment(manifest, file_sha256(paths.REPO_ROOT / "uv.lock"))
    if manifest.get("git_dirty"):
        outcome.warnings.append(
            "the run was trained from uncommitted changes (git_dirty): commit "
            f"{manifest['git_commit'][:12]} may not be exactly the code that ran"
        )
    root = Path(workdir or tempfile.mkdtemp(prefix="twelve-reproduce-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        progress(f"checking out commit {manifest['git_commit'][:12]} into {root / 'code'}")
        try:
            check_out(repo, manifest["git_commit"], root / "code")
        except RuntimeError as error:
            outcome.problems.append(str(error))
            return _finish(outcome, recorded, mlflow_resource, log_run, started, progress)
        env = make_isolated_env(root, root / "code")
        problems, _restored = restore_data(dvc, manifest, env.data_dir, progress)
        outcome.problems += problems
        if any(problem.startswith("missing") for problem in problems):
            return _finish(outcome, recorded, mlflow_resource, log_run, started, progress)
        progress("versioning the restored files in an isolated DVC repository")
        isolated_dvc = env.dvc()
        for pointer_target in sorted(env.data_dir.rglob("*.parquet")):
            isolated_dvc.track(pointer_target)
        outcome.seconds["checkout_and_restore"] = time.perf_counter() - started
        asset = recorded.asset
        training_started = time.perf_counter()
        progress(
            f"training {asset} at commit {manifest['git_commit'][:12]} with the recorded config "
            f"(the original fit took {recorded.metrics.get('fit_seconds', float('nan')):.1f} s)"
        )
        try:
            result = run_training(
                env,
                project,
                [asset],
                {asset: {"config": manifest["config"]}},
                log_file=root / "training.log",
            )
        except RuntimeError as error:
            outcome.problems.append(
                f"the training asset {asset} could not run at commit "
                f"{manifest['git_commit'][:12]}: {error}"
            )
            return _finish(outcome, recorded, mlflow_resource, log_run, started, progress)
        # The subprocess (imports included) and, inside it, the Dagster materialization alone.
        outcome.seconds["training_subprocess"] = time.perf_counter() - training_started
        outcome.seconds["training_step"] = float(result["seconds"])
        if not result["success"] or asset not in result["metadata"]:
            outcome.problems.append(
                f"the reproduced training of {asset} failed: {'; '.join(result['errors'])}"
            )
            return _finish(outcome, recorded, mlflow_resource, log_run, started, progress)
        metadata = result["metadata"][asset]
        isolated_uri = f"sqlite:///{env.home / 'mlflow' / 'mlflow.db'}"
        outcome.reproduced_run_id = str(metadata["mlflow_run_id"])
        reproduced_manifest, reproduced_metrics = _read_manifest(
            isolated_uri, outcome.reproduced_run_id
        )
        if "fit_seconds" in reproduced_metrics:
            outcome.seconds["reproduced_fit"] = reproduced_metrics["fit_seconds"]
        if "fit_seconds" in recorded.metrics:
            outcome.seconds["original_fit"] = recorded.metrics["fit_seconds"]
        outcome.rows += compare_manifests(manifest, reproduced_manifest)
        outcome.rows += compare_metrics(recorded.metrics, reproduced_metrics)
        progress("predicting the holdout with the original and the reproduced model")
        holdout = pd.read_parquet(io.BytesIO((env.data_dir / HOLDOUT_FILE).read_bytes()))
        original = predict_holdout(recorded.tracking_uri, f"runs:/{run_id}/model", holdout)
        again = predict_holdout(isolated_uri, str(metadata["model_uri"]), holdout)
        outcome.rows.append(compare_predictions(original, again))
        return _finish(outcome, recorded, mlflow_resource, log_run, started, progress)
    finally:
        if keep:
            progress(f"kept the reproduction's checkout and stores in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _finish(outcome, recorded, mlflow_resource, log_run, started, progress) -> Outcome:
    outcome.seconds["total"] = time.perf_counter() - started
    if log_run:
        outcome.logged_run_id = log_reproduction(mlflow_resource, recorded, outcome)
        progress(
            f"logged as run {outcome.logged_run_id} in experiment "
            f"{recorded.experiment}_reproductions"
        )
    return outcome


def log_reproduction(mlflow_resource, recorded: Recorded, outcome: Outcome) -> str:
    """Log the reproduction as its own run, linked to the original by the tag ``twelve.reproduces``.

    The real store's registry and aliases are not touched: no model is logged or registered.
    """
    client = mlflow_resource.client()
    name = f"{recorded.experiment}_reproductions"
    found = client.get_experiment_by_name(name)
    experiment_id = (
        found.experiment_id
        if found is not None
        else client.create_experiment(
            name, artifact_location=mlflow_resource.resolved_artifact_location()
        )
    )
    run = client.create_run(
        experiment_id,
        run_name=f"reproduce-{recorded.run_id[:8]}",
        tags={
            REPRODUCES_TAG: recorded.run_id,
            VERDICT_TAG: "match" if outcome.matched else "mismatch",
            "twelve.reproduced_run_id": outcome.reproduced_run_id,
            "twelve.git_commit": str(recorded.manifest.get("git_commit", "")),
        },
    )
    run_id = run.info.run_id
    for name_, seconds in outcome.seconds.items():
        client.log_metric(run_id, f"seconds_{name_}", seconds)
    for row in outcome.rows:
        client.log_metric(run_id, f"matches_{row.name.replace(' ', '_')}", float(row.matches))
    with tempfile.TemporaryDirectory() as folder:
        report = {
            "matched": outcome.matched,
            "differing": outcome.differing(),
            "warnings": outcome.warnings,
            "rows": [asdict(row) for row in outcome.rows],
            "seconds": outcome.seconds,
            "tolerance": {"metrics": METRIC_TOLERANCE, "predictions": PREDICTION_TOLERANCE},
        }
        (Path(folder) / "reproduction.json").write_text(json.dumps(report, indent=2))
        (Path(folder) / "reproduction.txt").write_text(format_report(outcome))
        client.log_artifacts(run_id, folder)
    client.set_terminated(run_id, status="FINISHED")
    return run_id
