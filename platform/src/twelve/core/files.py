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


def write_parquet(frame: pd.DataFrame, path: Path, compression: str = "zstd") -> Path:
    """Write a frame as parquet atomically (a crash never leaves a half-written file).

    The bytes depend only on the data and the compression, so unchanged data keeps its md5 (its
    data version) from one run to the next.

    Args:
        frame: the data (its index is not written).
        path: the destination; its folder is created.
        compression: the parquet codec.

    Returns:
        The destination path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False, compression=compression)
    tmp.replace(path)
    return path
