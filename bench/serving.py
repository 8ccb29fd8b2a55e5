"""Benchmark: serving throughput and latency (`python bench/serving.py`), not a timed test.

In one run on this machine, against the same fitted Pipeline (January 2013 flights) and the same
feature store (real Jan-Feb 2013 weather, the plane registry), each server alone:

  (a) the bento (`bentoml serve`) with the contract gate and whylogs monitoring on,
  (b) the same bento with both off (TWELVE_SERVING_CONTRACT=off, TWELVE_SERVING_MONITORING=off),
  (c) a plain FastAPI + uvicorn app serving the same Pipeline, what a user would write instead
      (pydantic rows -> DataFrame -> predict_proba; no contract, no monitoring, no metrics).

A Python asyncio client (a minimal keep-alive HTTP/1.1 client: `_Connection` says why) sends
`/predict_features` requests of 1 and 100 rows at concurrency 1 and 16 for a fixed time each,
and `/predict` (raw fields, online features) for (a) and (b). Prints requests/s, rows/s, p50
and p99 latency per cell; then the tail: 1,000 sequential 1-row requests at concurrency 1 per
server and endpoint (p50, p99, max); then the goals of the issue "Serving at the speed users
expect", each with its figure: /predict of (a) p50 <= 3 ms and p99 <= 10 ms (the tail run),
>= 400 requests/s for single rows at concurrency 16, >= 20,000 rows/s for 100-row requests,
a/b >= 0.95 and a/c >= 1.0 in every cell.

Caveat: client and server share the machine's 2 cores; the client's own CPU use lowers every
figure about equally, so compare ratios rather than absolute numbers.

The machine's load average is printed at the start and the end: on a shared machine it moves
every figure.

Usage: python bench/serving.py [--seconds 4] [--tail 1000] [--keep]
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the bento test helpers build the model and store

log = logging.getLogger("bench.serving")


# --------------------------------------------------------------------------- (c) plain FastAPI
def fastapi_app(pipeline_file: str, threshold: float):
    """The app a user would write: the service's pydantic rows -> a typed frame -> the Pipeline."""
    import importlib.util

    import joblib
    import pandas as pd
    from fastapi import Body, FastAPI

    spec = importlib.util.spec_from_file_location(
        "bench_service", REPO / "bentos" / "flight_delay" / "service.py"
    )
    service = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = service  # pydantic resolves the schemas' annotations there
    spec.loader.exec_module(service)
    pipeline = joblib.load(pipeline_file)
    columns = list(pipeline.feature_names_in_)
    late = list(pipeline.classes_).index(1)
    # The training set's dtypes: whole numbers int64, other numbers float64 (NaN for gaps).
    whole = {"sched_dep_hour", "day_of_week", "month"}
    dtypes = {name: "int64" if name in whole else "float64" for name in columns
              if name not in ("carrier", "origin", "dest", "plane_type", "plane_manufacturer",
                              "plane_engine")}  # fmt: skip
    app = FastAPI()
    row_model = service.FeatureRow

    # No `from __future__ import annotations` in this file: FastAPI reads this annotation.
    @app.post("/predict_features")
    def predict_features(rows: Annotated[list[row_model], Body(embed=True)]) -> dict:
        frame = pd.DataFrame([row.model_dump() for row in rows], columns=columns).astype(dtypes)
        probabilities = pipeline.predict_proba(frame)[:, late]
        return {
            "predictions": [
                {"probability": float(p), "label": int(p >= threshold)} for p in probabilities
            ]
        }

    @app.get("/readyz")
    def readyz() -> dict:
        return {"ready": True}

    return app


# --------------------------------------------------------------------------- servers
def _wait_ready(url: str, process: subprocess.Popen, log_file: Path, timeout: float = 120) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited {process.returncode}:\n{log_file.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s:\n{log_file.read_text()[-3000:]}")


def _start(command: list[str], env: dict, log_file: Path, port: int) -> subprocess.Popen:
    with log_file.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _wait_ready(f"http://127.0.0.1:{port}", process, log_file)
    return process


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- load client
class _Connection:
    """One keep-alive HTTP/1.1 connection sending the same POST again and again.

    Why not httpx: on this machine it spent about 3 ms of CPU per request, more than the servers
    it measured (a trivial BentoML service answered 185 requests/s at concurrency 16 under httpx
    and 570 under this client): the figures were the client's. This client writes the request
    bytes and reads the status line, the headers and ``content-length`` bytes: tens of
    microseconds per request, the same for (a), (b) and (c).
    """

    def __init__(self, url: str, payload: bytes) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.request = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        self.reader = self.writer = None

    async def post(self) -> tuple[int, bytes]:
        """Send the request, return the status and the body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = int(head.split(b" ", 2)[1]), None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"no content-length in the answer: {head[:300]!r}")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _load(url: str, payload: bytes, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    connections = [_Connection(url, payload) for _ in range(concurrency)]

    async def worker(connection: _Connection, deadline: float, record: bool) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _ = await connection.post()
            elapsed = time.perf_counter() - started
            if status != 200:
                errors += 1
            elif record:
                latencies.append(elapsed)

    warmup = time.perf_counter() + min(1.0, seconds / 4)
    await asyncio.gather(*(worker(c, warmup, False) for c in connections))
    began = time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(*(worker(c, deadline, True) for c in connections))
    wall = time.perf_counter() - began
    for connection in connections:
        connection.close()
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "errors": errors,
        "rps": count / wall,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(count - 1, int(0.99 * count))]
        if latencies
        else float("nan"),
    }


async def _tail(url: str, payload: bytes, count: int) -> dict:
    """``count`` sequential requests on one connection: p50, p99 and max latency."""
    connection = _Connection(url, payload)
    latencies = []
    for _ in range(20):  # warm-up
        await connection.post()
    for _ in range(count):
        started = time.perf_counter()
        status, body = await connection.post()
        latencies.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}: {body[:300]!r}")
    connection.close()
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * len(latencies)) - 1],
        "max_ms": 1000 * latencies[-1],
    }


# --------------------------------------------------------------------------- main
SERVERS = {
    "a bento, contract+monitoring": {},
    "b bento, both off": {"TWELVE_SERVING_CONTRACT": "off", "TWELVE_SERVING_MONITORING": "off"},
    "c FastAPI+uvicorn": None,
}


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _setup(root: Path) -> dict:
    """The feature store, a January model, its bento, and the request payloads."""
    import bento_support as support

    from twelve.deploy.bento import PIPELINE_FILE, model_dir
    from twelve.deploy.bento_server import json_rows

    home = root / "home"
    log.info("building the feature store, the model and its bento in %s", root)
    support.build_feature_store(root, home)
    pipeline = support.fit_pipeline(support.training_rows())
    registered = support.register_model(root / "mlflow", pipeline, profiles_root=home / "profiles")
    built = support.package(registered, home / "bentoml")
    rows = support.training_rows().sample(100, random_state=0)
    flights = support.raw_holdout_flights(100)
    raw = [
        {
            "carrier": f.carrier, "origin": f.origin, "dest": f.dest,
            "tailnum": f.tailnum if isinstance(f.tailnum, str) else None,
            "scheduled_departure": f.scheduled_departure.isoformat(),
            "distance": float(f.distance),
        }
        for f in flights.itertuples()
    ]  # fmt: skip
    columns = support.MODEL_INPUT_COLUMNS
    return {
        "tag": built.tag,
        "pipeline_file": model_dir(home / "bentoml", built.model_tag) / PIPELINE_FILE,
        "threshold": support.THRESHOLD,
        "payloads": {
            ("predict_features", 1): {"rows": json_rows(rows.head(1), columns)},
            ("predict_features", 100): {"rows": json_rows(rows, columns)},
            ("predict", 1): {"flights": raw[:1]},
            ("predict", 100): {"flights": raw},
        },
    }


def _measure(name: str, extra: dict | None, setup: dict, root: Path, args) -> tuple[list, list]:
    """Start one server, run its cells and its tail, stop it."""
    from twelve.deploy.bento import bentoml_env
    from twelve.testing import free_port

    port, home = free_port(), root / "home"
    if extra is None:
        command = [sys.executable, __file__, "--serve-fastapi", str(setup["pipeline_file"]),
                   str(setup["threshold"]), str(port)]  # fmt: skip
        env = dict(os.environ)
    else:
        command = [sys.executable, "-m", "bentoml", "serve", setup["tag"], "--host",
                   "127.0.0.1", "--port", str(port)]  # fmt: skip
        env = {**bentoml_env(home / "bentoml"), "TWELVE_PROFILE_INTERVAL_SECONDS": "5", **extra}
    log.info("starting %s", name)
    process = _start(command, env, root / f"{name[0]}.log", port)
    cells, tails = [], []
    endpoints = ("predict_features",) if extra is None else ("predict_features", "predict")
    try:
        for endpoint in endpoints:
            url = f"http://127.0.0.1:{port}/{endpoint}"
            for size in (1, 100):
                payload = json.dumps(setup["payloads"][(endpoint, size)]).encode()
                for concurrency in (1, 16):
                    figures = asyncio.run(_load(url, payload, concurrency, args.seconds))
                    figures.update(
                        server=name,
                        endpoint=endpoint,
                        rows=size,
                        concurrency=concurrency,
                        rows_per_s=figures["rps"] * size,
                    )
                    cells.append(figures)
                    log.info("%-30s %-17s rows=%-3d c=%-2d %8.1f req/s %9.1f rows/s p50 %6.2f ms "
                             "p99 %7.2f ms errors %d", name, endpoint, size, concurrency,
                             figures["rps"], figures["rows_per_s"], figures["p50_ms"],
                             figures["p99_ms"], figures["errors"])  # fmt: skip
            one = json.dumps(setup["payloads"][(endpoint, 1)]).encode()
            tail = asyncio.run(_tail(url, one, args.tail))
            tails.append({"server": name, "endpoint": endpoint, "requests": args.tail, **tail})
    finally:
        _stop(process)
    return cells, tails


def _report(table, tails, profiles: int) -> str:
    """The ratios and the goals, every figure printed whether met or not."""

    def cell(server: str, endpoint: str, size: int, concurrency: int):
        chosen = table.server.str.startswith(server) & (table.endpoint == endpoint)
        return table[chosen & (table.rows == size) & (table.concurrency == concurrency)].iloc[0]

    lines = ["ratios of throughput (goal: a/b >= 0.95, a/c >= 1.0 in every cell):"]
    for endpoint in ("predict_features", "predict"):
        for size in (1, 100):
            for concurrency in (1, 16):
                a = cell("a", endpoint, size, concurrency).rps
                text = f"  {endpoint:17s} rows={size:<3d} c={concurrency:<2d} a/b " \
                       f"{a / cell('b', endpoint, size, concurrency).rps:5.2f}"  # fmt: skip
                if endpoint == "predict_features":
                    text += f"   a/c {a / cell('c', endpoint, size, concurrency).rps:5.2f}"
                lines.append(text)
    tail = tails[(tails.server.str.startswith("a")) & (tails.endpoint == "predict")].iloc[0]
    single = cell("a", "predict", 1, 16).rps
    hundred = min(cell("a", e, 100, c).rows_per_s for e in ("predict", "predict_features")
                  for c in (1, 16))  # fmt: skip
    best_hundred = max(cell("a", e, 100, 16).rows_per_s for e in ("predict", "predict_features"))
    lines += [
        "goals, (a) = the bento with contract and monitoring:",
        f"  /predict 1 row c=1, {tail.requests} sequential: p50 {tail.p50_ms:.2f} ms (<= 3), "
        f"p99 {tail.p99_ms:.2f} ms (<= 10), max {tail.max_ms:.2f} ms",
        f"  /predict 1 row c=16: {single:.0f} requests/s (>= 400)",
        f"  100-row requests: {best_hundred:.0f} rows/s at c=16, lowest cell {hundred:.0f} "
        "(>= 20,000)",
        f"serving profiles written by (a) during the run: {profiles}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured time per cell")
    parser.add_argument("--tail", type=int, default=1000, help="sequential requests for the tail")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--serve-fastapi", nargs=3, metavar=("PIPELINE", "THRESHOLD", "PORT"))
    args = parser.parse_args()
    if args.serve_fastapi:
        import uvicorn

        pipeline_file, threshold, port = args.serve_fastapi
        app = fastapi_app(pipeline_file, float(threshold))
        uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("mlflow", "feast", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A SIGTERM to the benchmark stops its servers too (finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from twelve.core.environment import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)
    root = Path(tempfile.mkdtemp(prefix="twelve-bench-serving-"))
    os.environ["TWELVE_HOME"] = str(root / "home")
    os.environ["BENTOML_HOME"] = str(root / "home" / "bentoml")
    import pandas as pd

    started_load = _load_average()
    setup = _setup(root)
    cells, tails = [], []
    for name, extra in SERVERS.items():
        server_cells, server_tails = _measure(name, extra, setup, root, args)
        cells += server_cells
        tails += server_tails
    table, tail_table = pd.DataFrame(cells), pd.DataFrame(tails)
    shown = ["server", "endpoint", "rows", "concurrency", "rps", "rows_per_s", "p50_ms",
             "p99_ms", "errors"]  # fmt: skip
    float_format = lambda v: f"{v:.2f}"  # noqa: E731
    profiles = len(list((root / "home" / "serving_profiles").rglob("*.bin")))
    sys.stdout.write(
        f"\nmachine: {os.cpu_count()} cores, load average {started_load} at start, "
        f"{_load_average()} at end\n\n"
        + table[shown].to_string(index=False, float_format=float_format)
        + "\n\ntail, 1-row requests one after the other at concurrency 1:\n"
        + tail_table.to_string(index=False, float_format=float_format)
        + "\n\n"
        + _report(table, tail_table, profiles)
        + "\n"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
