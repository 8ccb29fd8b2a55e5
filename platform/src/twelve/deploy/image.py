"""What a bento installs, and whether the model needs anything else (factor 12).

A bento ships its service folder, a copy of the ``twelve`` package and the packages its
``bentofile.yaml`` pins; :func:`check_runtime_covers` refuses, at build time, a pickled model that
refers to code from anywhere else. :func:`bentoml_env` is the environment every BentoML
subprocess of a build runs in.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import pickle
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from twelve.deploy.errors import BentoBuildError

log = logging.getLogger(__name__)


def read_bentofile(service_dir: Path) -> dict[str, Any]:
    """The service folder's ``bentofile.yaml`` as a mapping (``name`` is required)."""
    path = Path(service_dir) / "bentofile.yaml"
    if not path.is_file():
        raise BentoBuildError(f"{service_dir} has no bentofile.yaml: not a bento service folder")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict) or not content.get("name"):
        raise BentoBuildError(f"{path}: a top-level 'name' (the bento's name) is required")
    return content


def bentofile_pins(service_dir: Path) -> dict[str, str]:
    """Exact pins (``name==version``) of the bentofile's python packages, names normalized.

    Raises:
        BentoBuildError: a package is not pinned with ``==``.
    """
    packages = (read_bentofile(service_dir).get("python") or {}).get("packages") or []
    pins: dict[str, str] = {}
    for requirement in packages:
        name, sep, version = str(requirement).partition("==")
        if not sep or not version.strip():
            raise BentoBuildError(
                f"{service_dir}/bentofile.yaml: python package {requirement!r} is not pinned "
                "with '==' (the serving image must match the training environment)"
            )
        # `psycopg[binary]==3.3.9` pins the distribution psycopg; extras are not versions.
        pins[normalize_distribution(name.split("[", 1)[0])] = version.strip()
    return pins


def normalize_distribution(name: str) -> str:
    """PEP 503 normalized distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


class _RecordingUnpickler(pickle.Unpickler):
    """Unpickles a copy while recording every module the pickle refers to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


def referenced_modules(model: Any) -> set[str]:
    """Modules whose classes or functions a pickle of ``model`` needs to be loaded again.

    Raises:
        BentoBuildError: the model cannot be pickled (a lambda or a local class, for example).
    """
    import io

    try:
        data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise BentoBuildError(
            f"the model cannot be pickled for the bento ({error}); keep custom code out of the "
            "Pipeline or make it importable"
        ) from error
    unpickler = _RecordingUnpickler(io.BytesIO(data))
    unpickler.load()
    return unpickler.modules


def check_runtime_covers(modules: Iterable[str], pins: Mapping[str, str]) -> None:
    """Fail unless every module is in the standard library or in a pinned distribution.

    A bento ships only its service folder and the packages its bentofile lists: a Pipeline that
    refers to project code (a custom transformer in ``flight_delays``) would load here and crash
    in the served bento. This catches it at build time, naming the module.

    Args:
        modules: module names (e.g. from :func:`referenced_modules`).
        pins: normalized distribution name -> version (from :func:`bentofile_pins`); BentoML
            itself is always installed in a bento.

    Raises:
        BentoBuildError: a module comes from elsewhere (the message names it and its distribution).
    """
    allowed = {*pins, "bentoml"}
    owners = importlib.metadata.packages_distributions()
    problems = []
    for module in sorted(set(modules)):
        top = module.split(".", 1)[0]
        if top in sys.stdlib_module_names or top == "builtins":
            continue
        distributions = {normalize_distribution(d) for d in owners.get(top, [])}
        if not distributions & allowed:
            where = ", ".join(sorted(distributions)) or _origin_of(top)
            problems.append(f"{module} (from {where})")
    if problems:
        raise BentoBuildError(
            "the model refers to code the bento does not install: "
            + "; ".join(problems)
            + f". Installed in the bento: {sorted(allowed)} (bentofile.yaml python.packages)"
        )


def _origin_of(top_module: str) -> str:
    """Where a module without a distribution comes from (workspace code is not listed in one)."""
    import importlib.util

    if top_module == "__main__":
        return "a script run as __main__"
    try:
        spec = importlib.util.find_spec(top_module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return "a module not importable here"
    location = spec.origin or next(iter(spec.submodule_search_locations or []), "?")
    return f"local code at {location}"


def bentoml_env(home: Path, uv_dir: Path | None = None) -> dict[str, str]:
    """The environment of a BentoML subprocess: this one, plus its home, offline, uv on PATH."""
    env = dict(os.environ)
    env["BENTOML_HOME"] = str(home)
    env["BENTOML_DO_NOT_TRACK"] = "True"
    env["DO_NOT_TRACK"] = env.get("DO_NOT_TRACK", "true")
    # The service module is imported by `bentoml build`; no bytecode left in the source tree.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    uv_dir = uv_dir or find_uv_dir(env.get("PATH", ""))
    env["PATH"] = os.pathsep.join([str(uv_dir), env.get("PATH", "")])
    return env


def find_uv_dir(path: str | None = None) -> Path:
    """The folder of the ``uv`` binary ``bentoml build`` will run.

    ``bentoml build`` runs ``uv`` and otherwise tries to pip-install it (there is no pip in a uv
    venv). The venv's own uv (a locked dev dependency, beside this interpreter) comes first, then
    one on ``path`` (default: ``PATH``).

    Raises:
        BentoBuildError: no uv binary found.
    """
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.parent
    found = shutil.which("uv", path=path if path is not None else os.environ.get("PATH"))
    if found:
        return Path(found).parent
    raise BentoBuildError(
        "`bentoml build` needs a `uv` binary, found neither in "
        f"{Path(sys.executable).parent} nor on PATH: run `make install` (uv is a dev dependency) "
        "or put uv on PATH"
    )


def run_step(
    command: list[str], env: Mapping[str, str], cwd: Path, timeout: float, what: str
) -> str:
    """Run one step of a build in a subprocess, failing with the end of its output.

    Raises:
        BentoBuildError: the step failed or did not finish within ``timeout`` seconds.
    """
    log.info("%s: %s", what, shlex.join(command))
    try:
        done = subprocess.run(
            command,
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BentoBuildError(f"{what} did not finish within {timeout:.0f} s") from error
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-25:])
        raise BentoBuildError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout
