"""What a bento is built from: the model's files, and the service folder with the platform in it.

- :func:`compile_checked`: the registered pipeline compiled (``twelve.deploy.compiled``) and
  checked against itself on the whole versioned holdout; a bento whose compiled model strays
  (a probability off by more than 1e-5, or one label that differs) is refused here;
- :func:`stage_model_files`: the BentoML model's folder: the pipeline (the reference), its
  compiled form (what is served), the contract and the training set's reference profile;
- :func:`stage_build_context`: the service folder, a copy of the ``twelve`` package (the bento
  does not install it) and the serving config resolved for the deployment profile.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twelve.core import paths
from twelve.deploy.errors import BentoBuildError
from twelve.serving.model import (
    COMPILED_FILE,
    CONTRACT_FILE,
    PIPELINE_FILE,
    REFERENCE_PROFILE_DIR,
)

PARITY_TOLERANCE = 1e-5  # largest difference of a probability (or value) the bento accepts
# Never part of a bento's copy of the platform: caches, and the project template (not code the
# service runs; its Python is not even importable before cookiecutter renders it).
_IGNORED = ("__pycache__", ".pytest_cache", ".ipynb_checkpoints", "*.pyc")


def compile_checked(
    pipeline: Any, holdout: Any, threshold: float | None, tolerance: float = PARITY_TOLERANCE
) -> tuple[bytes, dict[str, Any]]:
    """The pipeline compiled, and its parity with the pipeline on every holdout row.

    Args:
        pipeline: the fitted pipeline of the registered version.
        holdout: the rows it was evaluated on (a data frame holding its input columns).
        threshold: the decision threshold (labels must agree at it); None for a regressor.
        tolerance: the largest absolute difference accepted.

    Returns:
        The ONNX bytes, and the parity as JSON-ready metadata.

    Raises:
        BentoBuildError: the pipeline cannot be compiled, or its compiled form differs.
    """
    from twelve.deploy.compiled.build import compile_pipeline
    from twelve.deploy.compiled.model import CompiledModel
    from twelve.deploy.compiled.parity import ParityError, require_parity

    columns = [str(c) for c in getattr(pipeline, "feature_names_in_", [])]
    missing = [c for c in columns if c not in holdout.columns]
    if not columns or missing or holdout.empty:
        raise BentoBuildError(
            f"parity cannot be checked: the holdout ({len(holdout)} rows) lacks the model's "
            f"column(s) {missing or columns or 'names'}"
        )
    rows = holdout[columns].reset_index(drop=True)
    try:
        data = compile_pipeline(pipeline, rows)
        compiled = CompiledModel.from_bytes(data)
        parity = require_parity(pipeline, compiled, rows, 0.5 if threshold is None else threshold,
                                tolerance)  # fmt: skip
    except ParityError as error:
        raise BentoBuildError(f"refusing to build the bento: {error}") from error
    except (TypeError, ValueError, KeyError, NotImplementedError) as error:
        raise BentoBuildError(f"the model pipeline cannot be compiled: {error}") from error
    return data, {
        "rows": parity.rows,
        "max_abs_diff": parity.max_abs_diff,
        "label_mismatches": parity.label_mismatches,
        "tolerance": tolerance,
    }


def no_default(value: Any) -> Any:
    """``json.dumps``' ``default``: refuse, naming the value that is not JSON-serializable."""
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serializable")


def stage_model_files(
    staging: Path,
    pipeline: Any,
    contract: Mapping[str, Any],
    reference_profile: Path,
    compiled: bytes | None = None,
) -> dict[str, Any]:
    """Write what goes into the BentoML model: pipeline, compiled model, contract, profile.

    Args:
        staging: an empty folder.
        pipeline: the fitted model (joblib-dumped: the reference).
        contract: the feature contract's JSON description.
        reference_profile: the training set's whylogs profile file; its JSON sidecar
            (same name, ``.json``) is copied too when present.
        compiled: the compiled model (:func:`compile_checked`), what the service answers with.

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
            contract, sort_keys=True, separators=(",", ":"), default=no_default
        )
    except TypeError as error:
        raise BentoBuildError(f"the feature contract is not JSON-serializable: {error}") from error
    staging.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, staging / PIPELINE_FILE)
    if compiled is not None:
        (staging / COMPILED_FILE).write_bytes(compiled)
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


def copy_platform(target: Path) -> Path:
    """Copy the ``twelve`` package to ``target`` (caches and the project template left out)."""
    import twelve

    source = Path(twelve.__file__).parent
    template = source / "scaffold" / "template"

    def ignored(folder: str, names: list[str]) -> set[str]:
        left_out = set(shutil.ignore_patterns(*_IGNORED)(folder, names))
        if Path(folder) == template.parent:
            left_out.add(template.name)
        return left_out

    shutil.copytree(source, target, ignore=ignored)
    return target


def stage_build_context(service_dir: Path, target: Path, state_dir: Path | None = None) -> Path:
    """Copy a service folder into ``target`` with the platform and its resolved serving config.

    Added to the copy: the ``twelve`` package (:func:`copy_platform`; the bento does not install
    the platform, whose Dagster and dbt dependencies do not belong in a serving image), and, when
    the folder has a ``serving.yaml``, ``serving_config.json``: the feature store location for
    ``state_dir`` (default ``TWELVE_HOME``) under the active profile (``TWELVE_PROFILE``: the
    production one reads the SQL registry and Redis), the feature service and the monitoring
    and batching settings.

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
    from twelve.serving import config as serving

    service_dir, target = Path(service_dir), Path(target)
    shutil.copytree(
        service_dir, target, ignore=shutil.ignore_patterns(*_IGNORED, serving.SERVING_CONFIG_FILE)
    )
    if (target / "twelve").exists():
        raise BentoBuildError(f"{service_dir} has its own 'twelve' folder: it would be replaced")
    copy_platform(target / "twelve")
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
