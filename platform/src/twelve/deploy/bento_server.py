"""Serve a built bento on 127.0.0.1 for as long as a ``with`` block lasts.

``bentoml serve TAG`` runs in its own process group on a free port; the block starts once
``/readyz`` answers 200, and leaving it sends SIGTERM to the whole group (BentoML then runs its
shutdown hooks, e.g. the serving monitor writes its last whylogs profile) and SIGKILLs whatever
outlives the grace period. Used by ``twelve replay`` to send each month's traffic to the champion.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twelve.deploy.bento import bentoml_env

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 30.0


class BentoServerError(RuntimeError):
    """The server exited or never became ready; the message ends with its log."""


@dataclass
class BentoServer:
    """A running ``bentoml serve``: where it answers and its log file."""

    tag: str
    url: str
    process: subprocess.Popen
    log_file: Path
    seconds_to_ready: float
    not_ready_seen: bool = False  # /readyz answered 503 before 200

    def post(self, path: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
        """POST JSON to ``path``: (status, decoded JSON body or text), HTTP errors included."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        token = os.environ.get("TWELVE_SERVING_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode()
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body


def json_rows(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Request rows of ``columns``: missing values as null, numpy scalars as Python numbers."""
    objects = frame[list(columns)].astype(object)
    return objects.where(frame[list(columns)].notna(), None).to_dict("records")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is still alive."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the server's process group, wait, SIGKILL whatever outlives ``grace`` seconds."""
    if process.poll() is None or group_alive(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (process.poll() is None or group_alive(process.pid)):
        time.sleep(0.2)
    if group_alive(process.pid):
        log.warning("bentoml serve (pid %d) outlived SIGTERM by %.0f s: killed", process.pid, grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def start(
    tag: str,
    bentoml_home: Path,
    workdir: Path,
    extra_env: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    fail_on: str | None = None,
    log_name: str | None = None,
) -> BentoServer:
    """Start ``bentoml serve TAG`` on a free 127.0.0.1 port and wait until ``/readyz`` says 200.

    The caller stops it (:func:`stop`); :func:`serving` does both around a ``with`` block.

    Args:
        tag: the bento tag (``name:version``).
        bentoml_home: the BentoML home that holds it.
        workdir: where the server runs and writes its log.
        extra_env: variables added to the server's environment.
        ready_timeout: seconds to wait for ``/readyz``.
        fail_on: a text that, once in the server's log, stops the wait (and the server) at once.
        log_name: the log file's name in ``workdir`` (default ``serve-<version>.log``).

    Raises:
        BentoServerError: the server exited, logged ``fail_on`` or was not ready in time (its
            log is in the message); it is stopped then.
    """
    port = free_port()
    env = bentoml_env(Path(bentoml_home))
    env.update(extra_env or {})
    workdir.mkdir(parents=True, exist_ok=True)
    log_file = workdir / (log_name or f"serve-{tag.rsplit(':', 1)[-1]}.log")
    with log_file.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", tag, "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    not_ready_seen = False
    while (status := _status(f"{url}/readyz")) != 200:
        not_ready_seen = not_ready_seen or status == 503
        log_text = log_file.read_text(errors="replace")
        if process.poll() is not None:
            stop(process)
            raise BentoServerError(f"bentoml serve {tag} exited {process.returncode}:\n{log_text}")
        if time.perf_counter() - began > ready_timeout or (fail_on and fail_on in log_text):
            stop(process)
            raise BentoServerError(f"/readyz of {tag} not ready:\n{log_text[-4000:]}")
        time.sleep(0.25)
    server = BentoServer(tag, url, process, log_file, time.perf_counter() - began, not_ready_seen)
    log.info("serving %s at %s (ready in %.1f s)", tag, url, server.seconds_to_ready)
    return server


@contextlib.contextmanager
def serving(
    tag: str,
    bentoml_home: Path,
    workdir: Path,
    extra_env: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> Iterator[BentoServer]:
    """Serve the bento ``tag`` from ``bentoml_home`` until the block ends (see :func:`start`).

    Raises:
        BentoServerError: the server exited or was not ready in time (its log is in the message).
    """
    server = start(tag, bentoml_home, workdir, extra_env, ready_timeout)
    try:
        yield server
    finally:
        stop(server.process)
