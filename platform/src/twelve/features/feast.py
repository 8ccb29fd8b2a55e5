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

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from twelve.core import paths
from twelve.features.feast_repo import (
    build_repo_config,
    check_source_files,
    load_repo_contents,
    rebind_file_sources,
)
from twelve.features.point_in_time import ViewSpec, point_in_time_join

if TYPE_CHECKING:
    from feast import FeatureStore

logger = logging.getLogger(__name__)

DEFAULT_REPO_DIR = "feature_repo"


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
            if not isinstance(source, FileSource):
                raise ValueError(f"feature view {view.name!r} does not read a file source")
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
