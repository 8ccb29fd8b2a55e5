"""Deployable artifacts (factor 12): a registered MLflow model version becomes a built bento.

Three steps, each skipped when its result already exists (every step adds to BentoML's stores, so
nothing is done twice for the same inputs):

1. **Import** the registered version into BentoML's model store as ``<name>:v<version>-<run>``:
   the fitted scikit-learn Pipeline (``pipeline.joblib``, the reference), its compiled form
   (``model.onnx``, what the service answers with: checked against the pipeline on the version's
   whole holdout, and refused when it strays), the feature contract (``contract.json``), the
   training set's reference profile (``reference_profile/``) and metadata (MLflow run id, model
   version, registered name, threshold, contract, reference profile, run manifest, parity).
2. **Build** the bento with ``bentoml build`` (``--arg model_tag=...``). Its version is the model
   tag plus a digest of the build context (the service folder and the copy of the platform it
   runs): the same model with the same code is built once; a change builds a new bento.
   ``bentoml build`` writes the container recipe ``env/docker/Dockerfile`` into the bento.
3. **Record** the bento tag on the MLflow model version (tag ``bento_tag``).

BentoML resolves its home (``BENTOML_HOME``) once per process, so every step that touches
BentoML's stores runs in a subprocess with the home set explicitly: a Dagster process can build
into any configured home, and tests can use a temporary one.

The other modules of the step: :mod:`twelve.deploy.registry` (which versions, their facts),
:mod:`twelve.deploy.image` (what the bento installs), :mod:`twelve.deploy.staging` (the files).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from filelock import FileLock
from pydantic import Field

from twelve.core import paths
from twelve.deploy.errors import BentoBuildError
from twelve.deploy.image import (
    bentofile_pins,
    bentoml_env,
    check_runtime_covers,
    find_uv_dir,
    normalize_distribution,
    read_bentofile,
    referenced_modules,
)
from twelve.deploy.registry import (
    ModelVersionRef,
    aliased_versions,
    contract_description,
    latest_aliased_version,
    load_registered_pipeline,
    read_holdout,
    run_manifest,
    run_value,
)
from twelve.deploy.staging import (
    compile_checked,
    no_default,
    stage_build_context,
    stage_model_files,
)
from twelve.serving.model import (
    COMPILED_FILE,
    CONTRACT_FILE,
    PIPELINE_FILE,
    REFERENCE_PROFILE_DIR,
)

log = logging.getLogger(__name__)

# Re-exported: callers build bentos through this module.
__all__ = [
    "COMPILED_FILE", "CONTRACT_FILE", "PIPELINE_FILE", "REFERENCE_PROFILE_DIR",
    "BentoBuildError", "BentoResource", "BuiltBento", "ModelVersionRef", "aliased_versions",
    "bentofile_pins", "bentoml_env", "check_runtime_covers", "contract_description",
    "find_uv_dir", "latest_aliased_version", "load_registered_pipeline", "normalize_distribution",
    "package_model_version", "read_bentofile", "read_holdout", "referenced_modules",
    "run_manifest", "run_value", "stage_build_context", "stage_model_files",
]  # fmt: skip

# Tags written on the MLflow model version.
BENTO_TAG_KEY = "bento_tag"
BENTOML_MODEL_TAG_KEY = "bentoml_model_tag"
# BentoML tag parts: lowercase letters, digits, '-', '_', '.', at most 63 characters.
_TAG_PART = re.compile(r"^[a-z0-9]([-._a-z0-9]{0,61}[a-z0-9])?$")
_IGNORED_IN_DIGEST = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


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


def bento_tag_for(bento_name: str, model_tag: str, digest: str) -> str:
    """``<bento name>:<model version part>-<service digest[:8]>``."""
    model_version = model_tag.split(":", 1)[1]
    return f"{tag_part(bento_name)}:{tag_part(f'{model_version}-{digest[:8]}')}"


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
    (staging / "_metadata.json").write_text(json.dumps(dict(metadata), default=no_default))
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


@dataclass(frozen=True)
class Deployable:
    """A registered version and the facts its bento embeds.

    Attributes:
        ref: the model version.
        threshold: the decision threshold of a classifier; None for a regressor.
        contract: the feature contract's JSON description.
        reference_profile: the training set's whylogs profile file.
        holdout: the rows its compiled form is checked on (its versioned holdout).
        holdout_version: the holdout's md5 (recorded in the model's metadata).
    """

    ref: ModelVersionRef
    threshold: float | None
    contract: Mapping[str, Any]
    reference_profile: Path
    holdout: Any
    holdout_version: str = ""


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
    holdout: Any = None,
    dvc: Any = None,
    timeout: float = 600,
) -> BuiltBento:
    """Import a registered version into BentoML, build its bento, tag the MLflow version.

    Idempotent: when the bento for this version and this code exists, nothing is imported or
    built (the MLflow tags are still made sure of). A version's facts (threshold, contract,
    reference profile, compiled model) are fixed when it is first imported: they belong to it.

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
        holdout: the rows to check the compiled model on; default the version's own holdout,
            read by the md5 of its run manifest through ``dvc``.
        dvc: the ``DvcResource`` that reads it (default: the checkout's, and its remote).
        timeout: seconds allowed to each subprocess.

    Returns:
        The bento's tag, paths, size and what was done.

    Raises:
        BentoBuildError: any step failed, the compiled model differs from the pipeline on the
            holdout included; nothing half-made is left in the stores.
    """
    if threshold is not None and not 0.0 < float(threshold) < 1.0:
        raise BentoBuildError(f"threshold must be in (0, 1), got {threshold}")
    started = time.perf_counter()
    home, service_dir = Path(home).resolve(), Path(service_dir).resolve()
    bentofile = read_bentofile(service_dir)
    model_tag = bentoml_model_tag(ref)
    with tempfile.TemporaryDirectory(prefix="twelve-bento-context-") as scratch:
        # The bento is built from a staged copy: the service folder plus the platform it runs;
        # the tag follows all of it (a change to twelve.serving builds a new bento).
        context = stage_build_context(service_dir, Path(scratch) / "context")
        bento_tag = bento_tag_for(bentofile["name"], model_tag, service_digest(context))
        with _locked(home):
            imported = not model_exists(home, model_tag)
            if imported:  # each step only when its result is missing
                facts = Deployable(ref, threshold, contract, Path(reference_profile), holdout)
                _import_version(home, service_dir, client, tracking_uri, model_tag,
                                _with_holdout(facts, client, dvc), timeout)  # fmt: skip
            built = not bento_exists(home, bento_tag)
            if built:
                build_bento(home, context, bento_tag, model_tag, timeout)
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


def _with_holdout(facts: Deployable, client, dvc: Any) -> Deployable:
    """``facts`` with its holdout: the one given, else the version's own (by md5)."""
    if facts.holdout is not None:
        return facts
    if dvc is None:
        from twelve.data.versioning import DvcResource

        dvc = DvcResource()
    holdout, md5 = read_holdout(client, facts.ref, dvc)
    return Deployable(facts.ref, facts.threshold, facts.contract, facts.reference_profile,
                      holdout, md5)  # fmt: skip


def _import_version(
    home: Path,
    service_dir: Path,
    client,
    tracking_uri: str,
    model_tag: str,
    facts: Deployable,
    timeout: float,
) -> None:
    ref, threshold = facts.ref, facts.threshold
    with tempfile.TemporaryDirectory(prefix="twelve-bento-") as scratch:
        scratch_dir = Path(scratch)
        # A model with a decision threshold is a classifier; one without answers values.
        method = "predict_proba" if threshold is not None else "predict"
        pipeline = load_registered_pipeline(tracking_uri, ref, scratch_dir / "mlflow", method)
        check_runtime_covers(referenced_modules(pipeline), bentofile_pins(service_dir))
        compiled, parity = compile_checked(pipeline, facts.holdout, threshold)
        log.info(
            "%s compiled: max |diff| %.2g over %d holdout rows, %d labels differ",
            ref.model_uri, parity["max_abs_diff"], parity["rows"], parity["label_mismatches"],
        )  # fmt: skip
        staging = scratch_dir / "model"
        described = stage_model_files(
            staging, pipeline, facts.contract, facts.reference_profile, compiled
        )
        metadata = {
            "registered_model": ref.registered_model,
            "model_version": ref.version,
            "mlflow_run_id": ref.run_id,
            "mlflow_model_uri": ref.model_uri,
            "aliases_at_build": list(ref.aliases),
            # BentoML metadata holds no None: a model without a threshold has no such entry.
            **({} if threshold is None else {"threshold": float(threshold)}),
            "model_class": f"{type(pipeline).__module__}.{type(pipeline).__qualname__}",
            "sklearn_version": importlib.metadata.version("scikit-learn"),
            "manifest": run_manifest(client, ref),
            "parity": {**parity, "holdout_version": facts.holdout_version},
            **described,
        }
        import_staged_model(home, model_tag, staging, metadata, timeout)


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

    def package(self, **kwargs: Any) -> BuiltBento:
        """:func:`package_model_version` (same keyword arguments) into this resource's home."""
        return package_model_version(
            home=self.resolved_home(), timeout=self.timeout_seconds, **kwargs
        )
