"""Rebuilding a run's data and model with the code of its commit, in isolated stores.

The work runs in a subprocess whose Python imports the checked-out commit's code (the platform
and the project, before anything installed), with ``TWELVE_HOME``, ``TWELVE_DATA_DIR`` and
``DAGSTER_HOME`` of its own: its own DuckDB warehouse, Feast registry and online store, MLflow
store, DVC cache and remote. The real stores, registry and aliases are never touched.

The subprocess (:data:`DRIVER`) uses only the project's own definitions and Dagster's public
API: it prepares the commit's dbt manifest, then materializes each requested step (a list of
assets, or everything upstream of one asset but the raw sources, which were restored by md5) and
reports each step as one JSON line on stdout, which :func:`run_steps` hands on as it arrives.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twelve.core.environment import OFFLINE_ENV

STEP_PREFIX = "TWELVE-STEP "

DRIVER = r"""
import importlib, json, sys, time
from pathlib import Path

spec = json.loads(sys.argv[1])


def emit(**record):
    print("TWELVE-STEP " + json.dumps(record, default=str), flush=True)


import twelve
if not twelve.__file__.startswith(spec["code_dir"]):
    raise SystemExit(f"twelve was imported from {twelve.__file__}, not the checkout")
import dagster as dg
from twelve.core.project import Project
from twelve.features import dbt

project = Project.load(spec["project_dir"])
started = time.perf_counter()
dbt.parse(project)  # a checkout has no dbt manifest: it is git-ignored
emit(step="dbt parse", success=True, seconds=time.perf_counter() - started, metadata={}, errors=[])
defs = importlib.import_module(f"{project.package}.definitions").build_defs()
graph = defs.resolve_asset_graph()
instance = dg.DagsterInstance.ephemeral()  # one instance: later steps read earlier ones
for step in spec["steps"]:
    if step.get("upstream_of"):
        target = dg.AssetSelection.keys(dg.AssetKey.from_user_string(step["upstream_of"]))
        upstream = target.upstream()
        keys = (upstream - upstream.roots()).resolve(graph)
    else:
        keys = {dg.AssetKey.from_user_string(key) for key in step["assets"]}
    started = time.perf_counter()
    result = dg.materialize(
        list(defs.assets), selection=sorted(keys), resources=defs.resources,
        run_config={"ops": step.get("ops", {})}, instance=instance, raise_on_error=False,
    )
    metadata, errors = {}, []
    for event in result.get_asset_materialization_events():
        values = {}
        for name, value in event.materialization.metadata.items():
            if isinstance(value.value, (str, int, float, bool)) or value.value is None:
                values[name] = value.value
        metadata[event.asset_key.to_user_string()] = values
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            errors.append(str(data.user_failure_data.description) if data.user_failure_data
                          else data.error.message)
    emit(step=step["name"], success=result.success, seconds=time.perf_counter() - started,
         metadata=metadata, errors=errors)
    if not result.success:
        break
"""


@dataclass(frozen=True)
class IsolatedEnv:
    """A checkout of the run's commit and stores of its own.

    Attributes:
        code_dir: the checkout (its ``data/`` is where raw versions are restored: DVC finds the
            checkout's ``.dvc`` and keeps its cache there).
        home: the isolated ``TWELVE_HOME``.
        python: the interpreter that runs the steps (this venv's, or one synced from the run's
            lock file).
    """

    code_dir: Path
    home: Path
    python: Path

    @property
    def data_dir(self) -> Path:
        """The isolated ``TWELVE_DATA_DIR``."""
        return self.code_dir / "data"

    def variables(self) -> dict[str, str]:
        """The environment of the subprocess (the isolated roots)."""
        return {
            "TWELVE_HOME": str(self.home),
            "TWELVE_DATA_DIR": str(self.data_dir),
            "DAGSTER_HOME": str(self.home / "dagster_home"),
            "BENTOML_HOME": str(self.home / "bentoml"),
            "TWELVE_DVC_REMOTE": str(self.home / "dvc-remote"),
            "TWELVE_PROFILE": "local",
        }

    def tracking_uri(self) -> str:
        """The isolated MLflow store the reproduced run goes to."""
        return f"sqlite:///{self.home / 'mlflow' / 'mlflow.db'}"


def make_isolated_env(root: Path, code_dir: Path, python: Path) -> IsolatedEnv:
    """Folders of an isolated environment under ``root`` for the checkout ``code_dir``."""
    env = IsolatedEnv(code_dir=code_dir, home=root / "home", python=python)
    (env.home / "dagster_home").mkdir(parents=True, exist_ok=True)
    (env.home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env.data_dir.mkdir(parents=True, exist_ok=True)
    return env


def run_steps(
    env: IsolatedEnv,
    project_dir: Path,
    steps: Sequence[Mapping[str, Any]],
    *,
    log_file: Path,
    on_step: Callable[[dict[str, Any]], None],
    source_dirs: Sequence[Path] = (),
) -> list[dict[str, Any]]:
    """Run the steps in the isolated environment; each step's result as it arrives.

    Args:
        env: the isolated environment.
        project_dir: the project's folder inside the checkout.
        steps: ``{"name", "upstream_of"|"assets", "ops"}`` each.
        log_file: where the subprocess's own output goes.
        on_step: called with each step's result (``step``, ``success``, ``seconds``,
            ``metadata``, ``errors``).
        source_dirs: put before anything installed on ``PYTHONPATH`` (the checkout's sources
            when the interpreter is this venv's).

    Returns:
        Every step's result, in order (the subprocess stops after a failed step).

    Raises:
        RuntimeError: the subprocess crashed before reporting (the tail of its log is in the
            message).
    """
    spec = {
        "code_dir": str(env.code_dir),
        "project_dir": str(project_dir),
        "steps": [dict(step) for step in steps],
    }
    variables = {**os.environ, **OFFLINE_ENV, **env.variables()}
    variables.pop("VIRTUAL_ENV", None)
    if source_dirs:
        variables["PYTHONPATH"] = os.pathsep.join(str(folder) for folder in source_dirs)
    results = []
    with (
        log_file.open("w") as log,
        subprocess.Popen(
            [str(env.python), "-c", DRIVER, json.dumps(spec)],
            cwd=env.code_dir,
            env=variables,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None  # stdout=PIPE
        for line in process.stdout:
            if line.startswith(STEP_PREFIX):
                result = json.loads(line[len(STEP_PREFIX) :])
                results.append(result)
                on_step(result)
            else:
                log.write(line)
    if process.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"the rebuild subprocess failed (exit {process.returncode}):\n{tail}")
    return results
