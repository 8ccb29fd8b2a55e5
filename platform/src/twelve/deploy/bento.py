"""Deployable artifacts (factor 12): a registered MLflow model version becomes a built bento.

Three steps, each skipped when its result already exists (every step adds to BentoML's stores, so
nothing is done twice for the same inputs):

1. **Import** the registered version into BentoML's model store as ``<name>:v<version>-<run>``:
   the fitted scikit-learn Pipeline (``pipeline.joblib``), the feature contract
   (``contract.json``), the training set's reference profile (``reference_profile/``) and
   metadata (MLflow run id, model version, registered name, threshold, contract, reference
   profile, run manifest). The service loads exactly this Pipeline, so the fitted preprocessing
   travels with the model.
2. **Build** the bento with ``bentoml build`` (``--arg model_tag=...``). Its version is the model
   tag plus a digest of the service folder: the same model with the same service code is built
   once; a change to the service builds a new bento. ``bentoml build`` writes the container recipe
   ``env/docker/Dockerfile`` into the bento (kept there; containerizing needs docker).
3. **Record** the bento tag on the MLflow model version (tag ``bento_tag``).

BentoML resolves its home (``BENTOML_HOME``) once per process, so every step that touches
BentoML's stores runs in a subprocess with the home set explicitly: a Dagster process can build
into any configured home, and tests can use a temporary one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from filelock import FileLock
from pydantic import Field

from twelve.core import paths

log = logging.getLogger(__name__)

# Files inside a BentoML model imported by this module. PIPELINE_FILE must match the service's
# `PIPELINE_FILE` (bentos/<name>/service.py), which loads it.
PIPELINE_FILE = "pipeline.joblib"
CONTRACT_FILE = "contract.json"
REFERENCE_PROFILE_DIR = "reference_profile"
# Tags written on the MLflow model version.
BENTO_TAG_KEY = "bento_tag"
BENTOML_MODEL_TAG_KEY = "bentoml_model_tag"
# BentoML tag parts: lowercase letters, digits, '-', '_', '.', at most 63 characters.
_TAG_PART = re.compile(r"^[a-z0-9]([-._a-z0-9]{0,61}[a-z0-9])?$")
_IGNORED_IN_DIGEST = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


class BentoBuildError(RuntimeError):
    """A step of turning a model version into a bento failed (the message says which and why)."""


# --------------------------------------------------------------------------- what to build
@dataclass(frozen=True)
class ModelVersionRef:
    """A registered MLflow model version, as the bento is built from it."""

    registered_model: str
    version: str
    run_id: str
    aliases: tuple[str, ...] = ()

    @property
    def model_uri(self) -> str:
        """The MLflow URI of this version (``models:/<name>/<version>``)."""
        return f"models:/{self.registered_model}/{self.version}"


@dataclass(frozen=True)
class BuiltBento:
    """A bento in the store, and how it came to be."""

    tag: str
    model_tag: str
    path: Path
    dockerfile: Path
    size_bytes: int
    model_imported: bool
    bento_built: bool
    serve_command: str
    seconds: float

    @property
    def reused(self) -> bool:
        """True when nothing was imported or built (this version already had this bento)."""
        return not (self.model_imported or self.bento_built)


def tag_part(text: str) -> str:
    """``text`` as a BentoML tag name or version: lowercase, invalid characters -> ``-``.

    Raises:
        ValueError: nothing usable is left, or the result is longer than 63 characters.
    """
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    if not _TAG_PART.match(cleaned):
        raise ValueError(
            f"{text!r} cannot be a BentoML tag part (lowercase letters, digits, '-', '_', '.', "
            f"1-63 characters; got {cleaned!r})"
        )
    return cleaned


def bentoml_model_tag(ref: ModelVersionRef) -> str:
    """The BentoML model tag of a registered version: ``<name>:v<version>-<run id[:12]>``.

    The run id keeps tags unique when a registry is recreated and numbers versions from 1 again.
    """
    if not ref.run_id:
        raise ValueError(f"model version {ref.model_uri} has no run id")
    return f"{tag_part(ref.registered_model)}:{tag_part(f'v{ref.version}-{ref.run_id[:12]}')}"


def service_digest(service_dir: Path) -> str:
    """sha256 of the service folder's files (relative paths and bytes), caches ignored.

    Raises:
        BentoBuildError: the folder has no ``bentofile.yaml``.
    """
    service_dir = Path(service_dir)
    if not (service_dir / "bentofile.yaml").is_file():
        raise BentoBuildError(f"{service_dir} has no bentofile.yaml: not a bento service folder")
    digest = hashlib.sha256()
    for file in sorted(service_dir.rglob("*")):
        relative = file.relative_to(service_dir)
        if not file.is_file() or _IGNORED_IN_DIGEST & set(relative.parts):
            continue
        if file.suffix == ".pyc":
            continue
        digest.update(relative.as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def read_bentofile(service_dir: Path) -> dict[str, Any]:
    """The service folder's ``bentofile.yaml`` as a mapping (``name`` is required)."""
    path = Path(service_dir) / "bentofile.yaml"
    if not path.is_file():
        raise BentoBuildError(f"{service_dir} has no bentofile.yaml: not a bento service folder")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict) or not content.get("name"):
        raise BentoBuildError(f"{path}: a top-level 'name' (the bento's name) is required")
    return content


def bento_tag_for(bento_name: str, model_tag: str, digest: str) -> str:
    """``<bento name>:<model version part>-<service digest[:8]>``."""
    model_version = model_tag.split(":", 1)[1]
    return f"{tag_part(bento_name)}:{tag_part(f'{model_version}-{digest[:8]}')}"


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


# --------------------------------------------------------------------------- the pickled model
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


# --------------------------------------------------------------------------- MLflow side
def latest_aliased_version(
    client, registered_model: str, aliases: Iterable[str] = ("champion", "challenger")
) -> ModelVersionRef:
    """The newest version of a registered model that carries one of ``aliases``.

    Args:
        client: an ``mlflow.MlflowClient`` bound to the registry.
        registered_model: the registered model's name.
        aliases: the aliases that make a version deployable.

    Raises:
        BentoBuildError: the registered model does not exist or no version carries an alias.
    """
    wanted = set(aliases)
    try:
        registered = client.get_registered_model(registered_model)
    except Exception as error:  # MLflow raises its own exception for a missing model
        raise BentoBuildError(
            f"registered model {registered_model!r} not found in the MLflow registry: {error}"
        ) from error
    by_version: dict[str, list[str]] = {}
    for alias, version in (registered.aliases or {}).items():
        if alias in wanted:
            by_version.setdefault(str(version), []).append(alias)
    if not by_version:
        raise BentoBuildError(
            f"no version of registered model {registered_model!r} carries an alias among "
            f"{sorted(wanted)} (aliases now: {dict(registered.aliases or {})}); only a model that "
            "passed the evaluation gate is given one"
        )
    version = max(by_version, key=int)
    model_version = client.get_model_version(registered_model, version)
    return ModelVersionRef(
        registered_model=registered_model,
        version=version,
        run_id=model_version.run_id or "",
        aliases=tuple(sorted(by_version[version])),
    )


def run_value(client, ref: ModelVersionRef, key: str) -> str:
    """A value recorded for a model version: its version tag, else its run's tag, else param.

    Raises:
        BentoBuildError: ``key`` is in none of them (the message lists what is there).
    """
    version_tags = client.get_model_version(ref.registered_model, ref.version).tags or {}
    if key in version_tags:
        return str(version_tags[key])
    run = client.get_run(ref.run_id)
    if key in run.data.tags:
        return str(run.data.tags[key])
    if key in run.data.params:
        return str(run.data.params[key])
    raise BentoBuildError(
        f"{ref.model_uri} (run {ref.run_id}) records no {key!r}: version tags "
        f"{sorted(version_tags)}, run tags {sorted(k for k in run.data.tags if '.' not in k)}, "
        f"params {sorted(run.data.params)}"
    )


def run_manifest(client, ref: ModelVersionRef) -> dict[str, str]:
    """The run's own tags (MLflow's ``mlflow.*`` system tags left out): its run manifest."""
    tags = client.get_run(ref.run_id).data.tags
    return {key: str(value) for key, value in sorted(tags.items()) if not key.startswith("mlflow.")}


def contract_description(reference: str) -> dict[str, Any]:
    """The JSON description of a feature contract named ``"module:attribute"``.

    The attribute may be a schema built with :func:`twelve.features.schemas.build_schema`, a
    function
    returning one, or an already JSON-ready mapping.

    Raises:
        BentoBuildError: the reference is malformed or does not resolve to a contract.
    """
    import importlib

    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise BentoBuildError(f"contract reference {reference!r} must look like 'module:attribute'")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise BentoBuildError(f"feature contract {reference!r} not found: {error}") from error
    if callable(target) and not hasattr(target, "columns"):
        target = target()
    if isinstance(target, Mapping):
        return dict(target)
    from twelve.features.schemas import schema_to_dict

    try:
        return schema_to_dict(target)
    except (AttributeError, ValueError) as error:
        raise BentoBuildError(
            f"{reference!r} is a {type(target).__name__}, not a contract built with "
            f"twelve.features.schemas.build_schema: {error}"
        ) from error


def load_registered_pipeline(
    tracking_uri: str, ref: ModelVersionRef, workdir: Path, method: str = "predict_proba"
) -> Any:
    """Load the fitted scikit-learn model of a registered version, whatever format it was saved in.

    Args:
        tracking_uri: the MLflow store.
        ref: the registered version.
        workdir: where its artifacts are downloaded.
        method: what the service calls: ``predict_proba`` (a classifier, the default) or
            ``predict`` (a regressor).

    Returns:
        The model object, checked to have ``method``.

    Raises:
        BentoBuildError: the artifacts cannot be fetched or loaded, or the model has no
            ``method``.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow.artifacts
    import mlflow.sklearn

    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=ref.model_uri,
            dst_path=str(workdir),
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        model = mlflow.sklearn.load_model(local)
    except Exception as error:
        raise BentoBuildError(
            f"cannot load {ref.model_uri} from {tracking_uri} as a scikit-learn model: {error}"
        ) from error
    if not callable(getattr(model, method, None)):
        answers = "probabilities" if method == "predict_proba" else "values"
        raise BentoBuildError(
            f"{ref.model_uri} is a {type(model).__name__} without {method}; the service "
            f"answers {answers}"
        )
    return model


# --------------------------------------------------------------------------- BentoML side
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


def model_dir(home: Path, model_tag: str) -> Path:
    """Where BentoML stores a model: ``<home>/models/<name>/<version>``."""
    name, version = model_tag.split(":", 1)
    return Path(home) / "models" / name / version


def bento_dir(home: Path, bento_tag: str) -> Path:
    """Where BentoML stores a bento: ``<home>/bentos/<name>/<version>``."""
    name, version = bento_tag.split(":", 1)
    return Path(home) / "bentos" / name / version


def model_exists(home: Path, model_tag: str) -> bool:
    """Whether the BentoML model store holds ``model_tag``."""
    return (model_dir(home, model_tag) / "model.yaml").is_file()


def bento_exists(home: Path, bento_tag: str) -> bool:
    """Whether the bento store holds ``bento_tag``."""
    return (bento_dir(home, bento_tag) / "bento.yaml").is_file()


def stage_model_files(
    staging: Path,
    pipeline: Any,
    contract: Mapping[str, Any],
    reference_profile: Path,
) -> dict[str, Any]:
    """Write what goes into the BentoML model: pipeline, contract, reference profile.

    Args:
        staging: an empty folder.
        pipeline: the fitted model (joblib-dumped).
        contract: the feature contract's JSON description.
        reference_profile: the training set's whylogs profile file; its JSON sidecar
            (same name, ``.json``) is copied too when present.

    Returns:
        Metadata describing the contract and the reference profile.

    Raises:
        BentoBuildError: the profile file is missing or the contract is not JSON-serializable.
    """
    import joblib

    reference_profile = Path(reference_profile)
    if not reference_profile.is_file():
        raise BentoBuildError(f"reference profile {reference_profile} does not exist")
    try:
        contract_json = json.dumps(
            contract, sort_keys=True, separators=(",", ":"), default=_no_default
        )
    except TypeError as error:
        raise BentoBuildError(f"the feature contract is not JSON-serializable: {error}") from error
    staging.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, staging / PIPELINE_FILE)
    (staging / CONTRACT_FILE).write_text(json.dumps(json.loads(contract_json), indent=2) + "\n")
    profile_folder = staging / REFERENCE_PROFILE_DIR
    profile_folder.mkdir()
    shutil.copy2(reference_profile, profile_folder / reference_profile.name)
    sidecar = reference_profile.with_suffix(".json")
    if sidecar.is_file() and sidecar != reference_profile:
        shutil.copy2(sidecar, profile_folder / sidecar.name)
    return {
        "contract": contract_json,
        "contract_sha256": hashlib.sha256(contract_json.encode()).hexdigest(),
        "reference_profile": {
            "file": f"{REFERENCE_PROFILE_DIR}/{reference_profile.name}",
            "version": reference_profile.stem,
            "sha256": hashlib.sha256(reference_profile.read_bytes()).hexdigest(),
            "source": str(reference_profile),
        },
    }


def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serializable")


def _run(command: list[str], env: Mapping[str, str], cwd: Path, timeout: float, what: str) -> str:
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


def import_staged_model(
    home: Path, model_tag: str, staging: Path, metadata: Mapping[str, Any], timeout: float = 300
) -> None:
    """Create ``model_tag`` in BentoML's model store (under ``home``) from a staged folder."""
    (staging / "_metadata.json").write_text(json.dumps(dict(metadata), default=_no_default))
    command = [sys.executable, "-m", "twelve.deploy.bento_import", str(staging), model_tag]
    _run(command, bentoml_env(home), staging, timeout, f"import of BentoML model {model_tag}")


def build_bento(
    home: Path,
    service_dir: Path,
    bento_tag: str,
    model_tag: str,
    timeout: float = 600,
) -> str:
    """Run ``bentoml build`` for ``service_dir`` with ``--arg model_tag=...``.

    Returns:
        The tag ``bentoml build`` reports (checked to be ``bento_tag``).

    Raises:
        BentoBuildError: the build fails or reports another tag.
    """
    version = bento_tag.split(":", 1)[1]
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "build",
        str(service_dir),
        "--version",
        version,
        "--arg",
        f"model_tag={model_tag}",
        "--output",
        "tag",
    ]
    output = _run(command, bentoml_env(home), service_dir, timeout, f"bentoml build {bento_tag}")
    reported = [
        line.split("__tag__:", 1)[1].strip() for line in output.splitlines() if "__tag__:" in line
    ]
    if reported != [bento_tag]:
        raise BentoBuildError(
            f"bentoml build reported {reported or 'no tag'}, expected {bento_tag}:\n"
            f"{output[-2000:]}"
        )
    return bento_tag


def dir_size(path: Path) -> int:
    """Total bytes of the regular files under ``path``."""
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file())


def serve_command(home: Path, bento_tag: str, port: int = 3001) -> str:
    """The shell command that serves a bento from ``home`` on 127.0.0.1."""
    return (
        f"BENTOML_HOME={shlex.quote(str(home))} bentoml serve {bento_tag} "
        f"--host 127.0.0.1 --port {port}"
    )


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    # Two runs packaging the same version at once would both import and build it.
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".twelve-bento.lock"), timeout=1800):
        yield


def package_model_version(
    *,
    home: Path,
    service_dir: Path,
    client,
    tracking_uri: str,
    ref: ModelVersionRef,
    threshold: float | None,
    contract: Mapping[str, Any],
    reference_profile: Path,
    timeout: float = 600,
) -> BuiltBento:
    """Import a registered version into BentoML, build its bento, tag the MLflow version.

    Idempotent: when the bento for this version and this service code exists, nothing is imported
    or built (the MLflow tags are still made sure of). A version's facts (threshold, contract,
    reference profile) are fixed when it is first imported: they belong to the version.

    Args:
        home: BentoML's home folder.
        service_dir: the service folder (``service.py`` + ``bentofile.yaml``).
        client: ``MlflowClient`` of the registry holding ``ref``.
        tracking_uri: the same store's URI (to download the model's artifacts).
        ref: the model version to package.
        threshold: decision threshold stored with the model (the service's label cut-off);
            None for a model without one (a regressor).
        contract: JSON description of the feature contract.
        reference_profile: the training set's whylogs profile file.
        timeout: seconds allowed to each subprocess.

    Returns:
        The bento's tag, paths, size and what was done.

    Raises:
        BentoBuildError: any step failed; nothing half-made is left in the stores.
    """
    if threshold is not None and not 0.0 < float(threshold) < 1.0:
        raise BentoBuildError(f"threshold must be in (0, 1), got {threshold}")
    started = time.perf_counter()
    home, service_dir = Path(home).resolve(), Path(service_dir).resolve()
    bentofile = read_bentofile(service_dir)
    model_tag = bentoml_model_tag(ref)
    scratch = tempfile.TemporaryDirectory(prefix="twelve-bento-context-")
    try:
        # The bento is built from a staged copy: the service folder plus what it runs from the
        # platform; the tag follows all of it (a change to twelve.serving.runtime builds a new
        # bento).
        context = stage_build_context(service_dir, Path(scratch.name) / "context")
        bento_tag = bento_tag_for(bentofile["name"], model_tag, service_digest(context))
        imported, built = _import_and_build(
            home, service_dir, context, client, tracking_uri, ref, model_tag, bento_tag,
            threshold, contract, reference_profile, timeout,
        )  # fmt: skip
    finally:
        scratch.cleanup()
    if not (imported or built):
        log.info("bento %s of %s exists: nothing imported or built", bento_tag, ref.model_uri)
    path = bento_dir(home, bento_tag)
    dockerfile = path / "env" / "docker" / "Dockerfile"
    if not dockerfile.is_file():
        raise BentoBuildError(f"bento {bento_tag} has no container recipe at {dockerfile}")
    client.set_model_version_tag(ref.registered_model, ref.version, BENTO_TAG_KEY, bento_tag)
    client.set_model_version_tag(
        ref.registered_model, ref.version, BENTOML_MODEL_TAG_KEY, model_tag
    )
    return BuiltBento(
        tag=bento_tag,
        model_tag=model_tag,
        path=path,
        dockerfile=dockerfile,
        size_bytes=dir_size(path) + dir_size(model_dir(home, model_tag)),
        model_imported=imported,
        bento_built=built,
        serve_command=serve_command(home, bento_tag),
        seconds=time.perf_counter() - started,
    )


def _import_and_build(
    home: Path,
    service_dir: Path,
    context: Path,
    client,
    tracking_uri: str,
    ref: ModelVersionRef,
    model_tag: str,
    bento_tag: str,
    threshold: float | None,
    contract: Mapping[str, Any],
    reference_profile: Path,
    timeout: float,
) -> tuple[bool, bool]:
    with _locked(home):
        # Each step only when its result is missing (a model deleted by hand is imported again).
        imported = not model_exists(home, model_tag)
        if imported:
            _import_version(
                home,
                service_dir,
                client,
                tracking_uri,
                ref,
                model_tag,
                threshold,
                contract,
                reference_profile,
                timeout,
            )
        built = not bento_exists(home, bento_tag)
        if built:
            build_bento(home, context, bento_tag, model_tag, timeout)
    return imported, built


def stage_build_context(service_dir: Path, target: Path, state_dir: Path | None = None) -> Path:
    """Copy a service folder into ``target`` with what its bento runs from the platform.

    Added to the copy: the modules of ``twelve`` the service imports
    (``twelve.serving.runtime.VENDORED_MODULES``, as the package ``twelve``: the bento does not
    install
    the platform, whose Dagster and dbt dependencies do not belong in a serving image), and, when
    the folder has a ``serving.yaml``, ``serving_config.json``: the feature store location for
    ``state_dir`` (default ``TWELVE_HOME``) under the active profile (``TWELVE_PROFILE``: the
    production one reads the SQL registry and Redis), the feature service and the monitoring
    settings.

    Args:
        service_dir: the service folder (``bentofile.yaml``, ``service.py``...).
        target: a folder that does not exist yet.
        state_dir: the ``TWELVE_HOME`` to record.

    Returns:
        ``target``.

    Raises:
        BentoBuildError: the serving config cannot be resolved (the message says why).
    """
    from twelve.core import profile as profiles
    from twelve.serving import runtime as serving

    service_dir, target = Path(service_dir), Path(target)
    shutil.copytree(
        service_dir,
        target,
        ignore=shutil.ignore_patterns(*_IGNORED_IN_DIGEST, "*.pyc", serving.SERVING_CONFIG_FILE),
    )
    package = target / "twelve"
    if package.exists():
        raise BentoBuildError(f"{service_dir} has its own 'twelve' folder: it would be replaced")
    source = Path(serving.__file__).parents[1]  # the twelve package
    for name in serving.VENDORED_MODULES:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / f"{name}.py", package / f"{name}.py")
    if (service_dir / serving.SERVING_YAML).is_file():
        try:
            config = serving.resolve_serving_config(
                service_dir, state_dir or paths.state_dir(), profile=profiles.active()
            )
        except serving.ServingConfigError as error:
            raise BentoBuildError(f"serving config of {service_dir}: {error}") from error
        (target / serving.SERVING_CONFIG_FILE).write_text(
            json.dumps(config, indent=2, sort_keys=True) + "\n"
        )
    return target


def _import_version(
    home: Path,
    service_dir: Path,
    client,
    tracking_uri: str,
    ref: ModelVersionRef,
    model_tag: str,
    threshold: float | None,
    contract: Mapping[str, Any],
    reference_profile: Path,
    timeout: float,
) -> None:
    with tempfile.TemporaryDirectory(prefix="twelve-bento-") as scratch:
        scratch_dir = Path(scratch)
        # A model with a decision threshold is a classifier; one without answers values.
        method = "predict_proba" if threshold is not None else "predict"
        pipeline = load_registered_pipeline(tracking_uri, ref, scratch_dir / "mlflow", method)
        check_runtime_covers(referenced_modules(pipeline), bentofile_pins(service_dir))
        staging = scratch_dir / "model"
        described = stage_model_files(staging, pipeline, contract, reference_profile)
        metadata = {
            "registered_model": ref.registered_model,
            "model_version": ref.version,
            "mlflow_run_id": ref.run_id,
            "mlflow_model_uri": ref.model_uri,
            "aliases_at_build": list(ref.aliases),
            # BentoML metadata holds no None: a model without a threshold has no such entry.
            **({} if threshold is None else {"threshold": float(threshold)}),
            "model_class": f"{type(pipeline).__module__}.{type(pipeline).__qualname__}",
            "sklearn_version": _installed_version("scikit-learn"),
            "manifest": run_manifest(client, ref),
            **described,
        }
        import_staged_model(home, model_tag, staging, metadata, timeout)


def _installed_version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


# --------------------------------------------------------------------------- the resource
class BentoResource(dg.ConfigurableResource):
    """BentoML's stores (models and bentos) and how bentos are built into them."""

    home: str = Field(
        default="",
        description="BENTOML_HOME to build into and serve from; empty means TWELVE_HOME/bentoml.",
    )
    timeout_seconds: float = Field(
        default=600, description="Time allowed to each BentoML subprocess (import, build)."
    )

    def resolved_home(self) -> Path:
        """BentoML's home in force (the configured one or ``<TWELVE_HOME>/bentoml``)."""
        home = Path(self.home) if self.home else paths.state_dir() / "bentoml"
        home.mkdir(parents=True, exist_ok=True)
        return home.resolve()

    def package(
        self,
        *,
        service_dir: Path,
        client,
        tracking_uri: str,
        ref: ModelVersionRef,
        threshold: float | None,
        contract: Mapping[str, Any],
        reference_profile: Path,
    ) -> BuiltBento:
        """:func:`package_model_version` into this resource's home."""
        return package_model_version(
            home=self.resolved_home(),
            service_dir=service_dir,
            client=client,
            tracking_uri=tracking_uri,
            ref=ref,
            threshold=threshold,
            contract=contract,
            reference_profile=reference_profile,
            timeout=self.timeout_seconds,
        )
