"""Loading a Feast repository the way ``feast apply`` does, but following the platform's paths.

The repo's ``feature_store.yaml`` and ``FileSource`` paths are relative to the repo and describe the
default layout (``<repo>/../data``, ``<repo>/../.twelve``), which keeps the feast CLI usable there
as it is. The platform must follow ``TWELVE_DATA_DIR`` / ``TWELVE_HOME`` instead, so:

- :func:`build_repo_config` reads the repo's yaml but points the file registry and the SQLite
  online store into the state directory;
- :func:`load_repo_contents` imports the repo's definition modules itself, honouring
  ``.feastignore``, without ``chdir`` and without leaving them in ``sys.modules``;
- :func:`rebind_file_sources` points every source under ``<repo>/../data`` at the data directory,
  so the registry records where the data really is; :func:`check_source_files` fails early,
  naming file and columns, when a feature table lacks a column a view declares.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feast import RepoConfig
    from feast.repo_contents import RepoContents


def _module_name(repo_path: Path, file: Path) -> str:
    return ".".join(file.resolve().relative_to(repo_path.resolve()).with_suffix("").parts)


def load_repo_contents(repo_path: Path) -> RepoContents:
    """Import a feature repo's definition modules and collect its Feast objects.

    Same rules as ``feast apply`` (every ``.py`` file except ``__init__.py`` and what
    ``.feastignore`` lists; objects collected by identity, so imports do not duplicate them), but
    without ``chdir``: the repo folder is put on ``sys.path`` only while importing, and its modules
    are removed from ``sys.modules`` afterwards so the next call sees fresh definitions.

    Args:
        repo_path: The feature repo folder.

    Returns:
        The repo's objects as a Feast ``RepoContents``.
    """
    from feast.repo_operations import get_repo_files

    repo_path = Path(repo_path).resolve()
    if not (repo_path / "feature_store.yaml").is_file():
        raise FileNotFoundError(f"not a feature repo (no feature_store.yaml): {repo_path}")
    names = [_module_name(repo_path, file) for file in get_repo_files(repo_path)]
    roots = {name.split(".")[0] for name in names}

    def repo_module_keys() -> list[str]:
        return [key for key in sys.modules if key.split(".")[0] in roots]

    shadowed = {key: sys.modules.pop(key) for key in repo_module_keys()}
    sys.path.insert(0, str(repo_path))
    # Like Feast: no __pycache__ inside the repo (Feast would not import it, but it is clutter).
    write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    importlib.invalidate_caches()
    try:
        modules = [importlib.import_module(name) for name in names]
        return _collect_objects(modules)
    finally:
        sys.dont_write_bytecode = write_bytecode
        sys.path.remove(str(repo_path))
        for key in repo_module_keys():
            del sys.modules[key]
        sys.modules.update(shadowed)


def _collect_objects(modules: Sequence[Any]) -> RepoContents:
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, Project
    from feast.data_source import DataSource
    from feast.repo_contents import RepoContents
    from feast.stream_feature_view import StreamFeatureView

    found: dict[str, list[Any]] = {
        "projects": [],
        "data_sources": [],
        "entities": [],
        "feature_views": [],
        "on_demand_feature_views": [],
        "feature_services": [],
    }
    kinds = [
        (Project, "projects"),
        (DataSource, "data_sources"),
        (Entity, "entities"),
        (OnDemandFeatureView, "on_demand_feature_views"),
        (FeatureView, "feature_views"),
        (FeatureService, "feature_services"),
    ]
    for module in modules:
        for attr in dir(module):
            obj = getattr(module, attr)
            if isinstance(obj, StreamFeatureView):
                # Stream views need a push/stream source this platform does not run locally.
                raise ValueError(
                    f"{module.__name__}.{attr}: stream feature views are not supported by "
                    "twelve.features.feast (use the feast CLI)"
                )
            for kind, key in kinds:
                if isinstance(obj, kind) and not any(obj is seen for seen in found[key]):
                    found[key].append(obj)
                    break
    for view in found["feature_views"]:
        source = view.batch_source
        if source is not None and not any(source is seen for seen in found["data_sources"]):
            found["data_sources"].append(source)
    return RepoContents(stream_feature_views=[], label_views=[], permissions=[], **found)


def rebind_file_sources(contents: RepoContents, repo_path: Path, data_dir: Path) -> dict[str, str]:
    """Point every file source under ``<repo_path>/../data`` at the same file under ``data_dir``.

    Sources elsewhere (absolute paths outside that root, remote URIs) are left as they are.

    Args:
        contents: Objects loaded by :func:`load_repo_contents` (modified in place).
        repo_path: The feature repo folder (relative source paths resolve against it).
        data_dir: The data root to use instead of ``<repo_path>/../data``.

    Returns:
        Source name -> the absolute path it now reads.
    """
    from feast import FileSource

    default_root = (Path(repo_path) / ".." / "data").resolve()
    sources = {id(s): s for s in contents.data_sources}
    sources.update(
        {
            id(v.batch_source): v.batch_source
            for v in contents.feature_views
            if v.batch_source is not None
        }
    )
    rebound: dict[str, str] = {}
    for source in sources.values():
        if not isinstance(source, FileSource):
            continue
        uri = FileSource.get_uri_for_file_path(repo_path, source.file_options.uri)
        if "://" in uri:
            continue
        resolved = Path(uri).resolve()
        if resolved.is_relative_to(default_root):
            resolved = Path(data_dir).resolve() / resolved.relative_to(default_root)
        source.file_options.uri = str(resolved)
        rebound[source.name] = str(resolved)
    return rebound


def check_source_files(contents: RepoContents) -> None:
    """Fail early, naming file and columns, when a view's parquet file lacks what it declares.

    An upstream rename in a dbt model otherwise surfaces much later as an empty feature.

    Raises:
        FileNotFoundError: A source file does not exist.
        ValueError: Listing every view whose file misses a join key, the timestamp or a feature.
    """
    import pyarrow.parquet as pq
    from feast import FileSource

    problems = []
    for view in contents.feature_views:
        source = view.batch_source
        if not isinstance(source, FileSource) or "://" in source.file_options.uri:
            continue
        path = Path(source.file_options.uri)
        if not path.exists():
            raise FileNotFoundError(
                f"feature view '{view.name}': source file {path} does not exist "
                "(has the dbt model that writes it run?)"
            )
        present = set(pq.read_schema(path).names)
        wanted = [*view.join_keys, source.timestamp_field, *(f.name for f in view.features)]
        missing = [column for column in wanted if column not in present]
        if missing:
            problems.append(
                f"feature view '{view.name}': {path.name} lacks column(s) "
                + ", ".join(f"'{c}'" for c in missing)
            )
    if problems:
        raise ValueError("feature sources do not match their views:\n  " + "\n  ".join(problems))


def build_repo_config(repo_path: Path, yaml_file: str, state_dir: Path) -> RepoConfig:
    """Read the repo's yaml, then move a file registry and a SQLite online store to ``state_dir``.

    Other registry or online store types (SQL, Redis, ...) are taken from the yaml as they are.

    Args:
        repo_path: The feature repo folder.
        yaml_file: The yaml to read, relative to ``repo_path`` (one per environment).
        state_dir: Where the registry and online store files go.

    Returns:
        The Feast ``RepoConfig``.
    """
    import yaml
    from feast import RepoConfig

    config_path = Path(repo_path) / yaml_file
    # Same expansion as Feast's own loader, so ${VARS} in a production yaml keep working.
    from twelve.serving.runtime import relocate_feature_store

    raw = yaml.safe_load(os.path.expandvars(config_path.read_text()))
    raw = relocate_feature_store(raw, state_dir)
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    config = RepoConfig(**raw)
    config.repo_path = Path(repo_path)
    return config
