"""The run manifest: everything needed to say exactly what a model was made from (factors 1, 7).

A manifest names the code (git commit, and whether the tree had uncommitted changes), the data
(the DVC md5 of every raw input, the training-set and holdout hashes), the features (the Feast
feature service and its version), the configuration (a stable hash, and the values), the
dependencies (the ``uv.lock`` hash) and the Dagster run that made it. It is logged to MLflow both
as ``twelve.``-prefixed tags (searchable) and as ``manifest.json`` (complete).

``build_manifest`` and ``manifest_tags`` are pure; the small ``*_of`` helpers read the facts from
files and git.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twelve.core.config import config_hash
from twelve.data.versioning import read_dvc_pointer

MANIFEST_VERSION = 1
TAG_PREFIX = "twelve."
# Scalar entries that become one tag each (the nested ones are expanded or left to the JSON).
_SCALAR_KEYS = (
    "manifest_version",
    "git_commit",
    "git_dirty",
    "training_set_md5",
    "holdout_md5",
    "feature_service",
    "feature_service_version",
    "config_hash",
    "uv_lock_sha256",
    "dagster_run_id",
)
REQUIRED_KEYS = (*_SCALAR_KEYS, "raw_inputs", "config")


@dataclass(frozen=True)
class GitState:
    """The code version: the checked-out commit and whether the work tree differs from it."""

    commit: str
    dirty: bool


def _git(repo_dir: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo_dir), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as error:
        raise RuntimeError("git is not installed: the code version cannot be recorded") from error
    if done.returncode != 0:
        raise RuntimeError(
            f"`git {' '.join(args)}` failed in {repo_dir}: {done.stderr.strip() or done.stdout}"
        )
    return done.stdout


def git_state_of(repo_dir: str | Path) -> GitState:
    """The commit checked out in ``repo_dir`` and whether there are uncommitted changes.

    Untracked files count as changes (new code that is not committed); git-ignored files such as
    data and run state do not, nor do DVC's own files for new data versions (a ``.dvc`` pointer
    and the ``.gitignore`` DVC writes beside it): the manifest records every data version by its
    md5 itself, and a reproduction restores them from there, not from the pointers.

    Args:
        repo_dir: a folder inside a git work tree.

    Returns:
        The ``GitState``.

    Raises:
        RuntimeError: not a git repository, or no commit yet (a model must name its code).
    """
    repo_dir = Path(repo_dir)
    commit = _git(repo_dir, "rev-parse", "--verify", "HEAD").strip()
    status = _git(repo_dir, "status", "--porcelain", "--untracked-files=all")
    return GitState(commit=commit, dirty=bool(code_changes(status)))


def code_changes(porcelain: str) -> list[str]:
    """The changed paths of ``git status --porcelain`` output, data aside.

    Untracked files under ``data/`` (a new project's derived tables) and DVC's pointer and
    ``.gitignore`` files are data, recorded by md5 in the manifest; everything else is code.
    """
    changed = []
    for line in porcelain.splitlines():
        path = line[3:].strip().strip('"')
        untracked = line.startswith("??")
        if untracked and (
            path.startswith("data/") or path.endswith(".dvc") or path.endswith("/.gitignore")
        ):
            continue  # data and its pointers: versioned by md5 in the manifest, not by git
        if line.strip():
            changed.append(path)
    return changed


def raw_input_versions(raw_dir: str | Path) -> dict[str, str]:
    """The DVC md5 of every raw file, from the ``.dvc`` pointers under ``raw_dir``.

    Args:
        raw_dir: the raw data folder (``$TWELVE_DATA_DIR/raw``).

    Returns:
        Path relative to ``raw_dir`` (posix, e.g. ``flights/2013-01.parquet``) -> md5, sorted.

    Raises:
        FileNotFoundError: no DVC-tracked file under ``raw_dir`` (a model with no recorded input
            data would be unreproducible).
    """
    raw_dir = Path(raw_dir)
    pointers = sorted(raw_dir.rglob("*.dvc")) if raw_dir.is_dir() else []
    if not pointers:
        raise FileNotFoundError(
            f"no DVC-tracked raw input under {raw_dir}: materialize the raw assets first"
        )
    return {
        pointer.relative_to(raw_dir).as_posix().removesuffix(".dvc"): read_dvc_pointer(pointer)
        for pointer in pointers
    }


def feature_service_version(name: str) -> str:
    """The version in a feature service's name (``flight_delay_v1`` -> ``1``).

    Raises:
        ValueError: the name does not end in ``_v<number>`` (our naming rule for services).
    """
    match = re.fullmatch(r"[A-Za-z0-9_]+_v(\d+)", name)
    if not match:
        raise ValueError(f"feature service '{name}' does not end in _v<number>")
    return match.group(1)


def build_manifest(
    *,
    git: GitState,
    raw_inputs: Mapping[str, str],
    training_set_md5: str,
    holdout_md5: str,
    feature_service: str,
    config: Mapping[str, Any],
    uv_lock_sha256: str,
    dagster_run_id: str,
) -> dict[str, Any]:
    """Assemble the run manifest (pure).

    Args:
        git: the code version.
        raw_inputs: raw file -> DVC md5.
        training_set_md5: md5 of the training-set file.
        holdout_md5: DVC md5 of the holdout file.
        feature_service: the Feast feature service the training set was retrieved with.
        config: the run's training configuration (its hash is recorded, and the values).
        uv_lock_sha256: SHA-256 of ``uv.lock``.
        dagster_run_id: id of the Dagster run that trained the model.

    Returns:
        The manifest, JSON-serializable, with every key of ``REQUIRED_KEYS``.

    Raises:
        ValueError: an empty identifier (a manifest with a hole is not a manifest).
    """
    identifiers = {
        "git_commit": git.commit,
        "training_set_md5": training_set_md5,
        "holdout_md5": holdout_md5,
        "uv_lock_sha256": uv_lock_sha256,
        "dagster_run_id": dagster_run_id,
    }
    empty = sorted(name for name, value in identifiers.items() if not value)
    if empty:
        raise ValueError(f"run manifest: empty {empty}")
    if not raw_inputs:
        raise ValueError("run manifest: no raw inputs")
    return {
        "manifest_version": MANIFEST_VERSION,
        "git_commit": git.commit,
        "git_dirty": git.dirty,
        "raw_inputs": dict(sorted(raw_inputs.items())),
        "training_set_md5": training_set_md5,
        "holdout_md5": holdout_md5,
        "feature_service": feature_service,
        "feature_service_version": feature_service_version(feature_service),
        "config_hash": config_hash(dict(config)),
        "config": dict(config),
        "uv_lock_sha256": uv_lock_sha256,
        "dagster_run_id": dagster_run_id,
    }


def _tag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def manifest_tags(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The manifest as flat MLflow tags, every key prefixed with ``twelve.``.

    Scalars become ``twelve.<key>``; each raw input becomes ``twelve.raw.<path>``. The
    configuration values are not tags (they are the run's params; ``twelve.config_hash`` names
    them).

    Args:
        manifest: a manifest from ``build_manifest``.

    Returns:
        Tag name -> string value.

    Raises:
        KeyError: a required manifest key is missing (named in the message).
    """
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise KeyError(f"run manifest lacks {missing}")
    tags = {f"{TAG_PREFIX}{key}": _tag_value(manifest[key]) for key in _SCALAR_KEYS}
    for path, md5 in manifest["raw_inputs"].items():
        tags[f"{TAG_PREFIX}raw.{path}"] = str(md5)
    return tags
