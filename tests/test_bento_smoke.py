"""The built bento serves: `bentoml serve <tag>` on a free 127.0.0.1 port answers real holdout rows
with exactly the probabilities of the in-process Pipeline, and stops when asked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from bento_support import (
    MODEL_INPUT_COLUMNS,
    THRESHOLD,
    build_feature_store,
    fit_pipeline,
    holdout_rows,
    package,
    register_model,
    training_rows,
)

from twelve.deploy.bento import bentoml_env
from twelve.deploy.bento_server import json_rows
from twelve.testing import free_port

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 90


def _records(frame) -> list[dict]:
    """JSON-ready model input rows."""
    return json_rows(frame, MODEL_INPUT_COLUMNS)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_ready(url: str, server: subprocess.Popen, log_file: Path) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if server.poll() is not None:
            pytest.fail(f"bentoml serve exited with {server.returncode}:\n{log_file.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"/readyz not ready after {READY_TIMEOUT_S} s:\n{log_file.read_text()[-4000:]}")


def test_served_bento_predicts_holdout_rows_like_the_pipeline(tmp_path: Path, monkeypatch):
    import bentoml

    # The service is ready only with its feature store: one in a throw-away TWELVE_HOME.
    monkeypatch.setenv("TWELVE_HOME", str(tmp_path / "home"))
    build_feature_store(tmp_path, tmp_path / "home")
    pipeline = fit_pipeline(training_rows())
    registered = register_model(tmp_path / "mlflow", pipeline)
    home = tmp_path / "bentoml"
    built = package(registered, home)
    holdout = holdout_rows()
    expected = pipeline.predict_proba(holdout[MODEL_INPUT_COLUMNS])[:, 1]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "serve.log"
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                built.tag,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=bentoml_env(home),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole below
        )
    try:
        ready_after = _wait_ready(url, server, log_file)
        print(f"bento {built.tag} ready after {ready_after:.1f} s")
        with bentoml.SyncHTTPClient(url, timeout=30) as client:
            answer = client.predict_features(rows=_records(holdout))
        # The served bento records the TWELVE_HOME it was built for (feature store, profiles).
        assert (tmp_path / "home" / "feast_online_store.db").is_file()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        stopped_by_sigterm = True
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stopped_by_sigterm = False
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        finally:
            deadline = time.monotonic() + 15
            while _group_alive(server.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _group_alive(server.pid):
                os.killpg(server.pid, signal.SIGKILL)
                pytest.fail("bentoml serve's processes outlived SIGTERM by 15 s")

    probabilities = [row["probability"] for row in answer["predictions"]]
    assert probabilities == pytest.approx(list(expected), rel=1e-9, abs=1e-12)
    assert [row["label"] for row in answer["predictions"]] == [
        int(p >= THRESHOLD) for p in expected
    ]
    assert answer["model_version"] == registered.ref.version
    assert answer["registered_model"] == registered.ref.registered_model
    assert answer["bento_tag"] == built.tag
    assert answer["threshold"] == THRESHOLD
    # SIGTERM stopped it within 30 s, and it exited cleanly (shutdown hooks ran), not killed.
    assert stopped_by_sigterm, "bentoml serve ignored SIGTERM for 30 s and had to be killed"
    assert server.returncode == 0, f"bentoml serve exited {server.returncode} on SIGTERM"
    assert not _group_alive(server.pid)
