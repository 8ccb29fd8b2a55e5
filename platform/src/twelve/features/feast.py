"""Feast for the platform: one resource that applies, materializes and serves the feature repo.

Why a resource instead of ``feast apply`` in ``feature_repo/``: the repo's ``feature_store.yaml``
and ``FileSource`` paths are relative to the repo and describe the default layout (``<repo>/data``,
``<repo>/.twelve``), which keeps the feast CLI usable there as it is. The platform must follow
``TWELVE_DATA_DIR`` / ``TWELVE_HOME`` instead (tests, other machines), so :class:`FeastResource`

- reads the repo's yaml but points the file registry and the SQLite online store into the state
  directory (:func:`build_repo_config`),
- imports the repo's definition modules itself, honouring ``.feastignore``, without ``chdir`` and
  without leaving them in ``sys.modules`` (:func:`load_repo_contents`),
- rebinds every source under ``<repo>/../data`` onto the data directory before registering it
  (:func:`rebind_file_sources`), so the registry records where the data really is.

Historical retrieval: Feast 0.67's ``file`` offline store joins each entity row with *every*
source row of the same key before filtering by time (memory grows as entity rows x rows per key:
5,000 flights took 141 s and 11 GB here, a year cannot run), and it loses entity rows: rows
sharing join keys and timestamp collapse into one (feast-dev/feast#6787), and a row whose key has
source rows, none within the TTL, disappears instead of getting nulls (40 % of those 5,000
flights were lost; projects/flight_delays/tests/test_point_in_time.py shows both). So for the
local ``file`` store the resource runs Feast's point-in-time semantics itself
(:func:`point_in_time_join`: ``pandas.merge_asof`` driven by the registered feature service,
latest row with ``entity_ts - ttl <= feature_ts <= entity_ts`` per join key; a year in about
1 s), which a test checks against Feast's own join. ``offline_join="feast"`` delegates to the
configured offline store (for warehouse stores in production) and fails loudly if a row is lost.

Nothing is created at import: Feast itself is imported and the store built on first use.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from twelve.core import paths

if TYPE_CHECKING:
    from feast import FeatureStore, RepoConfig
    from feast.repo_contents import RepoContents

logger = logging.getLogger(__name__)

DEFAULT_REPO_DIR = "feature_repo"
ENTITY_TIMESTAMP = "event_timestamp"
_ROW = "__twelve_row"
_FEATURE_TS = "__twelve_feature_ts"


# ----------------------------------------------------------------------------- repo loading


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
    sources.update({id(v.batch_source): v.batch_source for v in contents.feature_views})
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


# ----------------------------------------------------------------------------- point in time


@dataclass(frozen=True)
class ViewSpec:
    """What a point-in-time join needs to know about one feature view."""

    name: str
    path: str
    join_keys: tuple[str, ...]
    timestamp_field: str
    ttl: timedelta | None
    features: tuple[str, ...]


def _to_utc_ns(values: pd.Series, what: str) -> pd.Series:
    if not (
        pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.DatetimeTZDtype)
    ):
        raise ValueError(f"{what} must be timestamps, found dtype {values.dtype}")
    # Feast treats naive timestamps as UTC; merge_asof needs one resolution on both sides.
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def read_view_source(view: ViewSpec) -> pd.DataFrame:
    """Read a view's parquet file: join keys, timestamp and features, sorted by time.

    Raises:
        ValueError: Missing columns, or two rows for the same key and timestamp (ambiguous).
    """
    import pyarrow.parquet as pq

    wanted = [*view.join_keys, view.timestamp_field, *view.features]
    present = set(pq.read_schema(view.path).names)
    missing = [column for column in wanted if column not in present]
    if missing:
        raise ValueError(
            f"feature view '{view.name}': {view.path} lacks column(s) "
            + ", ".join(f"'{c}'" for c in missing)
        )
    frame = pd.read_parquet(view.path, columns=wanted)
    frame[view.timestamp_field] = _to_utc_ns(
        frame[view.timestamp_field], f"{view.name}.{view.timestamp_field}"
    )
    frame = frame.dropna(subset=[view.timestamp_field])
    duplicated = frame.duplicated([*view.join_keys, view.timestamp_field], keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, [*view.join_keys, view.timestamp_field]].head(3)
        raise ValueError(
            f"feature view '{view.name}': {int(duplicated.sum())} rows of {view.path} share join "
            f"keys and timestamp, so the value as of that time is ambiguous, e.g.\n{example}"
        )
    return frame.rename(columns={view.timestamp_field: _FEATURE_TS}).sort_values(
        _FEATURE_TS, kind="stable"
    )


def point_in_time_join(
    entity_df: pd.DataFrame,
    views: Sequence[ViewSpec],
    *,
    timestamp_column: str = ENTITY_TIMESTAMP,
) -> pd.DataFrame:
    """Add each view's features as of every entity row's timestamp (Feast's semantics).

    For each view and entity row: the source row with the same join keys and the latest
    ``feature_ts <= entity_ts``, used only if ``feature_ts >= entity_ts - ttl`` (a zero or missing
    ttl never expires); otherwise the features are null. One output row per entity row, in the
    entity frame's order.

    Args:
        entity_df: Entity keys, the timestamp column, and any other columns to carry along.
        views: The views to join, in output column order.
        timestamp_column: The entity timestamp column.

    Returns:
        ``entity_df`` (timestamp normalized to UTC) plus the features.
    """
    if timestamp_column not in entity_df:
        raise ValueError(f"entity frame lacks the timestamp column '{timestamp_column}'")
    if entity_df[timestamp_column].isna().any():
        raise ValueError(f"entity frame has null '{timestamp_column}' values")
    result = entity_df.copy()
    result[timestamp_column] = _to_utc_ns(result[timestamp_column], f"entity '{timestamp_column}'")
    result[_ROW] = range(len(result))
    result = result.sort_values(timestamp_column, kind="stable")
    for view in views:
        missing_keys = [key for key in view.join_keys if key not in result]
        if missing_keys:
            raise ValueError(
                f"entity frame lacks join key(s) {missing_keys} of feature view '{view.name}'"
            )
        clashes = [name for name in view.features if name in result]
        if clashes:
            raise ValueError(
                f"feature(s) {clashes} of view '{view.name}' collide with entity frame columns"
            )
        source = read_view_source(view)
        ttl = view.ttl if view.ttl and view.ttl.total_seconds() > 0 else None
        result = pd.merge_asof(
            result,
            source,
            left_on=timestamp_column,
            right_on=_FEATURE_TS,
            by=list(view.join_keys) or None,
            direction="backward",
            allow_exact_matches=True,
            tolerance=pd.Timedelta(ttl) if ttl is not None else None,
        ).drop(columns=[_FEATURE_TS])
    return result.sort_values(_ROW).drop(columns=[_ROW]).reset_index(drop=True)


# ----------------------------------------------------------------------------- resource


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class FeastResource(dg.ConfigurableResource):
    """The Feast feature store of a twelve deployment (registry, online store, retrieval)."""

    repo_path: str | None = Field(
        default=None, description="Feature repo folder; default <repo>/feature_repo."
    )
    feature_store_yaml: str = Field(
        default="feature_store.yaml",
        description="The environment's yaml inside the repo (one per environment).",
    )
    data_dir: str | None = Field(
        default=None,
        description="Data root the sources are rebound onto; default TWELVE_DATA_DIR.",
    )
    state_dir: str | None = Field(
        default=None,
        description="Where the file registry and SQLite online store live; default TWELVE_HOME.",
    )
    offline_join: str = Field(
        default="asof",
        description="'asof': the platform's point-in-time join over the registered file sources "
        "(the local file store cannot do a full year); 'feast': the configured offline store.",
    )

    _store: Any = PrivateAttr(default=None)

    # -- locations

    def resolved_repo_path(self) -> Path:
        """The feature repo folder."""
        return Path(self.repo_path or paths.REPO_ROOT / DEFAULT_REPO_DIR).resolve()

    def resolved_data_dir(self) -> Path:
        """The data root the sources are rebound onto."""
        return Path(self.data_dir).resolve() if self.data_dir else paths.data_dir()

    def resolved_state_dir(self) -> Path:
        """Where the registry and online store files live."""
        return Path(self.state_dir).resolve() if self.state_dir else paths.state_dir()

    def feature_store(self) -> FeatureStore:
        """The Feast ``FeatureStore``, built on first use."""
        if self._store is None:
            from feast import FeatureStore

            repo = self.resolved_repo_path()
            config = build_repo_config(repo, self.feature_store_yaml, self.resolved_state_dir())
            self._store = FeatureStore(repo_path=str(repo), config=config)
        return self._store

    # -- registry

    def apply(self) -> dict[str, Any]:
        """Register every object of the repo (and delete registered ones it no longer has).

        Returns:
            A summary: project, registry and online store locations, object names, source paths,
            deleted objects and the time taken.
        """
        from feast import Project
        from feast.feature_view import DUMMY_ENTITY_NAME
        from feast.repo_operations import extract_objects_for_apply_delete

        started = time.perf_counter()
        repo = self.resolved_repo_path()
        store = self.feature_store()
        contents = load_repo_contents(repo)
        sources = rebind_file_sources(contents, repo, self.resolved_data_dir())
        check_source_files(contents)
        if not contents.projects:
            contents.projects.append(Project(name=store.project, description=""))
        to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
            store.project, store.registry, contents
        )
        # Feast registers a placeholder entity for entity-less views itself: never delete it.
        to_delete = [obj for obj in to_delete if obj.name != DUMMY_ENTITY_NAME]
        store.apply(to_apply, objects_to_delete=to_delete, partial=False)
        summary = {
            "project": store.project,
            "registry": str(store.config.registry.path),
            "online_store": str(getattr(store.config.online_store, "path", "")),
            "entities": sorted(e.name for e in contents.entities),
            "feature_views": sorted(v.name for v in contents.feature_views),
            "feature_services": sorted(s.name for s in contents.feature_services),
            "sources": sources,
            "deleted": sorted(f"{type(o).__name__}:{o.name}" for o in to_delete),
            "seconds": round(time.perf_counter() - started, 2),
        }
        logger.info("feast apply: %s", summary)
        return summary

    def view_specs(self, feature_service: str) -> list[ViewSpec]:
        """The registered views (source path, keys, ttl, features) a feature service reads."""
        from feast import FileSource

        store = self.feature_store()
        service = store.get_feature_service(feature_service)
        specs = []
        for projection in service.feature_view_projections:
            view = store.get_feature_view(projection.name)
            source = view.batch_source
            if not isinstance(source, FileSource):
                raise ValueError(
                    f"feature view '{view.name}' reads a {type(source).__name__}: the 'asof' "
                    "join reads parquet files only; use offline_join='feast'"
                )
            if source.created_timestamp_column or source.field_mapping or projection.join_key_map:
                raise ValueError(
                    f"feature view '{view.name}' uses created timestamps, field or join key "
                    "mappings, which the 'asof' join does not implement; use offline_join='feast'"
                )
            specs.append(
                ViewSpec(
                    name=view.name,
                    path=FileSource.get_uri_for_file_path(
                        store.config.repo_path, source.file_options.uri
                    ),
                    join_keys=tuple(view.join_keys),
                    timestamp_field=source.timestamp_field,
                    ttl=view.ttl,
                    features=tuple(feature.name for feature in projection.features),
                )
            )
        return specs

    def data_time_range(self, feature_service: str | None = None) -> tuple[datetime, datetime]:
        """Earliest and latest source timestamps of the registered views (for materialization).

        Args:
            feature_service: Only the views this service reads; all registered views when None.
        """
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        from feast import FileSource

        store = self.feature_store()
        if feature_service is None:
            views = store.list_feature_views()
        else:
            names = [spec.name for spec in self.view_specs(feature_service)]
            views = [store.get_feature_view(name) for name in names]
        if not views:
            raise ValueError("no feature views are registered: run apply() first")
        lows, highs = [], []
        for view in views:
            source = view.batch_source
            path = FileSource.get_uri_for_file_path(store.config.repo_path, source.file_options.uri)
            column = pq.read_table(path, columns=[source.timestamp_field]).column(0)
            bounds = pc.min_max(column)
            if bounds["min"].as_py() is None:
                raise ValueError(f"feature view '{view.name}': {path} has no timestamps")
            lows.append(_utc(pd.Timestamp(bounds["min"].as_py())))
            highs.append(_utc(pd.Timestamp(bounds["max"].as_py())))
        return min(lows).to_pydatetime(), max(highs).to_pydatetime()

    # -- online

    def materialize(
        self, start: datetime, end: datetime, feature_views: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Load the latest values of ``[start, end]`` into the online store.

        An explicit range because ``materialize-incremental`` on a fresh registry starts at now
        minus the ttl, which loads nothing for historical data.

        Returns:
            The range, the views and the time taken.
        """
        if end <= start:
            raise ValueError(f"materialize: end {end} is not after start {start}")
        started = time.perf_counter()
        store = self.feature_store()
        views = list(feature_views) if feature_views else None
        store.materialize(start_date=start, end_date=end, feature_views=views)
        names = views or sorted(v.name for v in store.list_feature_views())
        summary = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "feature_views": names,
            "seconds": round(time.perf_counter() - started, 2),
        }
        logger.info("feast materialize: %s", summary)
        return summary

    def online_features(
        self, entity_rows: Sequence[dict[str, Any]], feature_service: str
    ) -> dict[str, list[Any]]:
        """Latest feature values for entity rows, from the online store.

        Args:
            entity_rows: One dict of join keys per row, e.g. ``{"origin": "JFK", ...}``.
            feature_service: The feature service name (e.g. ``flight_delay_v1``).

        Returns:
            Column name -> values, the join keys included.
        """
        store = self.feature_store()
        service = store.get_feature_service(feature_service)
        return store.get_online_features(features=service, entity_rows=list(entity_rows)).to_dict()

    # -- offline

    def historical_features(self, entity_df: pd.DataFrame, feature_service: str) -> pd.DataFrame:
        """Point-in-time correct features for every entity row.

        Args:
            entity_df: Join keys, ``event_timestamp`` and any columns to carry along (labels...).
            feature_service: The feature service name.

        Returns:
            One row per entity row, in order: ``entity_df`` plus the service's features.

        Raises:
            RuntimeError: The offline store returned a different number of rows.
        """
        started = time.perf_counter()
        if self.offline_join == "asof":
            result = point_in_time_join(entity_df, self.view_specs(feature_service))
        elif self.offline_join == "feast":
            store = self.feature_store()
            service = store.get_feature_service(feature_service)
            result = store.get_historical_features(entity_df=entity_df, features=service).to_df()
        else:
            raise ValueError(f"offline_join must be 'asof' or 'feast', got {self.offline_join!r}")
        if len(result) != len(entity_df):
            # Feast 0.67's file store drops entity rows (feast-dev/feast#6787 and stale-only
            # matches): a smaller training set must never pass silently.
            raise RuntimeError(
                f"historical retrieval returned {len(result)} rows for {len(entity_df)} entity rows"
            )
        logger.info(
            "historical features (%s): %d rows in %.1f s",
            self.offline_join,
            len(result),
            time.perf_counter() - started,
        )
        return result
