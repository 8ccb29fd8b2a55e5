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
:mod:`twelve.deploy.versions` (a version into the model store), :mod:`twelve.deploy.image` (what
the bento installs), :mod:`twelve.deploy.staging` (the files), :mod:`twelve.deploy.store` (tags
and paths).
"""

from __future__ import annotations

import contextlib
import logging
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
    run_step,
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
    stage_build_context,
    stage_model_files,
)
from twelve.deploy.store import (
    bento_dir,
    bento_exists,
    bento_tag_for,
    bentoml_model_tag,
    dir_size,
    model_dir,
    model_exists,
    serve_command,
    service_digest,
    tag_part,
)
from twelve.deploy.versions import Deployable, import_version, with_holdout
from twelve.serving.model import (
    COMPILED_FILE,
    CONTRACT_FILE,
    PIPELINE_FILE,
    REFERENCE_PROFILE_DIR,
)

log = logging.getLogger(__name__)

# Re-exported: callers build bentos through this module.
__all__ = [
    "COMPILED_FILE",
    "CONTRACT_FILE",
    "PIPELINE_FILE",
    "REFERENCE_PROFILE_DIR",
    "BentoBuildError",
    "BentoResource",
    "BuiltBento",
    "ModelVersionRef",
    "aliased_versions",
    "bento_dir",
    "bento_exists",
    "bento_tag_for",
    "bentofile_pins",
    "bentoml_env",
    "bentoml_model_tag",
    "check_runtime_covers",
    "contract_description",
    "dir_size",
    "find_uv_dir",
    "latest_aliased_version",
    "load_registered_pipeline",
    "model_dir",
    "model_exists",
    "normalize_distribution",
    "package_model_version",
    "read_bentofile",
    "read_holdout",
    "referenced_modules",
    "run_manifest",
    "run_value",
    "serve_command",
    "service_digest",
    "stage_build_context",
    "stage_model_files",
    "tag_part",
]  # fmt: skip

# Tags written on the MLflow model version.
BENTO_TAG_KEY = "bento_tag"
BENTOML_MODEL_TAG_KEY = "bentoml_model_tag"


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
    output = run_step(
        command, bentoml_env(home), service_dir, timeout, f"bentoml build {bento_tag}"
    )
    reported = [
        line.split("__tag__:", 1)[1].strip() for line in output.splitlines() if "__tag__:" in line
    ]
    if reported != [bento_tag]:
        raise BentoBuildError(
            f"bentoml build reported {reported or 'no tag'}, expected {bento_tag}:\n"
            f"{output[-2000:]}"
        )
    return bento_tag


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
    model_tag = bentoml_model_tag(ref)
    facts = Deployable(ref, threshold, contract, Path(reference_profile), holdout)
    with tempfile.TemporaryDirectory(prefix="twelve-bento-context-") as scratch:
        # The bento is built from a staged copy: the service folder plus the platform it runs;
        # the tag follows all of it (a change to twelve.serving builds a new bento).
        context = stage_build_context(service_dir, Path(scratch) / "context")
        name = read_bentofile(service_dir)["name"]
        bento_tag = bento_tag_for(name, model_tag, service_digest(context))
        with _locked(home):
            imported = not model_exists(home, model_tag)
            if imported:  # each step only when its result is missing
                facts = with_holdout(facts, client, dvc)
                import_version(home, service_dir, client, tracking_uri, model_tag, facts, timeout)
            built = not bento_exists(home, bento_tag)
            if built:
                build_bento(home, context, bento_tag, model_tag, timeout)
    if not (imported or built):
        log.info("bento %s of %s exists: nothing imported or built", bento_tag, ref.model_uri)
    return _recorded(home, client, ref, model_tag, bento_tag, (imported, built), started)


def _recorded(
    home: Path, client, ref: ModelVersionRef, model_tag: str, bento_tag: str,
    done: tuple[bool, bool], started: float,
) -> BuiltBento:  # fmt: skip
    """The built bento, its tags recorded on the model version (what ``twelve serve`` reads)."""
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
        model_imported=done[0],
        bento_built=done[1],
        serve_command=serve_command(home, bento_tag),
        seconds=time.perf_counter() - started,
    )


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
