"""Online features read straight from Feast's online store, without the SDK on the request path.

Why: ``FeatureStore.get_online_features`` resolves the feature service, converts every entity
value to protobuf, groups and de-duplicates rows and builds a response proto on *every* call
(about 12 ms per ``/predict`` here, STACK-NOTES). The serving goal is 3 ms end to end, so
:class:`DirectOnlineFeatures` does that work once in :meth:`~DirectOnlineFeatures.load` and
keeps only the reads themselves on the request path: same registry, same keys, same values.

What it relies on in Feast 0.67 (``feast/infra/...``; the tests compare every demo entity with
the SDK's answer, and :meth:`~DirectOnlineFeatures.load` checks the key encoding against
Feast's own function, so a Feast upgrade that moves the layout fails loudly, never silently):

- **Entity keys** (``key_encoding_utils.serialize_entity_key``, version 3): ``<u32 count>``, then
  per join key sorted by name ``<u32 STRING=2><u32 len><utf-8 name>``, then per value
  ``<u32 type><u32 len><bytes>`` (strings utf-8, INT64 ``<q``, INT32 ``<i``).
- **SQLite** (``online_stores/sqlite.py``): one table per view named ``<project>_<view>``
  (``helpers.compute_table_id``), one row per (entity_key, feature_name) holding the serialized
  ``ValueProto``; ``online_read`` selects ``WHERE entity_key IN (...)``. A feature without a row
  is reported NOT_FOUND.
- **Redis** (``online_stores/redis.py``): one hash per entity, key = serialized entity key +
  project; fields ``_mmh3("<view>:<feature>")`` (murmur3 32-bit, 4 bytes little endian,
  ``helpers._mmh3``) hold the ``ValueProto`` and ``_ts:<view>`` the event ``Timestamp``. Feast
  reads them with one pipelined ``HMGET`` per entity; a key without ``_ts:<view>`` comes back
  with empty values and epoch 0.
- **Values** (``type_map.feast_value_type_to_python_type``): the set member of the ``val``
  oneof, ``None`` when none is set. The scalar members are decoded here from the wire format
  (a ``double_val`` is ``0x29`` + 8 bytes); any other shape goes through protobuf and Feast's
  own conversion, so the value is always Feast's.
- **TTL**: Feast 0.67 does not filter expired rows on the online read of a regular feature
  service (``OnlineStore._read_features_per_fv`` -> ``utils._populate_response_from_feature_data``
  has no TTL check; only the pre-computed vectors of a ``precompute_online`` service are
  checked against it). So no TTL rule here either, and a ``precompute_online`` service is
  refused at load rather than served differently.

Nothing heavy at import: Feast and redis are imported by :meth:`DirectOnlineFeatures.load`.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twelve.serving import OnlineLookup, ServingConfigError

log = logging.getLogger(__name__)

ENTITY_KEY_SERIALIZATION_VERSION = 3  # the only layout read here (Feast deprecates < 3)
# Feast's ValueType numbers as written into serialized entity keys (Value.proto).
_KEY_TYPE_STRING, _KEY_TYPE_INT32, _KEY_TYPE_INT64 = 2, 3, 4
# Bound parameters per SQLite statement: far below SQLite's limit, and a batch rarely exceeds it.
SQLITE_MAX_KEYS_PER_QUERY = 900

_U32 = struct.Struct("<I")
_U32_PAIR = struct.Struct("<II")
_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")
_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")

Decoder = Callable[[bytes | None], Any]
KeyEncoder = Callable[[Mapping[str, Any], int], bytes]


# --------------------------------------------------------------------------- entity keys
def _key_value_bytes(value_type_name: str, join_key: str) -> Callable[[Any, int], bytes]:
    """The function turning one join key's value into ``<u32 type><u32 len><bytes>``.

    Strings must be ``str``: Feast would stringify anything else (``5`` -> ``"5"``), but a
    caller sending a number as a tail number has a bug worth naming. ``None`` has no key (Feast
    fails on it too, with a less helpful ``TypeError``).

    Raises:
        ServingConfigError: the entity's value type is not one this reader encodes.
    """

    def refused(value: Any, row: int, expected: str) -> ValueError:
        kind = "null" if value is None else type(value).__name__
        return ValueError(
            f"entity row {row}: join key {join_key!r} is {kind} {value!r}, expected {expected}"
        )

    if value_type_name == "STRING":
        head = _U32.pack(_KEY_TYPE_STRING)

        def encode_string(value: Any, row: int) -> bytes:
            if not isinstance(value, str):
                raise refused(value, row, "a string")
            data = value.encode("utf-8")
            return head + _U32.pack(len(data)) + data

        return encode_string
    if value_type_name in ("INT64", "INT32"):
        packer, number = (
            (_I64, _KEY_TYPE_INT64) if value_type_name == "INT64" else (_I32, _KEY_TYPE_INT32)
        )
        head = _U32_PAIR.pack(number, packer.size)

        def encode_int(value: Any, row: int) -> bytes:
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise refused(value, row, "an integer")
            try:
                return head + packer.pack(value.__index__())
            except struct.error:
                raise refused(value, row, f"an integer within {value_type_name}") from None

        return encode_int
    raise ServingConfigError(
        f"join key {join_key!r} has value type {value_type_name}: the direct reader encodes "
        "STRING, INT32 and INT64 entity keys only"
    )


def make_key_encoder(join_keys: Sequence[tuple[str, str, str]], suffix: bytes = b"") -> KeyEncoder:
    """Feast's serialized entity key (version 3) of an entity row, as one function.

    Args:
        join_keys: per join key of the view: (name in the entity rows, name in the store, value
            type name such as ``"STRING"``). They differ when the service maps join keys.
        suffix: bytes appended to every key (Redis appends the project name).

    Returns:
        ``encode(row, row_number) -> bytes``; it raises ``KeyError`` naming a join key the row
        lacks and ``ValueError`` for a value of the wrong type (both name the row).
    """
    ordered = sorted(join_keys, key=lambda item: item[1])  # Feast sorts by the stored name
    header = _U32.pack(len(ordered)) + b"".join(
        _U32.pack(_KEY_TYPE_STRING) + _U32.pack(len(name.encode())) + name.encode()
        for _, name, _ in ordered
    )
    parts = [(request, _key_value_bytes(kind, request)) for request, _, kind in ordered]

    def missing(row: int, request: str) -> KeyError:
        return KeyError(f"entity row {row} has no join key {request!r}")

    if len(parts) == 1:  # the common case, without the loop
        ((request, encode),) = parts

        def encode_one(entity_row: Mapping[str, Any], row: int) -> bytes:
            try:
                value = entity_row[request]
            except KeyError:
                raise missing(row, request) from None
            return header + encode(value, row) + suffix

        return encode_one

    def encode_many(entity_row: Mapping[str, Any], row: int) -> bytes:
        out = [header]
        for request, encode in parts:
            try:
                value = entity_row[request]
            except KeyError:
                raise missing(row, request) from None
            out.append(encode(value, row))
        out.append(suffix)
        return b"".join(out)

    return encode_many


def redis_field(view_name: str, feature: str) -> bytes:
    """The Redis hash field of a feature: murmur3 (32-bit, unsigned) of ``view:feature``, LE.

    Feast's ``helpers._mmh3`` packs the hash as 8 bytes and keeps the first 4: the same bytes.
    """
    import mmh3

    return _U32.pack(mmh3.hash(f"{view_name}:{feature}", signed=False))


# --------------------------------------------------------------------------- values
def _varint(blob: bytes, start: int) -> tuple[int, int]:
    """A protobuf varint at ``blob[start:]``: (value as unsigned 64-bit, index after it)."""
    result, shift, index = 0, 0, start
    while True:
        byte = blob[index]
        result |= (byte & 0x7F) << shift
        index += 1
        if byte < 0x80:
            return result, index
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _signed64(value: int) -> int:
    """An unsigned 64-bit varint as int64 (two's complement), as protobuf reads ``int64``."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _signed32(value: int) -> int:
    """A varint as int32: protobuf keeps the low 32 bits (negatives arrive sign-extended)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def make_decoder(value_type_name: str) -> Decoder:
    """The decoder of a serialized ``ValueProto`` of one declared type, to Feast's Python value.

    The fast path reads the wire format of the one oneof member the type writes (tag byte, then
    the payload, and nothing else in the blob); anything else (another member, extra fields, a
    type without a fast path) is parsed by protobuf and converted by Feast's
    ``feast_value_type_to_python_type``, so the answer is Feast's in every case.

    Args:
        value_type_name: the feature's Feast ``ValueType`` name (``"DOUBLE"``, ``"STRING"``...).

    Returns:
        ``decode(blob) -> value``; an empty or missing blob is ``None`` (no member set).
    """
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import feast_value_type_to_python_type
    from feast.value_type import ValueType

    value_type = ValueType[value_type_name]
    parse = Value.FromString

    def slow(blob: bytes) -> Any:
        return feast_value_type_to_python_type(parse(blob), value_type)

    def fixed(tag: int, unpack: struct.Struct) -> Decoder:
        size = unpack.size + 1
        unpack_from = unpack.unpack_from

        def decode(blob: bytes | None) -> Any:
            if not blob:
                return None
            if blob[0] == tag and len(blob) == size:
                return unpack_from(blob, 1)[0]
            return slow(blob)

        return decode

    def varint(tag: int, convert: Callable[[int], Any]) -> Decoder:
        def decode(blob: bytes | None) -> Any:
            if not blob:
                return None
            if blob[0] == tag:
                if len(blob) == 2 and blob[1] < 0x80:
                    return convert(blob[1])
                value, end = _varint(blob, 1)
                if end == len(blob):
                    return convert(value)
            return slow(blob)

        return decode

    def text(blob: bytes | None) -> Any:
        if not blob:
            return None
        if blob[0] == 0x12:  # string_val: field 2, length-delimited
            size, start = (blob[1], 2) if len(blob) > 1 and blob[1] < 0x80 else _varint(blob, 1)
            if start + size == len(blob):
                return blob[start:].decode("utf-8")
        return slow(blob)

    def generic(blob: bytes | None) -> Any:
        return None if not blob else slow(blob)

    # Tag byte = field number << 3 | wire type (Value.proto's `val` oneof).
    if value_type_name == "DOUBLE":
        return fixed(0x29, _F64)  # double_val: field 5, 64-bit
    if value_type_name == "FLOAT":
        return fixed(0x35, _F32)  # float_val: field 6, 32-bit
    if value_type_name == "INT64":
        return varint(0x20, _signed64)  # int64_val: field 4, varint
    if value_type_name == "INT32":
        return varint(0x18, _signed32)  # int32_val: field 3, varint
    if value_type_name == "BOOL":
        return varint(0x38, bool)  # bool_val: field 7, varint
    if value_type_name == "STRING":
        return text
    return generic


# --------------------------------------------------------------------------- the plan
@dataclass
class ViewPlan:
    """Everything a request needs to read one feature view, worked out once at load.

    Attributes:
        name: the view's name in the online store (versioned when versioning is on).
        keys: the join keys as the entity rows name them.
        features: the requested features, in the feature service's order.
        decoders: one per feature.
        encode_key: entity row -> the key the store holds it under.
        table: the SQLite table (SQLite only).
        fields: the Redis hash fields of the features, then ``_ts:<view>`` (Redis only).
    """

    name: str
    keys: tuple[str, ...]
    features: tuple[str, ...]
    decoders: tuple[Decoder, ...]
    encode_key: KeyEncoder
    table: str = ""
    fields: tuple[bytes, ...] = ()
    positions: dict[str, int] = field(init=False, repr=False)
    _sql: dict[int, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.positions = {name: i for i, name in enumerate(self.features)}

    def select(self, count: int) -> str:
        """The statement reading ``count`` entity keys (one text per count, prepared once)."""
        sql = self._sql.get(count)
        if sql is None:
            quoted = '"' + self.table.replace('"', '""') + '"'
            sql = self._sql[count] = (
                f"SELECT entity_key, feature_name, value FROM {quoted} "
                f"WHERE entity_key IN ({','.join('?' * count)})"
            )
        return sql


# A record read for one entity key: whether the store knows the key, and one blob per feature.
Record = tuple[bool, Sequence[bytes | None]]


class SqliteReader:
    """Reads Feast's SQLite online store tables directly, one connection per thread.

    Read-only connections (a serving process never writes the store); one per thread because a
    SQLite connection serializes its statements, while several connections read in parallel.

    Args:
        path: the online store file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,
                cached_statements=256,
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def check(self, plans: Sequence[ViewPlan]) -> None:
        """Fail now, naming the table, when a view's table is not in the store.

        Raises:
            ServingConfigError: a table is missing (the feature repo was not applied here).
        """
        tables = {
            name
            for (name,) in self.connection().execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        for plan in plans:
            if plan.table not in tables:
                raise ServingConfigError(
                    f"the SQLite online store {self.path} has no table {plan.table!r} for "
                    f"feature view {plan.name!r}: apply and materialize the feature repo"
                )

    def read(self, requests: Sequence[tuple[ViewPlan, list[bytes]]]) -> list[dict[bytes, Record]]:
        """Records of the given keys, one query per view (``IN`` over the batch's keys).

        A key is known when every requested feature has a row: Feast reports a feature without
        a row NOT_FOUND, and a NOT_FOUND feature makes its join keys unknown.
        """
        conn = self.connection()
        found: list[dict[bytes, Record]] = []
        for plan, keys in requests:
            positions = plan.positions
            blobs: dict[bytes, list[bytes | None]] = {}
            width = len(plan.features)
            for start in range(0, len(keys), SQLITE_MAX_KEYS_PER_QUERY):
                chunk = keys[start : start + SQLITE_MAX_KEYS_PER_QUERY]
                for key, name, blob in conn.execute(plan.select(len(chunk)), chunk):
                    position = positions.get(name)
                    if position is None:
                        continue  # a feature of the view the service does not read
                    record = blobs.get(key)
                    if record is None:
                        record = blobs[key] = [None] * width
                    record[position] = blob
            found.append({key: (None not in record, record) for key, record in blobs.items()})
        return found

    def close(self) -> None:
        """Close every connection opened so far."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


class RedisReader:
    """Reads Feast's Redis hashes directly: every key of a request in one pipelined round trip.

    Args:
        client: a redis-py client built from the store's config, as Feast builds it.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def check(self, plans: Sequence[ViewPlan]) -> None:
        """Fail now when the server does not answer.

        Raises:
            ServingConfigError: Redis is unreachable.
        """
        try:
            self.client.ping()
        except Exception as error:
            raise ServingConfigError(f"the Redis online store does not answer: {error}") from error

    def read(self, requests: Sequence[tuple[ViewPlan, list[bytes]]]) -> list[dict[bytes, Record]]:
        """Records of the given keys: one ``HMGET`` per (view, key), all in one pipeline.

        A key is known when its hash holds the view's ``_ts:<view>`` field: Feast answers a key
        without it with empty values and epoch 0 (what ``OnlineFeatures`` calls unknown).
        """
        with self.client.pipeline(transaction=False) as pipe:
            for plan, keys in requests:
                for key in keys:
                    pipe.hmget(key, plan.fields)
            replies = pipe.execute()
        found: list[dict[bytes, Record]] = []
        offset = 0
        for _, keys in requests:
            view_replies = replies[offset : offset + len(keys)]
            offset += len(keys)
            found.append(
                {
                    key: (bool(reply[-1]), reply)
                    for key, reply in zip(keys, view_replies, strict=True)
                }
            )
        return found

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()


# --------------------------------------------------------------------------- the reader
class DirectOnlineFeatures:
    """Features by entity key from Feast's online store, read without Feast on the request path.

    The same interface and answers as :class:`twelve.serving.OnlineFeatures` (the tests compare
    them on every entity of a real store): :meth:`load` reads the feature service from the
    registry once and opens the store; :meth:`fetch` encodes the keys, reads SQLite (one query
    per view) or Redis (one pipeline) and decodes the values.

    What :meth:`load` read is kept until the next :meth:`load`: a feature service re-applied
    with other features needs a reload (a new bento, in practice: its model reads the old ones).

    Args:
        feature_store: the resolved Feast config (``load_serving_config()["feature_store"]``).
        feature_service: the feature service the model reads.
    """

    def __init__(self, feature_store: Mapping[str, Any], feature_service: str) -> None:
        self.feature_store_config = dict(feature_store)
        self.feature_service_name = feature_service
        self.join_keys: list[str] = []
        self.feature_names: list[str] = []
        self._plans: tuple[ViewPlan, ...] = ()
        self._reader: SqliteReader | RedisReader | None = None

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

        _check_local_files(self.feature_store_config)
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
        keys_of_rows: list[list[bytes]] = []
        requests: list[tuple[ViewPlan, list[bytes]]] = []
        for plan in self._plans:
            encode = plan.encode_key
            row_keys = [encode(row, number) for number, row in enumerate(rows)]
            keys_of_rows.append(row_keys)
            requests.append((plan, list(dict.fromkeys(row_keys))))
        found = reader.read(requests)

        features: dict[str, list[Any]] = {}
        unknown: list[set[str]] = [set() for _ in rows]
        for plan, row_keys, records in zip(self._plans, keys_of_rows, found, strict=True):
            decoders = plan.decoders
            nulls = (None,) * len(decoders)
            decoded: dict[bytes, Sequence[Any]] = {}
            unknown_keys: set[bytes] = set()
            for key in dict.fromkeys(row_keys):
                record = records.get(key)
                if record is None:
                    decoded[key] = nulls
                    unknown_keys.add(key)
                    continue
                known, blobs = record
                if not known:
                    unknown_keys.add(key)
                # Redis replies end with the `_ts` field: zip stops at the last feature.
                pairs = zip(decoders, blobs, strict=False)
                decoded[key] = [decode(blob) for decode, blob in pairs]
            if rows:
                columns = zip(*(decoded[key] for key in row_keys), strict=True)
                for name, column in zip(plan.features, columns, strict=True):
                    features[name] = list(column)
            else:
                features.update({name: [] for name in plan.features})
            if unknown_keys:
                for number, key in enumerate(row_keys):
                    if key in unknown_keys:
                        unknown[number].update(plan.keys)
        return OnlineLookup(features, [sorted(keys) for keys in unknown])

    def close(self) -> None:
        """Close the online store connections (a later :meth:`load` opens new ones)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# --------------------------------------------------------------------------- load helpers
def _check_local_files(config: Mapping[str, Any]) -> None:
    """Refuse a file registry or SQLite store that does not exist (Feast would create them).

    Raises:
        ServingConfigError: naming the missing file and how to make it.
    """
    for section in ("registry", "online_store"):
        part = config.get(section) or {}
        if isinstance(part, str):
            part = {"path": part}
        kind = part.get("registry_type", "file") if section == "registry" else part.get("type")
        if kind in ("file", "sqlite") and not Path(part.get("path", "")).is_file():
            raise ServingConfigError(
                f"Feast {section} {part.get('path')} does not exist: apply and materialize the "
                "feature repo (assets feast_definitions, online_features) for this TWELVE_HOME"
            )


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
