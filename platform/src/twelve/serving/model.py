"""The served model: the compiled pipeline a bento answers with, refused if anything was tampered.

A BentoML model packaged by :mod:`twelve.deploy.bento` holds the fitted scikit-learn pipeline
(``pipeline.joblib``, the reference), its compiled form (``model.onnx``, checked against it on the
whole holdout when the bento was built), the feature contract (``contract.json``) and the training
set's reference profile, with the sha256 of every file in its metadata. :meth:`ServedModel.load`
checks every digest before anything is read, then loads the compiled form only: the pipeline is
never unpickled in a serving process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Files inside a BentoML model packaged by twelve.deploy.bento (it imports these names).
PIPELINE_FILE = "pipeline.joblib"
COMPILED_FILE = "model.onnx"
CONTRACT_FILE = "contract.json"
REFERENCE_PROFILE_DIR = "reference_profile"


class TamperedModelError(RuntimeError):
    """A model file does not match the digest recorded when it was packaged."""


def file_digests(folder: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative POSIX path -> hex digest).

    Args:
        folder: the model folder.
        skip: relative paths to leave out (the metadata BentoML writes itself).

    Returns:
        The digests, sorted by path.
    """
    skipped = set(skip)
    digests = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative in skipped:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[relative] = digest.hexdigest()
    return digests


def verify_digests(folder: Path, recorded: Mapping[str, str] | None) -> None:
    """Refuse a model whose files differ from the digests recorded at packaging.

    Called before anything is loaded: a tampered file must never be read.

    Raises:
        TamperedModelError: digests are missing, or a recorded file is missing or changed
            (the message names each file, the recorded and the found digest).
    """
    if not recorded:
        raise TamperedModelError(
            f"{folder}: no file digests recorded; repackage it with twelve.deploy.bento "
            "(refusing to load)"
        )
    found = file_digests(folder)
    problems = [
        f"{name}: recorded sha256 {digest[:12]}, found "
        f"{found[name][:12] if name in found else 'no file'}"
        for name, digest in sorted(recorded.items())
        if found.get(name) != digest
    ]
    if problems:
        raise TamperedModelError(
            f"model files in {folder} do not match their recorded digests, refusing to load: "
            + "; ".join(problems)
        )


@dataclass
class ServedModel:
    """A compiled model and the facts of its registered version.

    Attributes:
        compiled: the compiled pipeline (``twelve.deploy.compiled.model.CompiledModel``).
        contract: the feature contract's JSON description.
        model_version: the MLflow registered model version.
        registered_model: the MLflow registered model.
        threshold: the decision threshold of a classifier; None for a regressor.
        model_tag: the BentoML model tag.
        metadata: the BentoML model's metadata (reference profile, manifest...).
    """

    compiled: Any
    contract: dict[str, Any]
    model_version: str
    registered_model: str
    threshold: float | None
    model_tag: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse (``RuntimeError``) a model that does not fit its contract or threshold."""
        names = [column["name"] for column in self.contract["columns"]]
        outside = sorted(set(self.compiled.columns) - set(names))
        if outside:
            raise RuntimeError(f"the model reads columns its contract does not list: {outside}")
        self.positive = None
        if self.compiled.is_classifier:
            classes = [int(label) for label in self.compiled.classes]
            if sorted(classes) != [0, 1] or self.threshold is None:
                raise RuntimeError(
                    f"a served classifier answers 0/1 at a threshold: classes {classes}, "
                    f"threshold {self.threshold}"
                )
            self.positive = classes.index(1)

    @property
    def is_classifier(self) -> bool:
        """True for a classifier (probability and label), False for a regressor (a value)."""
        return self.positive is not None

    @classmethod
    def load(cls, bento_model: Any) -> ServedModel:
        """The served model of a BentoML model packaged by :mod:`twelve.deploy.bento`.

        Raises:
            TamperedModelError: a file differs from its recorded digest (nothing was loaded).
            RuntimeError: metadata or files are missing (packaged by something else).
        """
        from twelve.deploy.compiled.model import CompiledModel

        metadata = dict(bento_model.info.metadata)
        missing = [k for k in ("model_version", "registered_model") if k not in metadata]
        if missing:
            raise RuntimeError(
                f"BentoML model {bento_model.tag} lacks metadata {missing}: import it with "
                "twelve.deploy.bento.package_model_version"
            )
        folder = Path(bento_model.path)
        verify_digests(folder, metadata.get("file_sha256"))
        if not (folder / COMPILED_FILE).is_file():
            raise RuntimeError(f"BentoML model {bento_model.tag} has no {COMPILED_FILE}")
        threshold = metadata.get("threshold")
        return cls(
            compiled=CompiledModel.load(folder / COMPILED_FILE),
            contract=json.loads((folder / CONTRACT_FILE).read_text()),
            model_version=str(metadata["model_version"]),
            registered_model=str(metadata["registered_model"]),
            threshold=None if threshold is None else float(threshold),
            model_tag=str(bento_model.tag),
            metadata=metadata,
        )

    def outputs(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per row: the probability of label 1 (a classifier) or the predicted value."""
        if self.positive is None:
            return self.compiled.predict(columns)
        return self.compiled.predict_proba(columns)[:, self.positive]
