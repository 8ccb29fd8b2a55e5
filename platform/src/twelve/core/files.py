"""Files as data versions: their hashes (the DVC md5 is the version) and atomic parquet writes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

CHUNK = 1 << 20


def _digest(path: str | Path, hasher) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cannot hash {path}: no such file")
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def file_md5(path: str | Path) -> str:
    """md5 of a file's bytes: the value DVC 3 records for a single file, i.e. its data version."""
    return _digest(path, hashlib.md5(usedforsecurity=False))


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (e.g. of ``uv.lock``)."""
    return _digest(path, hashlib.sha256())


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame as parquet atomically (a crash never leaves a half-written file).

    Args:
        frame: the data (its index is not written).
        path: the destination; its folder is created.

    Returns:
        The destination path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(path)
    return path
