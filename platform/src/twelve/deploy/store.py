"""BentoML's stores as a bento build sees them: tags, where models and bentos live, sizes.

A model's tag names its registered version and run (``<name>:v<version>-<run id[:12]>``); a
bento's adds a digest of its build context, so the same model with the same code is built once.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path

from twelve.deploy.errors import BentoBuildError
from twelve.deploy.registry import ModelVersionRef

# BentoML tag parts: lowercase letters, digits, '-', '_', '.', at most 63 characters.
_TAG_PART = re.compile(r"^[a-z0-9]([-._a-z0-9]{0,61}[a-z0-9])?$")
_IGNORED_IN_DIGEST = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def tag_part(text: str) -> str:
    """``text`` as a BentoML tag name or version: lowercase, invalid characters -> ``-``.

    Raises:
        ValueError: nothing usable is left, or the result is longer than 63 characters.
    """
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    if not _TAG_PART.match(cleaned):
        raise ValueError(
            f"{text!r} cannot be a BentoML tag part (lowercase letters, digits, '-', '_', '.', "
            f"1-63 characters; got {cleaned!r})"
        )
    return cleaned


def bentoml_model_tag(ref: ModelVersionRef) -> str:
    """The BentoML model tag of a registered version: ``<name>:v<version>-<run id[:12]>``.

    The run id keeps tags unique when a registry is recreated and numbers versions from 1 again.
    """
    if not ref.run_id:
        raise ValueError(f"model version {ref.model_uri} has no run id")
    return f"{tag_part(ref.registered_model)}:{tag_part(f'v{ref.version}-{ref.run_id[:12]}')}"


def service_digest(service_dir: Path) -> str:
    """sha256 of the service folder's files (relative paths and bytes), caches ignored.

    Raises:
        BentoBuildError: the folder has no ``bentofile.yaml``.
    """
    service_dir = Path(service_dir)
    if not (service_dir / "bentofile.yaml").is_file():
        raise BentoBuildError(f"{service_dir} has no bentofile.yaml: not a bento service folder")
    digest = hashlib.sha256()
    for file in sorted(service_dir.rglob("*")):
        relative = file.relative_to(service_dir)
        if not file.is_file() or _IGNORED_IN_DIGEST & set(relative.parts):
            continue
        if file.suffix == ".pyc":
            continue
        digest.update(relative.as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def bento_tag_for(bento_name: str, model_tag: str, digest: str) -> str:
    """``<bento name>:<model version part>-<service digest[:8]>``."""
    model_version = model_tag.split(":", 1)[1]
    return f"{tag_part(bento_name)}:{tag_part(f'{model_version}-{digest[:8]}')}"


def model_dir(home: Path, model_tag: str) -> Path:
    """Where BentoML stores a model: ``<home>/models/<name>/<version>``."""
    name, version = model_tag.split(":", 1)
    return Path(home) / "models" / name / version


def bento_dir(home: Path, bento_tag: str) -> Path:
    """Where BentoML stores a bento: ``<home>/bentos/<name>/<version>``."""
    name, version = bento_tag.split(":", 1)
    return Path(home) / "bentos" / name / version


def model_exists(home: Path, model_tag: str) -> bool:
    """Whether the BentoML model store holds ``model_tag``."""
    return (model_dir(home, model_tag) / "model.yaml").is_file()


def bento_exists(home: Path, bento_tag: str) -> bool:
    """Whether the bento store holds ``bento_tag``."""
    return (bento_dir(home, bento_tag) / "bento.yaml").is_file()


def dir_size(path: Path) -> int:
    """Total bytes of the regular files under ``path``."""
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file())


def serve_command(home: Path, bento_tag: str, port: int = 3001) -> str:
    """The shell command that serves a bento from ``home`` on 127.0.0.1."""
    return (
        f"BENTOML_HOME={shlex.quote(str(home))} bentoml serve {bento_tag} "
        f"--host 127.0.0.1 --port {port}"
    )
