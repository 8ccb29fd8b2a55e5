"""The built bento, served by `bentoml serve` on a free 127.0.0.1 port, over HTTP.

One server for the whole module (starting it takes seconds): a real model fitted on January 2013
flights, the real feature repo applied and materialized over real weather and plane records, a
bearer token and a 1 s profiling interval. Checked here: parity with the offline predictions for
real holdout flights, features from the online store, unknown entities, error mapping (400, 415,
422 naming the fields, 401), readiness, monitoring profiles and the Prometheus metrics.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from bento_support import (
    MODEL_INPUT_COLUMNS,
    THRESHOLD,
    build_served_bento,
    holdout_rows,
    http_get,
    online_values,
    raw_holdout_flights,
    request_body,
    start_server,
    stop_server,
    training_rows,
)

from twelve.core.environment import OFFLINE_ENV
from twelve.deploy.bento_server import json_rows

pytestmark = pytest.mark.slow

TOKEN = "s3cret-token"
STRING_COLUMNS = ["carrier", "origin", "dest", "plane_type", "plane_manufacturer", "plane_engine"]


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready model input rows."""
    return json_rows(frame, MODEL_INPUT_COLUMNS)


def _post(url: str, body: bytes | str | dict | list, token: str | None = TOKEN, **headers):
    data = (
        body
        if isinstance(body, bytes)
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", headers.pop("content_type", "application/json"))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The bento of a January model served with the real feature repo's online store."""
    root = tmp_path_factory.mktemp("serving")
    home = root / "home"
    patch = pytest.MonkeyPatch()
    for name, value in OFFLINE_ENV.items():
        patch.setenv(name, value)
    patch.setenv("TWELVE_HOME", str(home))
    patch.setenv("BENTOML_HOME", str(home / "bentoml"))
    started = time.perf_counter()
    built, registered, pipeline = build_served_bento(root, home)
    setup_seconds = time.perf_counter() - started
    extra = {"TWELVE_SERVING_TOKEN": TOKEN, "TWELVE_PROFILE_INTERVAL_SECONDS": "1"}
    try:
        server, url, not_ready_seen, ready_s = start_server(built.tag, home, root, extra)
    except RuntimeError as error:
        patch.undo()
        pytest.fail(str(error))
    try:
        print(f"setup {setup_seconds:.1f} s, ready after {ready_s:.1f} s")
        yield SimpleNamespace(
            url=url,
            home=home,
            built=built,
            registered=registered,
            pipeline=pipeline,
            log_file=root / "serve.log",
            server=server,
            not_ready_seen=not_ready_seen,
        )
    finally:
        stop_server(server)
        patch.undo()


def _expected_frame(flights: pd.DataFrame) -> pd.DataFrame:
    """The model input an offline reader assembles: raw fields, dbt's calendar, latest features."""
    rows = []
    for flight in flights.itertuples():
        tailnum = flight.tailnum if isinstance(flight.tailnum, str) else "UNKNOWN"
        rows.append(
            {
                "carrier": flight.carrier,
                "origin": flight.origin,
                "dest": flight.dest,
                "distance": float(flight.distance),
                "sched_dep_hour": int(flight.sched_dep_hour),
                "day_of_week": int(flight.day_of_week),
                "month": int(flight.month),
                **online_values("origin", flight.origin),
                **online_values("tailnum", tailnum),
                **online_values("carrier", flight.carrier),
            }
        )
    frame = pd.DataFrame(rows).reindex(columns=MODEL_INPUT_COLUMNS)
    for column in MODEL_INPUT_COLUMNS:
        if column in STRING_COLUMNS:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        elif column not in ("sched_dep_hour", "day_of_week", "month"):
            frame[column] = frame[column].astype("float64")
    return frame


# --------------------------------------------------------------------------- predictions
def test_readyz_was_false_until_the_feature_store_was_loaded(served):
    assert served.not_ready_seen
    assert http_get(f"{served.url}/livez")[0] == 200


def test_assembled_holdout_rows_get_exactly_the_offline_probabilities(served, parity):
    holdout = pd.concat([holdout_rows(), training_rows().tail(60)], ignore_index=True)
    expected = served.pipeline.predict_proba(holdout[MODEL_INPUT_COLUMNS])[:, 1]
    status, answer = _post(f"{served.url}/predict_features", {"rows": _records(holdout)})
    assert status == 200, answer
    probabilities = [row["probability"] for row in answer["predictions"]]
    # Asserted and recorded as flight_delays' parity evidence (what `twelve audit` reads).
    parity("flight_delays", probabilities, list(expected))
    assert [row["label"] for row in answer["predictions"]] == [
        int(p >= THRESHOLD) for p in expected
    ]
    assert answer["model_version"] == served.registered.ref.version
    assert answer["bento_tag"] == served.built.tag


def test_raw_flights_are_scored_with_features_from_the_online_store(served):
    flights = raw_holdout_flights(40)
    expected_frame = _expected_frame(flights)
    expected = served.pipeline.predict_proba(expected_frame)[:, 1]

    status, answer = _post(f"{served.url}/predict", request_body(flights))

    assert status == 200, answer
    probabilities = [row["probability"] for row in answer["predictions"]]
    assert probabilities == pytest.approx(list(expected), rel=1e-9, abs=1e-12)
    assert answer["model_version"] == served.registered.ref.version
    assert answer["registered_model"] == "flight_delays"
    assert answer["bento_tag"] == served.built.tag
    # The features did come from the store: a plane-less answer would differ.
    assert expected_frame["plane_seats"].notna().sum() > 30


def test_a_local_schedule_without_offset_gives_the_same_answer(served):
    flights = raw_holdout_flights(5)
    body = request_body(flights)
    for flight, row in zip(body["flights"], flights.itertuples(), strict=True):
        local = row.scheduled_departure.tz_convert("America/New_York").tz_localize(None)
        flight["scheduled_departure"] = local.isoformat()
    _, with_offset = _post(f"{served.url}/predict", request_body(flights))
    status, without = _post(f"{served.url}/predict", body)
    assert status == 200
    assert without["predictions"] == with_offset["predictions"]


def test_an_unknown_tail_number_is_scored_without_plane_features_and_flagged(served):
    flights = raw_holdout_flights(3)
    flights["tailnum"] = ["N0T-A-PLANE", None, flights["tailnum"].iloc[2]]
    expected_frame = _expected_frame(
        flights.assign(tailnum=["N0T-A-PLANE", None, flights["tailnum"].iloc[2]])
    )
    expected = served.pipeline.predict_proba(expected_frame)[:, 1]

    status, answer = _post(f"{served.url}/predict", request_body(flights))

    assert status == 200, answer
    assert [p["unknown_entities"] for p in answer["predictions"]][:2] == [["tailnum"], ["tailnum"]]
    assert [p["probability"] for p in answer["predictions"]] == pytest.approx(list(expected))
    assert expected_frame["plane_type"].iloc[:2].isna().all()


# --------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [(b'{"flights": [', "application/json", 400, "malformed JSON"),
     (b"[1, 2]", "application/json", 400, "malformed JSON"),
     (b"flights=1", "text/plain", 415, "unsupported content type"),
     (b"--x\r\n", "multipart/form-data", 415, "unsupported content type")],
)  # fmt: skip
def test_a_malformed_body_is_a_client_error_not_a_500(served, body, content_type, status, error):
    code, answer = _post(f"{served.url}/predict", body, content_type=content_type)
    assert code == status
    assert error in answer["error"]


def test_fields_of_the_wrong_type_or_unknown_are_422_naming_each_field(served):
    flight = {**request_body(raw_holdout_flights(1))["flights"][0]}
    bad = [
        {**flight, "distance": "far"},
        {**flight, "scheduled_departure": "tomorrow"},
        {**flight, "dep_delay": 12.0},
    ]
    code, answer = _post(f"{served.url}/predict", {"flights": bad})
    assert code == 422
    assert set(answer["fields"]) == {
        "flights[0].distance",
        "flights[1].scheduled_departure",
        "flights[2].dep_delay",
    }
    assert all(problem["message"] for problem in answer["problems"])


def test_values_breaking_the_contract_are_422_naming_each_field_and_why(served):
    flight = {**request_body(raw_holdout_flights(1))["flights"][0]}
    code, answer = _post(
        f"{served.url}/predict",
        {"flights": [{**flight, "distance": -5.0}, {**flight, "carrier": "ZZ"}]},
    )
    assert code == 422
    assert answer["error"] == "contract violation"
    assert answer["contract"] == "flight_delay_model_input"
    by_field = {problem["field"]: problem for problem in answer["problems"]}
    assert set(by_field) == {"distance", "carrier"}
    assert by_field["distance"]["kind"] == "range"
    assert "-5" in by_field["distance"]["message"]
    assert by_field["carrier"]["kind"] == "category"
    assert "'ZZ'" in by_field["carrier"]["message"]


def test_assembled_rows_breaking_the_contract_are_422_too(served):
    row = _records(holdout_rows())[0]
    code, answer = _post(
        f"{served.url}/predict_features", {"rows": [{**row, "pressure": 20.0, "origin": "BOS"}]}
    )
    assert code == 422
    assert set(answer["fields"]) == {"pressure", "origin"}


@pytest.mark.parametrize("token", [None, "wrong"])
def test_without_the_bearer_token_the_api_refuses_with_401(served, token):
    code, answer = _post(f"{served.url}/predict", request_body(raw_holdout_flights(1)), token=token)
    assert code == 401
    assert "Bearer" in answer["error"]
    # Probes stay open.
    assert http_get(f"{served.url}/readyz")[0] == 200


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [({}, "set TWELVE_SERVING_TOKEN"),
     ({"TWELVE_SERVING_TOKEN": TOKEN, "TWELVE_SERVING_CONTRACT": "off"},
      "TWELVE_SERVING_CONTRACT=off is refused under the production profile")],
    ids=["no token", "contract off"],
)  # fmt: skip
def test_under_the_production_profile_the_bento_refuses_to_start_unsecured(
    served, tmp_path, extra, refusal
):
    import shutil

    # A BentoML home of its own: a server clears its home's metrics folder when it starts.
    home = tmp_path / "home"
    for store in ("bentos", "models"):
        shutil.copytree(served.home / "bentoml" / store, home / "bentoml" / store)
    environment = {"TWELVE_PROFILE": "production", "TWELVE_SERVING_TOKEN": "", **extra}
    # PT012 allowed: stopped in the block in case the server wrongly starts (the test fails).
    with pytest.raises(RuntimeError, match=refusal):  # noqa: PT012
        server, *_ = start_server(served.built.tag, home, tmp_path, environment, refusal)
        stop_server(server)


# --------------------------------------------------------------------------- monitoring, metrics
def _metrics(served) -> dict[str, float]:
    """``/metrics`` as sample line (name and labels) -> value."""
    status, text = http_get(f"{served.url}/metrics")
    assert status == 200
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _wait_for(condition, what: str, timeout: float = 20.0):
    """Poll ``condition()`` until it returns a truthy value; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout} s")


def _every_scored_row_profiled(served) -> bool:
    """Whether the monitor has written every row scored so far (nothing left in its buffer)."""
    samples = _metrics(served)
    scored = sum(v for k, v in samples.items() if k.startswith("flight_delay_rows_scored_total"))
    return samples.get("flight_delay_profiled_rows_total", 0.0) == scored


def _profile_files(served) -> set[Path]:
    folder = served.home / "serving_profiles" / served.built.model_tag.split(":", 1)[1]
    return set(folder.glob("*.bin"))


def test_scored_rows_are_profiled_in_the_background_with_their_inputs(served):
    from whylogs.core import DatasetProfileView

    from twelve.monitoring.profiling import row_count

    # Rows of earlier tests are written first: only this test's rows land in new files.
    _wait_for(lambda: _every_scored_row_profiled(served), "profiling of earlier rows")
    before = _profile_files(served)
    flights = raw_holdout_flights(40)
    sent = 0
    for start in range(0, 40, 8):  # 5 requests, 8 flights each
        status, _ = _post(f"{served.url}/predict", request_body(flights.iloc[start : start + 8]))
        assert status == 200
        sent += 8
    deadline = time.monotonic() + 15
    views = []
    while time.monotonic() < deadline:
        new = sorted(_profile_files(served) - before)
        views = [DatasetProfileView.deserialize(path.read_bytes()) for path in new]
        if sum(row_count(view) for view in views) >= sent:
            break
        time.sleep(0.3)
    merged = views[0]
    for view in views[1:]:
        merged = merged.merge(view)
    assert row_count(merged) == sent
    distance = merged.get_column("distance").to_summary_dict()
    assert distance["counts/n"] == sent
    assert distance["distribution/min"] == pytest.approx(flights["distance"].min())
    assert distance["distribution/max"] == pytest.approx(flights["distance"].max())
    assert distance["distribution/mean"] == pytest.approx(flights["distance"].mean())
    carriers = merged.get_column("carrier").to_summary_dict()
    assert carriers["counts/n"] == sent
    assert "probability" in merged.get_columns()
    sidecar = json.loads(
        sorted(_profile_files(served) - before)[0].with_suffix(".json").read_text()
    )
    assert sidecar["model_tag"] == served.built.model_tag
    assert sidecar["bento_tag"] == served.built.tag
    assert sidecar["reference_profile_version"]


def test_metrics_expose_latency_rows_rejections_process_and_model_version(served):
    _post(f"{served.url}/predict", request_body(raw_holdout_flights(2)))
    flight = request_body(raw_holdout_flights(1))["flights"][0]
    _post(f"{served.url}/predict", {"flights": [{**flight, "distance": -1.0}]})
    # The process sampler records CPU time and memory every 2 s: wait for its first sample.
    _wait_for(
        lambda: _metrics(served).get("flight_delay_process_cpu_seconds", 0.0) > 0,
        "a process CPU sample",
    )
    status, text = http_get(f"{served.url}/metrics")
    assert status == 200
    lines = text.splitlines()

    def value(prefix: str) -> float:
        found = [line for line in lines if line.startswith(prefix)]
        assert found, f"no metric line starts with {prefix!r}"
        return float(found[0].rsplit(" ", 1)[1])

    assert value('flight_delay_rows_scored_total{endpoint="predict"}') >= 2
    assert value('flight_delay_prediction_seconds_count{endpoint="predict"}') >= 1
    assert value('flight_delay_contract_rejections_total{field="distance",kind="range"}') >= 1
    assert value("flight_delay_process_resident_memory_bytes") > 50e6
    assert value("flight_delay_process_cpu_seconds") > 0
    # Monitoring's own health: rows dropped when its bound is hit (none here), failed profiles.
    assert value("flight_delay_monitoring_dropped_rows_total") == 0
    assert value("flight_delay_profile_failures_total") == 0
    assert value("flight_delay_batch_rows_count") >= 1
    version = served.registered.ref.version
    info = [line for line in lines if line.startswith("flight_delay_model_info{")]
    assert info
    assert f'model_version="{version}"' in info[0]
    assert info[0].endswith(" 1.0")
    # BentoML's own request metrics, by endpoint and status.
    assert any(
        line.startswith("bentoml_service_request_total") and 'endpoint="/predict"' in line
        for line in lines
    )
    assert any('http_response_code="422"' in line for line in lines if "request_total" in line)


def test_client_errors_leave_no_traceback_noise_and_no_500(served):
    text = served.log_file.read_text()
    assert " 500 " not in text
    assert "ValidationError" not in text


def test_predictions_match_numpy_tolerance_for_many_rows(served):
    rows = training_rows().sample(500, random_state=1)
    expected = served.pipeline.predict_proba(rows[MODEL_INPUT_COLUMNS])[:, 1]
    status, answer = _post(f"{served.url}/predict_features", {"rows": _records(rows)})
    assert status == 200
    got = np.array([p["probability"] for p in answer["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- skew
def test_the_skew_report_compares_served_inputs_with_the_training_reference(served):
    from twelve.monitoring import skew

    flights = raw_holdout_flights(200)
    for start in range(0, 200, 50):
        assert (
            _post(f"{served.url}/predict", request_body(flights.iloc[start : start + 50]))[0] == 200
        )
    _wait_for(lambda: _every_scored_row_profiled(served), "profiling of the served rows")

    report = skew.run_skew(twelve_home=served.home)

    assert report.model_version == served.built.model_tag.split(":", 1)[1]
    assert report.rows >= 200
    assert [r.feature for r in report.results] == MODEL_INPUT_COLUMNS
    by_feature = {r.feature: r for r in report.results}
    # January training vs February serving: the month itself is the textbook shift.
    assert by_feature["month"].verdict == "drift"
    assert by_feature["origin"].verdict in ("ok", "warn")
    page = report.report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") >= 20
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched from the web


def test_the_skew_command_and_asset_report_the_same_verdicts(served, capsys):
    import argparse

    import dagster as dg

    from flight_delays.definitions import build_defs
    from twelve.cli.commands import skew as skew_command

    parser = argparse.ArgumentParser()
    skew_command.register(parser.add_subparsers())
    args = parser.parse_args(["skew", "--json", "--fail-on-drift"])
    code = args.func(args)
    body = json.loads(capsys.readouterr().out)
    assert code == 1
    assert body["verdicts"]["drift"] >= 1

    # The asset leaves `month` out (its defs.yaml): so does the command with --exclude.
    args = parser.parse_args(["skew", "--json", "--exclude", "month"])
    assert args.func(args) == 0
    body = json.loads(capsys.readouterr().out)
    assert "month" not in {result["feature"] for result in body["results"]}

    result = dg.materialize([build_defs().resolve_assets_def("serving_skew")])
    assert result.success
    metadata = result.asset_materializations_for_node("serving_skew")[0].metadata
    assert metadata["verdicts"].value == body["verdicts"]
    assert Path(metadata["report"].value).is_file()
