"""A bento reads the online store of the profile it was built for, and finds unknown keys there."""

import json
from types import SimpleNamespace

import pytest

from twelve.core.paths import REPO_ROOT
from twelve.serving import config as serving
from twelve.serving.online.sdk import OnlineFeatures

SERVICE_DIR = REPO_ROOT / "bentos" / "flight_delay"


def test_the_production_profile_records_the_sql_registry_and_redis(tmp_path):
    config = serving.resolve_serving_config(SERVICE_DIR, tmp_path / "home", profile="production")
    store = config["feature_store"]
    assert store["online_store"] == {
        "type": "redis",
        "connection_string": "${TWELVE_REDIS_URL}",
    }
    assert store["registry"]["registry_type"] == "sql"
    assert store["registry"]["path"] == "${TWELVE_FEAST_REGISTRY_URL}"


def test_the_local_profile_keeps_sqlite_in_the_state_dir(tmp_path):
    config = serving.resolve_serving_config(SERVICE_DIR, tmp_path / "home", profile="local")
    assert config["feature_store"]["online_store"]["type"] == "sqlite"


def test_a_bento_built_under_production_records_redis(tmp_path, monkeypatch):
    from twelve.deploy import bento as bentos

    monkeypatch.setenv("TWELVE_PROFILE", "production")
    context = bentos.stage_build_context(SERVICE_DIR, tmp_path / "ctx", tmp_path / "home")
    recorded = json.loads((context / serving.SERVING_CONFIG_FILE).read_text())
    assert recorded["feature_store"]["online_store"]["type"] == "redis"


def _lookup_answer(present: bool, seconds: int):
    """A Feast online response of one row: a plane feature and its key (status, timestamp)."""
    from feast.protos.feast.serving.ServingService_pb2 import (
        FieldStatus,
        GetOnlineFeaturesResponse,
    )
    from google.protobuf.timestamp_pb2 import Timestamp

    proto = GetOnlineFeaturesResponse()
    proto.metadata.feature_names.val.extend(["tailnum", "plane_year"])
    status = FieldStatus.PRESENT if present else FieldStatus.NOT_FOUND
    for _ in range(2):
        vector = proto.results.add()
        vector.statuses.append(status)
        vector.event_timestamps.append(Timestamp(seconds=seconds))
    values = {"tailnum": ["N1"], "plane_year": [None if not seconds else 1999.0]}
    return SimpleNamespace(proto=proto, to_dict=lambda: values)


@pytest.mark.parametrize(
    ("present", "seconds", "unknown"),
    [
        (True, 1356998400, []),  # a record stamped 2013-01-01: known
        (False, 0, ["tailnum"]),  # SQLite: NOT_FOUND
        (True, 0, ["tailnum"]),  # Redis: PRESENT, empty values, no timestamp
    ],
    ids=["known", "sqlite-missing", "redis-missing"],
)
def test_a_key_the_store_does_not_hold_is_unknown_on_sqlite_and_redis(present, seconds, unknown):
    features = OnlineFeatures({}, "flight_delay_v1")
    answer = _lookup_answer(present, seconds)
    features._store = SimpleNamespace(get_online_features=lambda **_: answer)
    features._keys_of_feature = {"plane_year": ("tailnum",)}
    lookup = features.fetch([{"tailnum": "N1"}])
    assert lookup.unknown == [unknown]
