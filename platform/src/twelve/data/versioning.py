"""Data versioning with DVC (factor 1): every raw file is added to DVC and pushed to a remote.

The DVC md5 of a file is its version everywhere in twelve: the Dagster data version of the asset
that wrote it, the value stamped in a model's run manifest, and the key to read it back later.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import yaml
from filelock import FileLock
from pydantic import Field

from twelve.core import paths

log = logging.getLogger(__name__)


class DataVersionNotFound(FileNotFoundError):
    """A data version (md5) is in neither the DVC cache nor the remote."""


def _md5_path(root: Path, md5: str) -> Path:
    # DVC 3 stores content under files/md5/<first two hex>/<rest>, in the cache and in remotes.
    return root / "files" / "md5" / md5[:2] / md5[2:]


def read_dvc_pointer(pointer: Path) -> str:
    """Return the md5 recorded in a ``.dvc`` pointer file.

    Args:
        pointer: path of the ``.dvc`` file.

    Returns:
        The md5 of the single output it tracks.
    """
    spec = yaml.safe_load(pointer.read_text())
    outs = spec.get("outs") or []
    if len(outs) != 1 or "md5" not in outs[0]:
        raise ValueError(f"{pointer} does not track exactly one file with an md5")
    return str(outs[0]["md5"])


class DvcResource(dg.ConfigurableResource):
    """A DVC repository with a remote: track files, read any past version back by its md5.

    The local default keeps the remote in a folder under ``TWELVE_HOME``; the production profile
    points ``remote_url`` at an S3-compatible bucket.
    """

    repo_dir: str = Field(
        default="",
        description=(
            "Root of the DVC repository; empty means the nearest folder above TWELVE_DATA_DIR "
            "that holds .dvc or .git (the checkout, by default), else TWELVE_DATA_DIR itself."
        ),
    )
    remote_url: str = Field(
        default="",
        description=(
            "DVC remote URL or folder; empty means $TWELVE_DVC_REMOTE, "
            "else <TWELVE_HOME>/dvc-remote."
        ),
    )
    remote_name: str = Field(default="local", description="Name of the DVC remote to push to.")

    # ------------------------------------------------------------------ setup
    def _root(self) -> Path:
        if self.repo_dir:
            return Path(self.repo_dir)
        data = paths.data_dir()
        for folder in (data, *data.parents):
            if (folder / ".dvc").is_dir() or (folder / ".git").exists():
                return folder
        return data

    def _remote(self) -> str:
        return (
            self.remote_url
            or os.environ.get("TWELVE_DVC_REMOTE")
            or str(paths.state_dir() / "dvc-remote")
        )

    def _remote_config(self) -> dict[str, str]:
        config = {"url": self._remote()}
        endpoint = os.environ.get("TWELVE_S3_ENDPOINT_URL")
        if endpoint and config["url"].startswith("s3://"):
            # An S3-compatible store (MinIO, moto) rather than AWS itself (twelve.core.profile).
            config["endpointurl"] = endpoint
        return config

    def _lock(self) -> FileLock:
        # DVC takes its own repo lock and fails instead of waiting when another process holds it;
        # serialize our own writers so parallel asset steps queue up instead of failing.
        return FileLock(str(paths.state_dir() / "dvc.lock"), timeout=600)

    @contextlib.contextmanager
    def _repo(self) -> Iterator:
        os.environ.setdefault("DVC_NO_ANALYTICS", "1")
        from dvc.repo import Repo  # heavy: import only when DVC is used

        root = self._root()
        if not (root / ".dvc").is_dir():
            no_scm = not (root / ".git").exists()
            log.info("initialising DVC in %s (no_scm=%s)", root, no_scm)
            Repo.init(str(root), no_scm=no_scm)
        repo = Repo(str(root))
        # The pointers are ours to commit; DVC's "to track the changes with git, run" is noise.
        repo.scm_context.quiet = True
        try:
            with repo.config.edit("local") as conf:
                conf.setdefault("core", {})["remote"] = self.remote_name
                conf["core"]["analytics"] = False
                conf["core"]["check_update"] = False
                conf.setdefault("remote", {})[self.remote_name] = self._remote_config()
            yield repo
        finally:
            repo.close()

    # ------------------------------------------------------------------ API
    def track(self, path: str | Path) -> str:
        """``dvc add`` a file and push it to the remote.

        Args:
            path: the file, inside ``repo_dir``.

        Returns:
            The file's DVC md5 (its data version).
        """
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"cannot version {path}: no such file")
        with self._lock(), self._repo() as repo:
            repo.add(str(path))
            repo.push(targets=[str(path)], remote=self.remote_name)
        md5 = read_dvc_pointer(path.with_name(path.name + ".dvc"))
        log.info("versioned %s as md5 %s", path, md5)
        return md5

    def ensure_stored(self, path: str | Path) -> str:
        """Make sure the file's current content is a data version held by the cache and the remote.

        ``dvc add`` is skipped by callers when a committed pointer already holds the file's md5
        (a fresh clone re-making the same training set); the content is then in neither the cache
        nor the remote, and nothing could restore it by its md5. This checks both places by md5
        and adds or pushes only what is missing.

        Args:
            path: a file inside the repository.

        Returns:
            The file's md5 (its data version).

        Raises:
            FileNotFoundError: the file does not exist.
        """
        from twelve.core.files import file_md5

        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"cannot version {path}: no such file")
        md5 = file_md5(path)
        if self.version_of(path) != md5:
            return self.track(path)
        in_cache, in_remote = self.stored(md5)
        if in_cache and in_remote:
            return md5
        with self._lock(), self._repo() as repo:
            if not in_cache:
                repo.add(str(path))
            repo.push(targets=[str(path)], remote=self.remote_name)
        log.info("stored %s (md5 %s) in the DVC cache and remote", path, md5)
        return md5

    def ensure_folder_stored(self, folder: str | Path) -> dict[str, str]:
        """:meth:`ensure_stored` for every DVC-tracked file under ``folder`` (e.g. the raw data).

        Returns:
            Path relative to ``folder`` -> md5, for every pointer found.

        Raises:
            DataVersionNotFound: a pointer's file is gone and its version is stored nowhere
                (named), so a model made from it could never be reproduced.
        """
        folder = Path(folder)
        versions = {}
        for pointer in sorted(folder.rglob("*.dvc")) if folder.is_dir() else []:
            data = pointer.with_name(pointer.name.removesuffix(".dvc"))
            relative = data.relative_to(folder).as_posix()
            if data.is_file():
                versions[relative] = self.ensure_stored(data)
                continue
            md5 = read_dvc_pointer(pointer)
            if not any(self.stored(md5)):
                raise DataVersionNotFound(
                    f"{data} is gone and its data version {md5} is in neither the DVC cache nor "
                    f"the remote {self._remote()}: re-materialize the asset that writes it"
                )
            versions[relative] = md5
        return versions

    def stored(self, md5: str) -> tuple[bool, bool]:
        """Whether the DVC cache and the configured remote hold the data version ``md5``."""
        in_cache = _md5_path(self._root() / ".dvc" / "cache", md5).is_file()
        with self._repo() as repo:
            remote = repo.cloud.get_remote(self.remote_name)
            in_remote = bool(
                remote.fs.exists(remote.fs.join(remote.path, "files", "md5", md5[:2], md5[2:]))
            )
        return in_cache, in_remote

    def tracked_path(self, path: str | Path) -> str:
        """How DVC names a file: its path relative to the DVC repository (absolute outside it)."""
        root, resolved = self._root().resolve(), Path(path).resolve()
        return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(path)

    def version_of(self, path: str | Path) -> str | None:
        """Return the md5 recorded for a tracked file, or None when it is not tracked."""
        pointer = Path(path).resolve()
        pointer = pointer.with_name(pointer.name + ".dvc")
        return read_dvc_pointer(pointer) if pointer.exists() else None

    def read_version(self, md5: str) -> bytes:
        """Read back the content of any version by its md5, from the cache or else the remote.

        Args:
            md5: a DVC md5 as recorded in a ``.dvc`` file, a Dagster data version or a manifest.

        Returns:
            The file's bytes.

        Raises:
            DataVersionNotFound: neither the cache nor the remote holds that version.
        """
        cached = _md5_path(self._root() / ".dvc" / "cache", md5)
        if cached.is_file():
            return cached.read_bytes()
        with self._repo() as repo:
            # The remote's own filesystem: a folder, or S3 in the production profile.
            remote = repo.cloud.get_remote(self.remote_name)
            path = remote.fs.join(remote.path, "files", "md5", md5[:2], md5[2:])
            if remote.fs.exists(path):
                return remote.fs.cat_file(path)
        raise DataVersionNotFound(
            f"data version {md5} is in neither the DVC cache nor the remote {self._remote()}; "
            "was it pushed (`dvc push`) from the machine that made it?"
        )
