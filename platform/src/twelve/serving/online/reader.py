"""Features by entity key from Feast's online store, read without Feast on the request path.

:meth:`DirectOnlineFeatures.load` uses Feast once (the registry, the views of the feature
service, its connection to the store); :meth:`~DirectOnlineFeatures.fetch` encodes the keys,
reads SQLite or Redis and decodes the values. Nothing heavy at import: Feast and redis are
imported by ``load``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twelve.serving.config import ServingConfigError
from twelve.serving.online.decoders import make_decoder
from twelve.serving.online.keys import make_key_encoder, redis_field
from twelve.serving.online.plan import OnlineLookup, StoreReader, ViewPlan
from twelve.serving.online.redis_store import RedisReader
from twelve.serving.online.sqlite_store import SqliteReader

log = logging.getLogger(__name__)

ENTITY_KEY_SERIALIZATION_VERSION = 3  # the only layout read here (Feast deprecates < 3)
# Decoded records kept per view (SQLite): a bound on memory, far above a day's distinct keys.
MAX_CACHED_KEYS = 200_000


class DirectOnlineFeatures(StoreReader):
    """Features by entity key from Feast's online store, read without Feast on the request path.

    The same interface and answers as :class:`twelve.serving.OnlineFeatures` (the tests compare
    them on every entity of a real store): :meth:`load` reads the feature service from the
    registry once and opens the store; :meth:`fetch` encodes the keys, reads SQLite (one query
    per view) or Redis (one pipeline) and decodes the values.

    What :meth:`load` read is kept until the next :meth:`load`: a feature service re-applied
    with other features needs a reload (a new bento, in practice: its model reads the old ones).
    """

    def __init__(self, feature_store: Mapping[str, Any], feature_service: str) -> None:
        super().__init__(feature_store, feature_service)
        self._plans: tuple[ViewPlan, ...] = ()
        self._reader: SqliteReader | RedisReader | None = None
        self._local = threading.local()  # decoded records, per thread (as its connection)

    @property
    def loaded(self) -> bool:
        """Whether :meth:`load` succeeded."""
        return self._reader is not None

    def load(self) -> None:
        """Read the feature service from the registry and open the online store (fails loudly).

        Raises:
            ServingConfigError: the registry or online store is missing or unreachable, the
                feature service is not registered, or it uses something this reader does not
                read the way Feast does (an on-demand view, pre-computed vectors, a disabled view,
                an entity type other than string or integer, another online store type).
        """
        from feast import FeatureStore, RepoConfig

        self.check_local_files()
        config = RepoConfig(**self.feature_store_config)
        version = config.entity_key_serialization_version
        if version != ENTITY_KEY_SERIALIZATION_VERSION:
            raise ServingConfigError(
                f"entity_key_serialization_version is {version}: the direct reader reads "
                f"version {ENTITY_KEY_SERIALIZATION_VERSION} keys only"
            )
        store_type = config.online_store.type
        if store_type not in ("sqlite", "redis"):
            raise ServingConfigError(
                f"online store type {store_type!r}: the direct reader reads sqlite and redis"
            )
        registry = FeatureStore(config=config).registry
        views = _service_views(registry, config.project, self.feature_service_name)
        plans = tuple(_plan(view, config, store_type) for view in views)
        for view, plan in zip(views, plans, strict=True):
            _check_key_encoding(view, plan, config, store_type)
        reader = _open_reader(config)
        reader.check(plans)

        join_keys: list[str] = []
        features: dict[str, str] = {}
        for plan in plans:
            join_keys += [key for key in plan.keys if key not in join_keys]
            for name in plan.features:
                if name in features:
                    raise ServingConfigError(
                        f"feature {name!r} is read from both {features[name]!r} and "
                        f"{plan.name!r} in feature service {self.feature_service_name!r}"
                    )
                features[name] = plan.name
        if self._reader is not None:
            self._reader.close()
        self._plans, self._reader = plans, reader
        self.join_keys, self.feature_names = join_keys, list(features)
        log.info(
            "direct online reads of feature service %s from %s: views %s",
            self.feature_service_name,
            store_type,
            ", ".join(plan.name for plan in plans),
        )

    def fetch(self, entity_rows: Sequence[Mapping[str, Any]]) -> OnlineLookup:
        """Latest feature values of each entity row.

        A key the store has no record of gives null features (what the point-in-time join gives
        a training row in the same case) and is named in ``unknown`` for that row.

        Args:
            entity_rows: one mapping of join keys per row (other keys are ignored).

        Returns:
            Feature name -> values (join keys left out), and the unknown keys per row.

        Raises:
            ServingConfigError: :meth:`load` has not succeeded.
            KeyError: a row lacks a join key of the service (the message names it).
            ValueError: a join key's value has the wrong type or is null.
        """
        reader = self._reader
        if reader is None:
            raise ServingConfigError("the online feature store is not loaded")
        rows = entity_rows if isinstance(entity_rows, list) else list(entity_rows)
        keys_of_rows = [
            [plan.encode_key(row, number) for number, row in enumerate(rows)]
            for plan in self._plans
        ]
        records = self._records(reader, keys_of_rows)
        features: dict[str, list[Any]] = {}
        unknown: list[set[str]] = [set() for _ in rows]
        for plan, row_keys, by_key in zip(self._plans, keys_of_rows, records, strict=True):
            picked = [by_key[key] for key in row_keys]
            if rows:
                columns = zip(*(values for _, values in picked), strict=True)
                features.update(zip(plan.features, map(list, columns), strict=True))
            else:
                features.update({name: [] for name in plan.features})
            for number, (known, _) in enumerate(picked):
                if not known:
                    unknown[number].update(plan.keys)
        return OnlineLookup(features, [sorted(keys) for keys in unknown])

    def _records(self, reader: Any, keys_of_rows: list[list[bytes]]) -> list[dict[bytes, Any]]:
        """Per view: entity key -> (known, decoded values), read once per distinct key.

        SQLite: decoded records are kept while the store is unchanged (``PRAGMA data_version``
        moves with every write of another connection, a materialization included), so a key
        read again costs a dictionary lookup; any write clears them. Redis has no such counter:
        every key is read every time.
        """
        version = reader.version()
        cache: tuple[int | None, list[dict[bytes, Any]]] | None = getattr(
            self._local, "cache", None
        )
        if version is None or cache is None or cache[0] != version:
            cache = (version, [{} for _ in self._plans])
            if version is not None:
                self._local.cache = cache
        kept = cache[1]
        requests = [
            (plan, [key for key in dict.fromkeys(row_keys) if key not in known])
            for plan, row_keys, known in zip(self._plans, keys_of_rows, kept, strict=True)
        ]
        if any(keys for _, keys in requests):
            found = reader.read(requests)
            for (plan, keys), records, known in zip(requests, found, kept, strict=True):
                if len(known) + len(keys) > MAX_CACHED_KEYS:
                    known.clear()
                known.update(_decoded(plan, keys, records))
        return kept

    def close(self) -> None:
        """Close the online store connections (a later :meth:`load` opens new ones)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._local = threading.local()


def _decoded(plan: ViewPlan, keys: list[bytes], records: Mapping[bytes, Any]):
    """(key, (known, values)) of each key: the values decoded, nulls for a key not stored."""
    decoders = plan.decoders
    nulls = (None,) * len(decoders)
    for key in keys:
        record = records.get(key)
        if record is None:
            yield key, (False, nulls)
            continue
        known, blobs = record
        # Redis replies end with the `_ts` field: zip stops at the last feature.
        pairs = zip(decoders, blobs, strict=False)
        yield key, (known, tuple(decode(blob) for decode, blob in pairs))


# --------------------------------------------------------------------------- load helpers
def _service_views(registry: Any, project: str, service_name: str) -> list[Any]:
    """The feature views of a feature service, each with the service's projection applied.

    Mirrors how Feast resolves a service for an online read (``utils._get_feature_views_to_use``).

    Raises:
        ServingConfigError: the service is missing or uses what the direct reader cannot match.
    """
    import copy

    from feast.feature_view import FeatureViewState
    from feast.on_demand_feature_view import OnDemandFeatureView

    try:
        service = registry.get_feature_service(service_name, project)
    except Exception as error:  # Feast raises its own not-found error type
        raise ServingConfigError(
            f"feature service {service_name!r} is not registered in project {project!r}: {error}"
        ) from error
    if getattr(service, "precompute_online", False):
        raise ServingConfigError(
            f"feature service {service_name!r} has precompute_online=True: Feast reads its "
            "pre-computed vectors (with a TTL check) instead of the views; not read directly"
        )
    servable = {FeatureViewState.STATE_UNSPECIFIED, FeatureViewState.AVAILABLE_ONLINE}
    views = []
    for projection in service.feature_view_projections:
        if getattr(projection, "version_tag", None) is not None:
            raise ServingConfigError(
                f"feature service {service_name!r} pins a version of view {projection.name!r}: "
                "versioned views are not read directly"
            )
        view = registry.get_any_feature_view(projection.name, project)
        if isinstance(view, OnDemandFeatureView):
            raise ServingConfigError(
                f"view {projection.name!r} of feature service {service_name!r} is on demand: "
                "its features are computed by Feast, not read from the online store"
            )
        if not getattr(view, "enabled", True):
            raise ServingConfigError(f"feature view {projection.name!r} is disabled")
        state = getattr(view, "state", None)
        if isinstance(state, FeatureViewState) and state not in servable:
            raise ServingConfigError(
                f"feature view {projection.name!r} is in state {state.name}: Feast serves only "
                "AVAILABLE_ONLINE views"
            )
        views.append(view.with_projection(copy.copy(projection)))
    return views


def _plan(view: Any, config: Any, store_type: str) -> ViewPlan:
    """The read plan of one (projected) feature view."""
    from feast.infra.online_stores.helpers import compute_table_id, compute_versioned_name

    versioning = config.registry.enable_online_feature_view_versioning
    stored_name = compute_versioned_name(view, versioning)
    join_key_map = view.projection.join_key_map
    key_specs = [
        (join_key_map.get(column.name, column.name), column.name, column.dtype.to_value_type().name)
        for column in view.entity_columns
    ]
    types = {f.name: f.dtype.to_value_type().name for f in view.features}
    features = tuple(f.name for f in view.projection.features)
    suffix = config.project.encode("utf-8") if store_type == "redis" else b""
    return ViewPlan(
        name=stored_name,
        keys=tuple(request for request, _, _ in key_specs),
        features=features,
        decoders=tuple(make_decoder(types[name]) for name in features),
        encode_key=make_key_encoder(key_specs, suffix),
        table=compute_table_id(config.project, view, versioning),
        fields=(
            (*(redis_field(stored_name, name) for name in features), f"_ts:{stored_name}".encode())
            if store_type == "redis"
            else ()
        ),
    )


def _sample_value(value_type_name: str) -> Any:
    return "K-1 é" if value_type_name == "STRING" else -12345


def _check_key_encoding(view: Any, plan: ViewPlan, config: Any, store_type: str) -> None:
    """Compare this reader's key of a sample row with Feast's own serialization (once, at load).

    Raises:
        ServingConfigError: the two differ (a Feast upgrade moved the layout): every lookup
            would miss, so refuse to start instead of serving nulls.
    """
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.type_map import python_values_to_proto_values

    row, names, values = {}, [], []
    for column in view.entity_columns:
        request = view.projection.join_key_map.get(column.name, column.name)
        value_type = column.dtype.to_value_type()
        row[request] = "K-1 é" if value_type.name == "STRING" else -12345
        names.append(column.name)
        values.append(python_values_to_proto_values([row[request]], value_type)[0])
    expected = serialize_entity_key(
        EntityKey(join_keys=names, entity_values=values),
        entity_key_serialization_version=config.entity_key_serialization_version,
    )
    if store_type == "redis":
        expected += config.project.encode("utf-8")  # helpers._redis_key
    encoded = plan.encode_key(row, 0)
    if encoded != expected:
        raise ServingConfigError(
            f"the entity key of view {plan.name!r} encoded here differs from Feast's "
            f"serialize_entity_key ({encoded!r} != {expected!r})"
        )


def _open_reader(config: Any) -> SqliteReader | RedisReader:
    """The reader of the configured online store, connected the way Feast connects."""
    if config.online_store.type == "sqlite":
        # SqliteOnlineStore._get_db_path: a relative path is relative to the repo.
        path = Path(config.online_store.path)
        if config.repo_path and not path.is_absolute():
            path = Path(config.repo_path) / path
        return SqliteReader(path)
    from feast.infra.online_stores.redis import RedisOnlineStore

    # Feast's own client construction (connection string with ssl, password, db; cluster;
    # sentinel); from here on only the redis-py client is used.
    return RedisReader(RedisOnlineStore()._get_client(config.online_store))
