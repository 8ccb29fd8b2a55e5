"""All or nothing for ``twelve new``: what a step created or changed, and how to put it back."""

from __future__ import annotations

import shutil
from pathlib import Path


class Journal:
    """What a step of ``twelve new`` created or changed, so that a failure can put it all back.

    ``twelve new`` is all or nothing: folders it creates are removed, and files it changes
    (``infra/workspace.yaml``, ``feature_repo/.feastignore``, ``uv.lock``) get their exact
    bytes back (or are removed when they did not exist), whatever step failed.
    """

    def __init__(self) -> None:
        self._originals: dict[Path, bytes | None] = {}
        self._created: list[Path] = []

    def will_change(self, path: Path) -> None:
        """Remember ``path``'s content (or its absence) before it is first written."""
        if path in self._originals or (path.exists() and not path.is_file()):
            return  # a folder in a file's place: writing it fails, and there is nothing to undo
        self._originals[path] = path.read_bytes() if path.is_file() else None

    def make_dirs(self, folder: Path) -> None:
        """``mkdir -p`` that remembers the folders it created."""
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self._created += reversed(missing)

    def created(self, path: Path) -> None:
        """Remember a file or folder this step created."""
        self._created.append(path)

    def rollback(self) -> list[Path]:
        """Remove what was created, restore what was changed; returns the paths put back."""
        touched = []
        for path in reversed(self._created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
            touched.append(path)
        for path, content in self._originals.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
            touched.append(path)
        return touched


class ScaffoldStepError(RuntimeError):
    """A step of ``twelve new`` failed after inputs were valid; everything was put back.

    Attributes:
        step: what was being done ("rendering", "dbt parse", "uv lock", ...).
        hint: what the user can do about it.
    """

    def __init__(self, step: str, cause: BaseException, hint: str) -> None:
        self.step, self.hint = step, hint
        super().__init__(f"{step} failed: {cause}")
