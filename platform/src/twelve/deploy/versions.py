"""A registered version into BentoML's model store: its facts, its holdout, its compiled form.

:func:`import_version` loads the version's fitted pipeline from MLflow, checks that the bento
installs everything it refers to, compiles it and checks the compiled form on the version's
holdout (:func:`twelve.deploy.staging.compile_checked`), stages the model's files and creates the
BentoML model in a subprocess (:mod:`twelve.deploy.bento_import`), with the metadata the service
reads.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twelve.deploy.image import (
    bentofile_pins,
    bentoml_env,
    check_runtime_covers,
    referenced_modules,
    run_step,
)
from twelve.deploy.registry import (
    ModelVersionRef,
    load_registered_pipeline,
    read_holdout,
    run_manifest,
)
from twelve.deploy.staging import compile_checked, no_default, stage_model_files

log = logging.getLogger(__name__)


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


def import_staged_model(
    home: Path, model_tag: str, staging: Path, metadata: Mapping[str, Any], timeout: float = 300
) -> None:
    """Create ``model_tag`` in BentoML's model store (under ``home``) from a staged folder."""
    (staging / "_metadata.json").write_text(json.dumps(dict(metadata), default=no_default))
    command = [sys.executable, "-m", "twelve.deploy.bento_import", str(staging), model_tag]
    run_step(command, bentoml_env(home), staging, timeout, f"import of BentoML model {model_tag}")


def with_holdout(facts: Deployable, client, dvc: Any) -> Deployable:
    """``facts`` with its holdout: the one given, else the version's own (by md5)."""
    if facts.holdout is not None:
        return facts
    if dvc is None:
        from twelve.data.versioning import DvcResource

        dvc = DvcResource()
    holdout, md5 = read_holdout(client, facts.ref, dvc)
    return Deployable(facts.ref, facts.threshold, facts.contract, facts.reference_profile,
                      holdout, md5)  # fmt: skip


def import_version(
    home: Path,
    service_dir: Path,
    client,
    tracking_uri: str,
    model_tag: str,
    facts: Deployable,
    timeout: float,
) -> None:
    """Compile a registered model version, check it, and import it into the BentoML store.

    The pipeline is loaded from MLflow, compiled and checked against the holdout
    (:func:`compile_checked`), staged with its contract and reference profile, then imported
    as ``model_tag`` (in a subprocess, :func:`import_staged_model`).
    """
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
