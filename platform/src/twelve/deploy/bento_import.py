"""Create a BentoML model from a staged folder.

Usage: ``python -m twelve.deploy.bento_import STAGING TAG``.

Run by :func:`twelve.deploy.bento.import_staged_model` in a subprocess whose ``BENTOML_HOME`` is
set:
BentoML fixes its home once per process, so the caller's process can target any home. The staged
folder holds the model files and ``_metadata.json`` (the model's metadata); everything else in it
is copied into the model. Only BentoML's public API is used; the model is saved only when the
copy succeeded (``bentoml.models.create`` discards it on an exception).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

METADATA_FILE = "_metadata.json"


def import_model(staging: Path, tag: str) -> str:
    """Create model ``tag`` from ``staging`` and return its tag."""
    import bentoml

    from twelve.serving.model import file_digests

    metadata = json.loads((staging / METADATA_FILE).read_text())
    # Recorded now, verified by the service before it unpickles anything (a tampered model file
    # is refused at load).
    metadata["file_sha256"] = file_digests(staging, skip=(METADATA_FILE,))
    labels = {
        key: str(metadata[key]) for key in ("registered_model", "model_version") if key in metadata
    }
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as model:
        target = Path(model.path)
        for item in sorted(staging.iterdir()):
            if item.name == METADATA_FILE:
                continue
            if item.is_dir():
                shutil.copytree(item, target / item.name)
            else:
                shutil.copy2(item, target / item.name)
    return str(model.tag)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``STAGING TAG``; writes the created tag on stdout."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m twelve.deploy.bento_import STAGING_DIR NAME:VERSION\n")
        return 2
    staging = Path(args[0])
    if not (staging / METADATA_FILE).is_file():
        sys.stderr.write(f"{staging} has no {METADATA_FILE}: not a staged model folder\n")
        return 2
    sys.stdout.write(f"{import_model(staging, args[1])}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
