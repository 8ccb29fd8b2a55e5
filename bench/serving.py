"""Benchmark: serving throughput and latency (`python bench/serving.py`), not a timed test.

In one run on this machine, against the same fitted Pipeline (January 2013 flights) and the same
feature store (real Jan-Feb 2013 weather, the plane registry), each server alone:

  (a) the bento (`bentoml serve`) with the contract gate and whylogs monitoring on,
  (b) the same bento with both off (TWELVE_SERVING_CONTRACT=off, TWELVE_SERVING_MONITORING=off),
  (c) a plain FastAPI + uvicorn app serving the same Pipeline, what a user would write instead
      (pydantic rows -> DataFrame -> predict_proba; no contract, no monitoring, no metrics).

A Python asyncio client (httpx) sends `/predict_features` requests of 1 and 100 rows at
concurrency 1 and 16 for a fixed time each, and `/predict` (raw fields, Feast lookups) for (a)
and (b). Prints requests/s, rows/s, p50 and p99 latency per cell, then the ratios the issue asks
for: (a)/(b) and (a)/(c) throughput, p99 of 1 row at concurrency 1 for (a).

Caveat: client and server share the machine's 2 cores; the client's own CPU use lowers every
figure about equally, so compare ratios rather than absolute numbers.

Usage: python bench/serving.py [--seconds 4] [--keep]
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
    """The app a user would write: the same pydantic rows and frame typing, no extras."""
    import importlib.util

    import joblib
    from fastapi import Body, FastAPI

    spec = importlib.util.spec_from_file_location(
        "bench_service", REPO / "bentos" / "flight_delay" / "service.py"
    )
    service = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(service)
    pipeline = joblib.load(pipeline_file)
    columns = list(pipeline.feature_names_in_)
    late = list(pipeline.classes_).index(1)
    app = FastAPI()
    row_model = service.FeatureRow

    # No `from __future__ import annotations` in this file: FastAPI reads this annotation.
    @app.post("/predict_features")
    def predict_features(rows: Annotated[list[row_model], Body(embed=True)]) -> dict:
        frame = service.rows_to_frame(rows, columns)
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
async def _load(url: str, payload: bytes, concurrency: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        headers = {"content-type": "application/json"}

        async def worker(deadline: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, content=payload, headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    errors += 1
                elif record:
                    latencies.append(elapsed)

        warmup = time.perf_counter() + min(1.0, seconds / 4)
        await asyncio.gather(*(worker(warmup, False) for _ in range(concurrency)))
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(*(worker(deadline, True) for _ in range(concurrency)))
        wall = time.perf_counter() - began
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


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured time per cell")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--serve-fastapi", nargs=3, metavar=("PIPELINE", "THRESHOLD", "PORT"))
    args = parser.parse_args()
    if args.serve_fastapi:
        import uvicorn

        pipeline_file, threshold, port = args.serve_fastapi
        uvicorn.run(
            fastapi_app(pipeline_file, float(threshold)),
            host="127.0.0.1",
            port=int(port),
            log_level="warning",
            access_log=False,
        )
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # httpx logs every request at INFO: noise, and a cost inside the measured loop.
    for noisy in ("httpx", "httpcore", "mlflow", "feast", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A SIGTERM to the benchmark stops its servers too (finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from twelve.core.environment import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)
    root = Path(tempfile.mkdtemp(prefix="twelve-bench-serving-"))
    home = root / "home"
    os.environ["TWELVE_HOME"] = str(home)
    os.environ["BENTOML_HOME"] = str(home / "bentoml")

    import bento_support as support
    import pandas as pd

    from twelve.deploy.bento import PIPELINE_FILE, bentoml_env, model_dir
    from twelve.deploy.bento_server import json_rows
    from twelve.testing import free_port

    log.info("building the feature store, the model and its bento in %s", root)
    support.build_feature_store(root, home)
    pipeline = support.fit_pipeline(support.training_rows())
    registered = support.register_model(root / "mlflow", pipeline, profiles_root=home / "profiles")
    built = support.package(registered, home / "bentoml")
    pipeline_file = model_dir(home / "bentoml", built.model_tag) / PIPELINE_FILE

    rows = support.training_rows().sample(100, random_state=0)
    one_row = json.dumps({"rows": json_rows(rows.head(1), support.MODEL_INPUT_COLUMNS)}).encode()
    hundred = json.dumps({"rows": json_rows(rows, support.MODEL_INPUT_COLUMNS)}).encode()
    flights = support.raw_holdout_flights(100)
    raw = [
        {
            "carrier": f.carrier,
            "origin": f.origin,
            "dest": f.dest,
            "tailnum": f.tailnum if isinstance(f.tailnum, str) else None,
            "scheduled_departure": f.scheduled_departure.isoformat(),
            "distance": float(f.distance),
        }
        for f in flights.itertuples()
    ]
    raw_one = json.dumps({"flights": raw[:1]}).encode()
    raw_hundred = json.dumps({"flights": raw}).encode()

    servers = {
        "a bento, contract+monitoring": {},
        "b bento, both off": {"TWELVE_SERVING_CONTRACT": "off", "TWELVE_SERVING_MONITORING": "off"},
        "c FastAPI+uvicorn": None,
    }
    results = []
    for name, extra in servers.items():
        port = free_port()
        if extra is None:
            command = [sys.executable, __file__, "--serve-fastapi", str(pipeline_file),
                       str(support.THRESHOLD), str(port)]  # fmt: skip
            env = dict(os.environ)
        else:
            command = [sys.executable, "-m", "bentoml", "serve", built.tag, "--host",
                       "127.0.0.1", "--port", str(port)]  # fmt: skip
            env = {**bentoml_env(home / "bentoml"), "TWELVE_PROFILE_INTERVAL_SECONDS": "5", **extra}
        log.info("starting %s", name)
        process = _start(command, env, root / f"{name[0]}.log", port)
        try:
            cells = [("predict_features", one_row, 1), ("predict_features", hundred, 100)]
            if extra is not None:
                cells += [("predict", raw_one, 1), ("predict", raw_hundred, 100)]
            for endpoint, payload, size in cells:
                for concurrency in (1, 16):
                    url = f"http://127.0.0.1:{port}/{endpoint}"
                    figures = asyncio.run(_load(url, payload, concurrency, args.seconds))
                    figures.update(
                        server=name, endpoint=endpoint, rows=size, concurrency=concurrency,
                        rows_per_s=figures["rps"] * size,
                    )  # fmt: skip
                    results.append(figures)
                    log.info(
                        "%-30s %-17s rows=%-3d c=%-2d %8.1f req/s %9.1f rows/s p50 %6.2f ms "
                        "p99 %7.2f ms errors %d",
                        name, endpoint, size, concurrency, figures["rps"], figures["rows_per_s"],
                        figures["p50_ms"], figures["p99_ms"], figures["errors"],
                    )  # fmt: skip
        finally:
            _stop(process)

    table = pd.DataFrame(results)
    shown = ["server", "endpoint", "rows", "concurrency", "rps", "rows_per_s", "p50_ms",
             "p99_ms", "errors"]  # fmt: skip
    text = table[shown].to_string(index=False, float_format=lambda v: f"{v:.2f}")
    sys.stdout.write("\n" + text + "\n\n")

    def rps(server: str, endpoint: str, size: int, concurrency: int) -> float:
        cell = table[(table.server.str.startswith(server)) & (table.endpoint == endpoint)
                     & (table.rows == size) & (table.concurrency == concurrency)]  # fmt: skip
        return float(cell["rps"].iloc[0])

    lines = ["ratios of throughput (goal: a/b >= 0.95, a/c >= 1.0):"]
    for endpoint in ("predict_features", "predict"):
        for size in (1, 100):
            for concurrency in (1, 16):
                a = rps("a", endpoint, size, concurrency)
                b = rps("b", endpoint, size, concurrency)
                text = f"  {endpoint:17s} rows={size:<3d} c={concurrency:<2d} a/b {a / b:5.2f}"
                if endpoint == "predict_features":
                    text += f"   a/c {a / rps('c', endpoint, size, concurrency):5.2f}"
                lines.append(text)
    p99 = table[(table.server.str.startswith("a")) & (table.rows == 1) & (table.concurrency == 1)]
    for _, row in p99.iterrows():
        lines.append(f"p99 of 1 row at concurrency 1, (a) {row.endpoint}: {row.p99_ms:.2f} ms"
                     " (goal <= 10 ms)")  # fmt: skip
    profiles = list((home / "serving_profiles").rglob("*.bin"))
    lines.append(f"serving profiles written by (a) during the run: {len(profiles)}")
    sys.stdout.write("\n".join(lines) + "\n")
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
