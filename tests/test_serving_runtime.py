"""The serving runtime without a server: config, request features, contract gate, monitoring,
error mapping, auth, security, and what a bento carries of the platform.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from bento_support import (
    CONTRACT,
    MODEL_INPUT_COLUMNS,
    SERVICE_DIR,
    holdout_rows,
    load_service_module,
)

from twelve.core.paths import REPO_ROOT
from twelve.serving import columns as cols
from twelve.serving import config as settings
from twelve.serving import http
from twelve.serving.gate import ContractGate, FieldProblem, violation_body
from twelve.serving.metrics import ServingMetrics
from twelve.serving.monitor import ProfileRoller
from twelve.serving.online.plan import OnlineLookup


# --------------------------------------------------------------------------- configuration
def test_the_serving_config_records_the_feature_store_of_the_state_dir(tmp_path):
    config = settings.resolve_serving_config(SERVICE_DIR, tmp_path / "home")
    assert config["twelve_home"] == str((tmp_path / "home").resolve())
    assert config["feature_service"] == "flight_delay_v1"
    assert config["local_timezone"] == "America/New_York"
    store = config["feature_store"]
    assert store["registry"]["path"] == str((tmp_path / "home" / "feast_registry.db").resolve())
    assert store["online_store"] == {
        "type": "sqlite",
        "path": str((tmp_path / "home" / "feast_online_store.db").resolve()),
    }
    assert store["project"] == "twelve"


def test_twelve_home_at_serve_time_moves_the_recorded_feature_store(tmp_path):
    built = tmp_path / "bento_src"
    built.mkdir()
    recorded = settings.resolve_serving_config(SERVICE_DIR, tmp_path / "build_home")
    (built / settings.SERVING_CONFIG_FILE).write_text(json.dumps(recorded))

    as_built = settings.load_serving_config(built, environ={})
    moved = settings.load_serving_config(built, environ={"TWELVE_HOME": str(tmp_path / "prod")})

    assert as_built["feature_store"]["online_store"]["path"].startswith(
        str(tmp_path / "build_home")
    )
    assert moved["twelve_home"] == str((tmp_path / "prod").resolve())
    assert moved["feature_store"]["registry"]["path"] == str(
        (tmp_path / "prod" / "feast_registry.db").resolve()
    )
    assert moved["feature_store"]["online_store"]["path"] == str(
        (tmp_path / "prod" / "feast_online_store.db").resolve()
    )


def test_a_remote_online_store_is_kept_and_its_variables_expanded_when_serving(tmp_path):
    raw = {
        "project": "twelve",
        "registry": {"registry_type": "sql", "path": "postgresql+psycopg://${PGHOST}/feast"},
        "online_store": {"type": "redis", "connection_string": "${REDIS}"},
    }
    relocated = settings.relocate_feature_store(raw, tmp_path)
    assert relocated["registry"]["path"] == "postgresql+psycopg://${PGHOST}/feast"
    built = tmp_path / "src"
    built.mkdir()
    (built / settings.SERVING_CONFIG_FILE).write_text(
        json.dumps({"twelve_home": str(tmp_path), "feature_store": relocated})
    )
    import os

    os.environ["REDIS"] = "127.0.0.1:6390"
    try:
        config = settings.load_serving_config(built, environ={})
    finally:
        del os.environ["REDIS"]
    assert config["feature_store"]["online_store"]["connection_string"] == "127.0.0.1:6390"


def test_without_recorded_config_or_twelve_home_the_service_says_why(tmp_path):
    with pytest.raises(settings.ServingConfigError, match="TWELVE_HOME"):
        settings.load_serving_config(tmp_path, environ={})


@pytest.mark.parametrize(
    ("content", "message"),
    [("feature_service: x\n", "missing key"),
     ("feature_repo: no_such_repo\nfeature_service: x\n", "does not exist")],
)  # fmt: skip
def test_an_incomplete_serving_yaml_is_refused(tmp_path, content, message):
    (tmp_path / settings.SERVING_YAML).write_text(content)
    with pytest.raises(settings.ServingConfigError, match=message):
        settings.resolve_serving_config(tmp_path, tmp_path / "home")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, True), ({"X": ""}, True), ({"X": "off"}, False), ({"X": "0"}, False),
     ({"X": "False"}, False), ({"X": "on"}, True)],
)  # fmt: skip
def test_switches_from_the_environment(environ, expected):
    assert settings.env_flag(environ, "X") is expected


# --------------------------------------------------------------------------- request features
def test_calendar_features_equal_what_dbt_derives_for_every_2013_flight():
    from flight_delays import ingest

    service = load_service_module()
    flights = ingest.read_flights()
    scheduled = flights["time_hour"] + pd.to_timedelta(flights["minute"], unit="min")
    with warnings.catch_warnings():  # pandas' notice that to_pydatetime will return a Series
        warnings.simplefilter("ignore", FutureWarning)
        times = list(scheduled.dt.to_pydatetime())
    hours, days, months = service.schedule_calendar(times, "America/New_York")
    # stg_flights: sched_dep_hour = hour, day_of_week = isodow(date) - 1, month = month.
    dates = pd.to_datetime(flights[["year", "month", "day"]])
    assert hours == flights["hour"].tolist()
    assert days == dates.dt.dayofweek.tolist()
    assert months == flights["month"].tolist()


@pytest.mark.parametrize(
    ("stamp", "hour", "day_of_week", "month"),
    [("2013-01-01T05:15:00", 5, 1, 1),  # naive = local
     ("2013-01-01T10:15:00+00:00", 5, 1, 1),  # UTC converted to New York
     ("2013-07-01T00:30:00+00:00", 20, 6, 6),  # summer time, previous local day and month
     ("2013-03-10T02:30:00", 3, 6, 3),  # a local time that does not exist (DST): shifted
     ("2013-11-03T01:30:00", 1, 6, 11)],  # a local time that happens twice (DST): as read
)  # fmt: skip
def test_calendar_features_read_the_schedule_in_local_time(stamp, hour, day_of_week, month):
    from datetime import datetime

    service = load_service_module()
    derived = service.schedule_calendar([datetime.fromisoformat(stamp)], "America/New_York")
    assert [column[0] for column in derived] == [hour, day_of_week, month]


def test_request_features_map_a_missing_tail_number_to_the_training_key():
    service = load_service_module()
    flights = [
        service.FlightRequest(**{**service.EXAMPLE_FLIGHTS[0], "tailnum": tail})
        for tail in ("N14228", None, "  ")
    ]
    values = service.request_values(flights, "America/New_York")
    assert values["tailnum"] == ["N14228", "UNKNOWN", "UNKNOWN"]
    typed = cols.typed_columns(values, {"distance": "float64"}, ["distance"])
    assert typed["distance"].dtype == "float64"
    assert [values[c][0] for c in ("sched_dep_hour", "day_of_week", "month")] == [5, 1, 1]


# --------------------------------------------------------------------------- the contract gate
DTYPES = {column["name"]: column["dtype"] for column in CONTRACT["columns"]}


def _valid_frame() -> pd.DataFrame:
    rows = holdout_rows()[MODEL_INPUT_COLUMNS]
    values = {name: rows[name].astype(object).where(rows[name].notna(), None).tolist()
              for name in MODEL_INPUT_COLUMNS}  # fmt: skip
    return cols.frame_of(cols.typed_columns(values, DTYPES, MODEL_INPUT_COLUMNS))


def test_rows_that_honour_the_contract_pass_the_gate():
    assert ContractGate(CONTRACT).problems(_valid_frame()) == []


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [({"distance": -3.0}, "distance", "range"),
     ({"sched_dep_hour": 24}, "sched_dep_hour", "range"),
     ({"carrier": "ZZ"}, "carrier", "category"),
     ({"wind_speed": 1048.0}, "wind_speed", "range"),
     ({"carrier_late_rate_28d": 1.5}, "carrier_late_rate_28d", "range")],
)  # fmt: skip
def test_the_gate_names_each_field_and_why(change, field, kind):
    frame = _valid_frame()
    for column, value in change.items():
        frame[column] = value
    problems = ContractGate(CONTRACT).problems(frame)
    assert [(p.field, p.kind) for p in problems] == [(field, kind)]
    assert field in problems[0].message


def test_a_tolerated_share_of_unknown_categories_lets_a_batch_through():
    frame = pd.concat([_valid_frame()] * 5, ignore_index=True)
    frame.loc[0, "carrier"] = "ZZ"
    assert ContractGate(CONTRACT, 0.0).problems(frame)
    assert ContractGate(CONTRACT, 0.25).problems(frame) == []


def test_the_violation_body_lists_fields_once_and_every_problem():
    problems = [
        FieldProblem("distance", "range", "a"),
        FieldProblem("distance", "null", "b"),
        FieldProblem("carrier", "category", "c"),
    ]
    body = violation_body(problems, "flight_delay_model_input")
    assert body["fields"] == ["distance", "carrier"]
    assert len(body["problems"]) == 3
    assert body["error"] == "contract violation"


# --------------------------------------------------------------------------- error mapping
@pytest.mark.parametrize(
    ("detail", "status", "fields"),
    [([{"type": "json_invalid", "loc": [], "msg": "Invalid JSON"}], 400, None),
     ([{"type": "model_type", "loc": [], "msg": "Input should be an object"}], 400, None),
     ([{"type": "float_parsing", "loc": ["flights", 0, "distance"], "msg": "bad"},
       {"type": "extra_forbidden", "loc": ["flights", 2, "dep_delay"], "msg": "extra"}],
      422, ["flights[0].distance", "flights[2].dep_delay"]),
     ([{"type": "too_short", "loc": ["rows"], "msg": "at least 1"}], 422, ["rows"])],
)  # fmt: skip
def test_validation_errors_map_to_400_for_malformed_json_and_422_for_fields(detail, status, fields):
    code, body = http.map_validation_error({"error": "x", "detail": detail})
    assert code == status
    if fields is not None:
        assert body["fields"] == fields


class _App:
    """An ASGI app answering a fixed status and JSON body, recording whether it was called."""

    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.status, self.body, self.called = status, body or {"ok": True}, False

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        payload = json.dumps(self.body).encode()
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": payload})


def _call(middleware, path="/predict", headers=(), method="POST") -> tuple[int, dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": method, "headers": list(headers)}
    asyncio.run(middleware(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


@pytest.mark.parametrize(
    ("token", "header", "status"),
    [("", None, 200), ("t0k", None, 401), ("t0k", b"Bearer nope", 401),
     ("t0k", b"Basic t0k", 401), ("t0k", b"Bearer t0k", 200), ("t0k", b"bearer t0k", 200)],
)  # fmt: skip
def test_the_bearer_token_is_required_only_when_configured(token, header, status):
    app = _App()
    middleware = http.BearerAuthMiddleware(app, protected=["/predict"], token=token)
    headers = [(b"authorization", header)] if header else []
    assert _call(middleware, headers=headers)[0] == status
    assert app.called is (status == 200)


def test_probes_and_metrics_need_no_token():
    middleware = http.BearerAuthMiddleware(_App(), protected=["/predict"], token="t0k")
    assert _call(middleware, path="/readyz", method="GET")[0] == 200
    assert _call(middleware, path="/metrics", method="GET")[0] == 200


def test_the_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(settings.TOKEN_ENV, "from-env")
    middleware = http.BearerAuthMiddleware(_App(), protected=["/predict"])
    assert _call(middleware)[0] == 401
    assert _call(middleware, headers=[(b"authorization", b"Bearer from-env")])[0] == 200


def test_a_pydantic_400_becomes_a_422_naming_fields_and_is_counted():
    seen = []
    detail = [{"type": "string_type", "loc": ["flights", 0, "carrier"], "msg": "not a string"}]
    middleware = http.RequestErrorMiddleware(
        _App(400, {"error": "1 validation error", "detail": detail}),
        protected=["/predict"],
        on_rejection=seen.append,
    )
    status, body = _call(middleware, headers=[(b"content-type", b"application/json")])
    assert status == 422
    assert body["fields"] == ["flights[0].carrier"]
    assert seen
    assert seen[0][0]["field"] == "flights[0].carrier"


def test_other_content_types_are_415_before_the_app_parses_them():
    app = _App()
    middleware = http.RequestErrorMiddleware(app, protected=["/predict"])
    status, body = _call(middleware, headers=[(b"content-type", b"multipart/form-data")])
    assert status == 415
    assert "application/json" in body["error"]
    assert not app.called


def test_successful_answers_pass_through_untouched():
    middleware = http.RequestErrorMiddleware(_App(200, {"x": 1}), protected=["/predict"])
    assert _call(middleware) == (200, {"x": 1})


# --------------------------------------------------------------------------- monitoring
def _scored(rows: int, offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distance": [100.0 + offset + i for i in range(rows)],
            "carrier": ["UA"] * rows,
            "probability": [0.5] * rows,
        }
    )


def test_buffered_rows_become_one_profile_per_flush_with_a_sidecar(tmp_path):
    from twelve.monitoring.profiling import ProfileStore, row_count

    flushed = []
    roller = ProfileRoller(
        tmp_path, "v3-abc", extra={"model_tag": "m:v3-abc"}, on_flush=lambda n, s: flushed.append(n)
    )
    assert roller.flush() is None  # nothing buffered, nothing written
    for _ in range(4):
        roller.add(_scored(5))
    path = roller.flush()
    assert path.parent == tmp_path / "v3-abc"
    assert path.suffix == ".bin"
    store = ProfileStore(tmp_path)
    version = path.stem
    assert row_count(store.read("v3-abc", version)) == 20
    info = store.info("v3-abc", version)
    assert info["requests"] == 4
    assert info["model_tag"] == "m:v3-abc"
    assert info["rows"] == 20
    assert flushed == [20]
    assert roller.buffered_rows == 0
    assert roller.flush() is None


def test_rows_beyond_the_buffer_limit_are_dropped_and_counted(tmp_path):
    from twelve.monitoring.profiling import ProfileStore

    roller = ProfileRoller(tmp_path, "v1-x", max_buffer_rows=8)
    roller.add(_scored(5))
    roller.add(_scored(5))  # would exceed 8: dropped
    path = roller.flush()
    assert ProfileStore(tmp_path).info("v1-x", path.stem)["dropped_rows"] == 5


def test_the_background_thread_profiles_on_its_interval_and_stop_flushes(tmp_path):
    import time

    from twelve.monitoring.profiling import ProfileStore, row_count

    roller = ProfileRoller(tmp_path, "v1-x", interval_seconds=0.2)
    roller.start()
    roller.add(_scored(3))
    deadline = time.monotonic() + 5
    while not list((tmp_path / "v1-x").glob("*.bin")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list((tmp_path / "v1-x").glob("*.bin"))) == 1
    roller.add(_scored(2))
    roller.stop()
    store = ProfileStore(tmp_path)
    assert sorted(row_count(store.read("v1-x", v)) for v in store.versions("v1-x")) == [2, 3]


def test_a_profile_that_cannot_be_written_keeps_its_rows_for_the_next_one(tmp_path):
    from twelve.monitoring.profiling import ProfileStore, row_count

    root = tmp_path / "profiles"
    root.write_text("a file where the store's folder should be")  # every write fails
    failures = []
    roller = ProfileRoller(root, "v1-x", on_failure=lambda: failures.append(1))
    roller.add(_scored(5))
    with pytest.raises(OSError, match="profiles"):  # the store's path, named by the OS error
        roller.flush()
    roller.add(_scored(3))
    assert roller.buffered_rows == 8
    assert failures == [1]
    root.unlink()  # the store is writable again
    path = roller.flush()
    assert row_count(ProfileStore(root).read("v1-x", path.stem)) == 8
    info = ProfileStore(root).info("v1-x", path.stem)
    assert info["requests"] == 2
    assert info["dropped_rows"] == 0
    assert roller.buffered_rows == 0


def test_the_bound_counts_rows_being_profiled_and_drops_are_counted_in_metrics(tmp_path):
    metrics = ServingMetrics("unit_test_drops")
    roller = ProfileRoller(tmp_path, "v1-x", max_buffer_rows=8, on_drop=metrics.dropped_rows.inc)
    assert roller.add(_scored(6))
    assert not roller.add(_scored(3))  # 9 > 8: dropped, counted
    assert roller.add(_scored(2))
    assert metrics.dropped_rows._value.get() == 3
    path = roller.flush()
    from twelve.monitoring.profiling import ProfileStore

    assert ProfileStore(tmp_path).info("v1-x", path.stem)["dropped_rows"] == 3


def test_a_served_bento_profiles_in_a_low_priority_process_that_survives_its_failures(tmp_path):
    import psutil

    from twelve.monitoring.profiling import ProfileStore, row_count
    from twelve.serving.profiler import NICENESS, ProcessProfiler

    profiler = ProcessProfiler(timeout=120)
    roller = ProfileRoller(tmp_path, "v1-x", profiler=profiler)
    roller.add(_scored(4))
    first = roller.flush()
    child = psutil.Process(profiler._child.pid)
    assert child.nice() == NICENESS
    assert child.pid != os.getpid()
    assert row_count(ProfileStore(tmp_path).read("v1-x", first.stem)) == 4
    child.kill()  # the profiler dies between two profiles: the next one starts another
    roller.add(_scored(3))
    second = roller.flush()
    assert row_count(ProfileStore(tmp_path).read("v1-x", second.stem)) == 3
    replacement = profiler._child
    roller.stop()  # the last profile, then the child is told to exit (its stdin closes)
    assert replacement.wait(timeout=30) == 0


def test_a_bad_interval_or_model_version_is_refused(tmp_path):
    with pytest.raises(ValueError, match="interval_seconds"):
        ProfileRoller(tmp_path, "v1", interval_seconds=0)
    with pytest.raises(ValueError, match="not usable as a file name"):
        ProfileRoller(tmp_path, "../v1")


# --------------------------------------------------------------------------- what a bento carries
PLATFORM = REPO_ROOT / "platform" / "src"


def _module_file(module: str) -> Path | None:
    """The file of a module of ``twelve`` (a package's ``__init__.py``), None when none."""
    base = PLATFORM.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every module a file imports when it runs, lazy imports in functions included; imports
    only for type checkers (``if TYPE_CHECKING:``) left out.
    """
    tree = ast.parse(path.read_text())
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _closure_within_twelve(start: set[str]) -> tuple[set[str], set[str]]:
    """The modules of ``twelve`` reached from ``start`` (packages' ``__init__`` included), and
    the other top-level modules they import.
    """
    seen, outside, todo = set(), set(), list(start)
    while todo:
        module = todo.pop()
        if module.split(".")[0] != "twelve":
            outside.add(module.split(".")[0])
            continue
        parts = module.split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            name = ".".join(parts[:end])
            path = _module_file(name)
            if path is not None and name not in seen:
                seen.add(name)
                todo += sorted(_imports(path))
    return seen, outside


def _installed_by_the_bento() -> set[str]:
    """Distributions in a bento: the bentofile's pins, bentoml, and everything they require."""
    import importlib.metadata
    import re

    from twelve.deploy.image import bentofile_pins, normalize_distribution

    wanted, found = [*bentofile_pins(SERVICE_DIR), "bentoml"], set()
    while wanted:
        name = normalize_distribution(wanted.pop())
        if name in found:
            continue
        found.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                wanted.append(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
    return found


def test_the_vendored_modules_import_only_what_the_bento_installs():
    import importlib.metadata

    from twelve.deploy.image import normalize_distribution

    service_imports = _imports(SERVICE_DIR / "service.py")
    reached, outside = _closure_within_twelve({m for m in service_imports if "twelve" in m})
    assert {"twelve.serving.runtime", "twelve.serving.online.reader"} <= reached
    assert "twelve.deploy.compiled.model" in reached  # the compiled model is what is served
    installed = _installed_by_the_bento()
    owners = importlib.metadata.packages_distributions()
    missing = sorted(
        f"{top} (from {owners.get(top)})"
        for top in outside | {m.split(".")[0] for m in service_imports}
        if top not in sys.stdlib_module_names and top != "twelve"
        and not {normalize_distribution(d) for d in owners.get(top, [])} & installed
    )  # fmt: skip
    assert missing == [], f"the serving runtime imports what the bento does not install: {missing}"
    # Nothing of the pipeline side reaches a serving process.
    assert not {"dagster", "mlflow", "dbt", "skl2onnx", "dvc"} & outside


def test_the_build_context_carries_the_service_the_platform_and_the_config(tmp_path):
    from twelve.deploy import bento as bentos

    context = bentos.stage_build_context(SERVICE_DIR, tmp_path / "ctx", tmp_path / "home")
    assert (context / "service.py").read_bytes() == (SERVICE_DIR / "service.py").read_bytes()
    source = PLATFORM / "twelve"
    expected = {
        path.relative_to(source)
        for path in source.rglob("*.py")
        if "__pycache__" not in path.parts and "template" not in path.relative_to(source).parts
    }
    copied = {path.relative_to(context / "twelve") for path in (context / "twelve").rglob("*")}
    assert expected <= copied
    assert Path("serving/runtime.py") in copied
    assert not [path for path in copied if "template" in path.parts or path.suffix == ".pyc"]
    for relative in expected:
        assert (context / "twelve" / relative).read_bytes() == (source / relative).read_bytes()
    config = json.loads((context / settings.SERVING_CONFIG_FILE).read_text())
    assert config["twelve_home"] == str((tmp_path / "home").resolve())
    # The digest follows the platform code the bento runs, and the recorded home.
    other = bentos.stage_build_context(SERVICE_DIR, tmp_path / "ctx2", tmp_path / "elsewhere")
    assert bentos.service_digest(context) != bentos.service_digest(other)
    same = bentos.stage_build_context(SERVICE_DIR, tmp_path / "ctx3", tmp_path / "home")
    assert bentos.service_digest(context) == bentos.service_digest(same)


# --------------------------------------------------------------------------- the service class
class _FakeOnlineStore:
    """Stands in for the Feast online store: a fixed plane, weather and carrier record."""

    join_keys = ["origin", "tailnum", "carrier"]
    loaded = True

    def __init__(self, known_planes: set[str]) -> None:
        self.known_planes = known_planes
        self.asked: list[dict] = []

    def fetch(self, entity_rows):
        self.asked += list(entity_rows)
        rows = len(entity_rows)
        known = [row["tailnum"] in self.known_planes for row in entity_rows]
        weather = {"temp": 40.0, "dewp": 20.0, "humid": 50.0, "wind_dir": 200.0,
                   "wind_speed": 10.0, "wind_gust": None, "precip": 0.0, "pressure": 1012.0,
                   "visib": 10.0}  # fmt: skip
        plane = {"plane_year": 2001.0, "plane_seats": 149, "plane_engines": 2,
                 "plane_type": "Fixed wing multi engine", "plane_manufacturer": "BOEING",
                 "plane_engine": "Turbo-fan"}  # fmt: skip
        features = {name: [value] * rows for name, value in weather.items()}
        for name, value in plane.items():
            features[name] = [value if k else None for k in known]
        features["carrier_late_rate_28d"] = [0.2] * rows
        features["carrier_flights_28d"] = [900] * rows
        return OnlineLookup(features, [[] if k else ["tailnum"] for k in known])


@pytest.fixture(scope="module")
def service_instance(tmp_path_factory):
    """The service class with a compiled model, contract gate and profiler; no server, no Feast."""
    from bento_support import THRESHOLD, fit_pipeline, served_model, training_rows

    service = load_service_module()
    instance = service.FlightDelay.inner.__new__(service.FlightDelay.inner)
    instance.pipeline = fit_pipeline(training_rows())  # the reference the answers are checked on
    instance.model = served_model(instance.pipeline, THRESHOLD)
    instance.config = {"local_timezone": "America/New_York", "batching": {"enabled": True}}
    instance.gate = ContractGate(CONTRACT)
    instance.metrics = ServingMetrics("unit_test_service")
    instance.monitor = ProfileRoller(tmp_path_factory.mktemp("profiles"), "v7-abc")
    instance.features = _FakeOnlineStore({"N14228"})
    instance._start_scoring()
    return service, instance


def _flights(service, **change):
    flight = {**service.EXAMPLE_FLIGHTS[0], **change}
    return [service.FlightRequest(**flight)]


def _answer(instance, service, flights):
    values = service.request_values(flights, "America/New_York")
    return asyncio.run(instance.answer("predict", values, service.PredictionResponse))


def test_the_service_assembles_raw_flights_like_assembled_rows(service_instance):
    from twelve.serving.scoring import Job

    service, instance = service_instance
    job = Job("predict", service.request_values(_flights(service), "America/New_York"), 1)
    (outcome,) = instance.scorer.score_many([job])
    assert outcome.unknown == [[]]
    assert [job.values[c][0] for c in ("sched_dep_hour", "day_of_week", "month")] == [5, 1, 1]
    assert instance.features.asked[-1] == {"origin": "EWR", "tailnum": "N14228", "carrier": "UA"}
    raw = cols.typed_columns(job.values, DTYPES, MODEL_INPUT_COLUMNS)
    # The same values sent as an assembled row give the same columns, dtypes included.
    record = service.FeatureRow(**{name: values[0] for name, values in job.values.items()
                                   if name in MODEL_INPUT_COLUMNS})  # fmt: skip
    rows = cols.rows_to_columns([record], MODEL_INPUT_COLUMNS)
    pd.testing.assert_frame_equal(
        cols.frame_of(raw), cols.frame_of(cols.typed_columns(rows, DTYPES, MODEL_INPUT_COLUMNS))
    )
    assert outcome.outputs == instance.model.outputs(raw).tolist()


def test_the_service_scores_buffers_and_counts_a_valid_request(service_instance):
    service, instance = service_instance
    before = instance.monitor.buffered_rows
    answer = _answer(instance, service, _flights(service, tailnum="N-UNKNOWN"))
    assert isinstance(answer, service.PredictionResponse)
    assert answer.predictions[0].unknown_entities == ["tailnum"]
    features = instance.features.fetch([{"origin": "EWR", "tailnum": "N-UNKNOWN", "carrier": "UA"}])
    values = {**service.request_values(_flights(service), "America/New_York"), **features.features}
    frame = cols.frame_of(cols.typed_columns(values, DTYPES, MODEL_INPUT_COLUMNS))
    expected = instance.pipeline.predict_proba(frame)[:, 1][0]
    assert answer.predictions[0].probability == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert instance.monitor.buffered_rows == before + 1


def test_the_service_answers_422_naming_the_fields_a_request_breaks(service_instance):
    service, instance = service_instance
    before = instance.monitor.buffered_rows
    answer = _answer(instance, service, _flights(service, distance=-10.0, origin="BOS"))
    assert answer.status_code == 422
    body = json.loads(answer.body)
    assert set(body["fields"]) == {"distance", "origin"}
    assert instance.monitor.buffered_rows == before  # refused rows are not profiled


# --------------------------------------------------------------------------- the fast path
def _mutations() -> list[tuple[str, pd.DataFrame]]:
    import numpy as np

    base = pd.concat([_valid_frame()] * 3, ignore_index=True)
    cases = [("valid", base.copy())]

    def changed(name: str, column: str, value) -> None:
        frame = base.copy()
        frame[column] = frame[column].astype(object) if isinstance(value, str) else frame[column]
        frame.loc[1, column] = value
        cases.append((name, frame))

    for column in ("distance", "temp", "plane_year", "carrier_late_rate_28d", "pressure"):
        changed(f"{column} too low", column, -1e9)
        changed(f"{column} too high", column, 1e9)
    changed("distance zero (exclusive bound)", "distance", 0.0)
    changed("distance missing", "distance", np.nan)
    changed("temp missing (nullable)", "temp", np.nan)
    changed("hour 24", "sched_dep_hour", 24)
    changed("month 0", "month", 0)
    changed("unknown carrier", "carrier", "ZZ")
    changed("unknown plane type", "plane_type", "Zeppelin")
    changed("missing carrier", "carrier", None)
    changed("missing plane type (nullable)", "plane_type", None)
    changed("number in a text column", "dest", 5)
    cases.append(("month as float", base.astype({"month": "float64"})))
    cases.append(("text as category", base.astype({"carrier": "category"})))
    cases.append(("extra column", base.assign(dep_delay=1.0)))
    cases.append(("missing column", base.drop(columns=["visib"])))
    cases.append(("reordered columns", base[list(reversed(base.columns))]))
    cases.append(("empty", base.head(0)))
    return cases


@pytest.mark.parametrize(("name", "frame"), _mutations(), ids=[n for n, _ in _mutations()])
def test_the_fast_path_accepts_only_what_pandera_accepts(name, frame):
    gate = ContractGate(CONTRACT)
    reference = gate.pandera_problems(frame)
    if gate.certainly_valid(frame):
        assert reference == [], f"{name}: the fast path accepted what pandera refuses"
    assert gate.problems(frame) == reference


@pytest.mark.parametrize(("name", "frame"), _mutations(), ids=[n for n, _ in _mutations()])
def test_the_fast_path_on_columns_accepts_only_what_pandera_accepts(name, frame):
    # The hot path checks columns (numpy arrays), not frames: the same promise holds there.
    gate = ContractGate(CONTRACT)
    columns = {str(c): frame[c].to_numpy() for c in frame.columns}
    reference = gate.pandera_problems(frame)
    if gate.certainly_valid(columns):
        assert reference == [], f"{name}: the fast path accepted what pandera refuses"
    assert gate.problems(columns) == reference


def test_the_fast_path_takes_every_valid_batch_and_is_much_faster():
    import time

    gate = ContractGate(CONTRACT)
    frame = pd.concat([_valid_frame()] * 50, ignore_index=True)
    assert gate.certainly_valid(frame)
    started = time.perf_counter()
    for _ in range(20):
        gate.problems(frame)
    fast = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(5):
        gate.pandera_problems(frame)
    slow = (time.perf_counter() - started) * 4
    assert fast < slow / 5


# --------------------------------------------------------------------------- security
@pytest.mark.parametrize(
    ("environ", "recorded", "refusal"),
    [({"TWELVE_PROFILE": "production"}, "local", "TWELVE_SERVING_TOKEN"),
     ({}, "production", "TWELVE_SERVING_TOKEN"),  # built for production: secured wherever it runs
     ({"TWELVE_PROFILE": "production", "TWELVE_SERVING_TOKEN": " "}, "local", "bearer token"),
     ({"TWELVE_PROFILE": "production", "TWELVE_SERVING_TOKEN": "t",
       "TWELVE_SERVING_CONTRACT": "off"}, "local", "refused under the production profile")],
)  # fmt: skip
def test_production_refuses_to_start_open_or_without_its_contract(environ, recorded, refusal):
    with pytest.raises(settings.ServingConfigError, match=refusal):
        settings.security_of({"profile": recorded}, environ)


def test_production_with_a_token_serves_checked_and_locally_everything_is_switchable():
    secured = settings.security_of(
        {"profile": "local"}, {"TWELVE_PROFILE": "production", "TWELVE_SERVING_TOKEN": "t0k"}
    )
    assert (secured.production, secured.token, secured.contract) == (True, "t0k", True)
    local = settings.security_of(
        {"profile": "local"}, {"TWELVE_SERVING_CONTRACT": "off", "TWELVE_SERVING_MONITORING": "0"}
    )
    assert (local.production, local.token, local.contract, local.monitoring) == (
        False, "", False, False,
    )  # fmt: skip


def test_a_bento_records_the_profile_it_was_built_for(tmp_path, monkeypatch):
    monkeypatch.setenv("TWELVE_PROFILE", "production")
    config = settings.resolve_serving_config(SERVICE_DIR, tmp_path, profile="production")
    assert config["profile"] == "production"
    assert settings.resolve_serving_config(SERVICE_DIR, tmp_path)["profile"] == "local"


# --------------------------------------------------------------------------- batching
def test_concurrent_requests_are_scored_together_in_order():
    from twelve.serving.batching import Batcher

    batches = []

    def score_many(jobs):
        batches.append(list(jobs))
        return [job * 10 for job in jobs]

    async def burst():
        batcher = Batcher(score_many, rows_of=lambda job: 1, max_rows=100)
        alone = await batcher.submit(0)  # nothing waits for a batch to fill
        together = await asyncio.gather(*(batcher.submit(n) for n in range(1, 9)))
        return alone, together

    alone, together = asyncio.run(burst())
    assert alone == 0
    assert together == [n * 10 for n in range(1, 9)]
    assert batches[0] == [0]
    assert len(batches) < 9
    assert sorted(job for batch in batches[1:] for job in batch) == list(range(1, 9))


def test_a_batch_is_bounded_in_rows_and_a_failure_fails_only_its_own_batch():
    from twelve.serving.batching import Batcher

    sizes = []

    def score_many(jobs):
        sizes.append(sum(jobs))
        if 99 in jobs:
            raise RuntimeError("the store is down")
        return jobs

    async def burst():
        batcher = Batcher(score_many, rows_of=lambda job: job, max_rows=10)
        return await asyncio.gather(
            *(batcher.submit(n) for n in (4, 4, 4, 99, 4)), return_exceptions=True
        )

    results = asyncio.run(burst())
    assert results[:3] == [4, 4, 4]
    assert results[4] == 4
    assert isinstance(results[3], RuntimeError)
    assert max(size for size in sizes if size != 99) <= 10  # 4 + 4, then 4: never above


def test_in_one_batch_a_request_breaking_the_contract_is_refused_alone(service_instance):
    service, instance = service_instance

    async def together():
        flights = (_flights(service), _flights(service, distance=-1.0))
        good, bad = (service.request_values(f, "America/New_York") for f in flights)
        return await asyncio.gather(
            instance.answer("predict", good, service.PredictionResponse),
            instance.answer("predict", bad, service.PredictionResponse),
        )

    good, bad = asyncio.run(together())
    assert isinstance(good, service.PredictionResponse)
    assert len(good.predictions) == 1
    assert bad.status_code == 422
    assert json.loads(bad.body)["fields"] == ["distance"]
