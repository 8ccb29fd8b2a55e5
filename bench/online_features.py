"""Benchmark: online feature lookups, Feast SDK vs direct reads (`python bench/online_features.py`).

Not a test. Per call, in one process, on the same registry and store:

  SDK     twelve.serving.online.sdk.OnlineFeatures.fetch (FeatureStore.get_online_features,
          feature service flight_delay_v1: three views, 17 features);
  direct  twelve.serving.online.reader.DirectOnlineFeatures.fetch (one query per view on SQLite, one
          pipelined round trip on Redis).

Requests of 1 entity row and of 100 entity rows (distinct tail numbers; origins and carriers
cycle, as in real traffic), each reader called alternately so both see the same machine load;
median and p99 over --calls calls per cell, then SDK/direct ratios side by side. Both answers
are compared before timing (the same values, the same unknown keys).

Stores: SQLite is the demo's (`make demo`: $TWELVE_HOME, default <repo>/.twelve) when it exists,
otherwise the real feature repo materialized over real January-February 2013 slices in a
temporary folder. Redis (when `redis-server` is installed: `make services`) is a throw-away
redis-server on 127.0.0.1 with the same tables materialized into it and a file registry (the
registry is cached by both readers and not on the per-call path).

Caveat: 2 shared cores; absolute figures move with the other load on the machine, the ratios
much less (each cell alternates the two readers).

Usage: python bench/online_features.py [--calls 1000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test helpers build a store from real slices

log = logging.getLogger("bench.online_features")

SERVICE = "flight_delay_v1"
REDIS_YAML = "feature_store.bench-redis.yaml"


# --------------------------------------------------------------------------- stores
def demo_home() -> Path | None:
    """The demo's TWELVE_HOME when `make demo` has built its registry and online store."""
    home = Path(os.environ.get("TWELVE_HOME") or REPO / ".twelve")
    from twelve.serving.config import ONLINE_STORE_FILE, REGISTRY_FILE

    ok = (home / REGISTRY_FILE).is_file() and (home / ONLINE_STORE_FILE).is_file()
    return home if ok else None


def feature_config(home: Path, yaml_name: str = "feature_store.yaml", repo: Path | None = None):
    """The feature store config a bento resolves for ``home`` (``${VARS}`` expanded)."""
    import yaml

    from twelve.serving.config import relocate_feature_store

    raw = yaml.safe_load(((repo or REPO / "feature_repo") / yaml_name).read_text())
    return json.loads(os.path.expandvars(json.dumps(relocate_feature_store(raw, home))))


def materialize(root: Path, data_dir: Path | None, redis_url: str | None) -> Path:
    """Apply the real feature repo and materialize it under ``root/home``; returns the repo copy.

    ``data_dir`` None: the real Jan-Feb 2013 slices of the tests. ``redis_url``: the online store
    is that Redis (a yaml written beside the repo's, file registry) instead of SQLite.
    """
    import pandas as pd

    from twelve.features.feast import FeastResource

    repo = root / "feature_repo"
    shutil.copytree(REPO / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    yaml_name = "feature_store.yaml"
    if redis_url:
        text = (repo / "feature_store.yaml").read_text()
        online = "online_store:\n  type: sqlite\n  path: ../.twelve/feast_online_store.db\n"
        assert online in text, "feature_store.yaml changed: update the benchmark's Redis yaml"
        redis = f"online_store:\n  type: redis\n  connection_string: {redis_url}\n"
        (repo / REDIS_YAML).write_text(text.replace(online, redis))
        yaml_name = REDIS_YAML
    if data_dir is None:
        import bento_support

        data_dir = root / "data"
        (data_dir / "features").mkdir(parents=True, exist_ok=True)
        for name, frame in bento_support.feature_tables().items():
            frame.to_parquet(data_dir / "features" / f"{name}.parquet", index=False)
    feast = FeastResource(
        repo_path=str(repo),
        feature_store_yaml=yaml_name,
        data_dir=str(data_dir),
        state_dir=str(root / "home"),
    )
    feast.apply()
    start, end = feast.data_time_range(SERVICE)
    feast.materialize(start, end + pd.Timedelta(seconds=1))
    return repo


def stored_entities(sqlite_path: Path) -> dict[str, list[str]]:
    """Every entity key of a SQLite online store, by join key."""
    from feast.infra.key_encoding_utils import deserialize_entity_key

    found: dict[str, set[str]] = {}
    conn = sqlite3.connect(sqlite_path)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for (blob,) in conn.execute(f'SELECT DISTINCT entity_key FROM "{table}"'):
                key = deserialize_entity_key(blob)
                found.setdefault(key.join_keys[0], set()).add(key.entity_values[0].string_val)
    finally:
        conn.close()
    return {key: sorted(values) for key, values in found.items()}


def request_batches(entities: dict[str, list[str]], size: int, count: int) -> list[list[dict]]:
    """``count`` requests of ``size`` rows: distinct tail numbers, origins and carriers cycling."""
    tails, origins, carriers = entities["tailnum"], entities["origin"], entities["carrier"]
    batches, position = [], 0
    for _ in range(count):
        batch = []
        for _ in range(size):
            batch.append(
                {
                    "origin": origins[position % len(origins)],
                    "tailnum": tails[position % len(tails)],
                    "carrier": carriers[position % len(carriers)],
                }
            )
            position += 1
        batches.append(batch)
    return batches


# --------------------------------------------------------------------------- timing
def same_answer(sdk, direct, batches: list[list[dict]]) -> bool:
    """Whether both readers give the same values (type and repr) and unknown keys."""

    def norm(lookup):
        return (
            {k: [(type(v).__name__, repr(v)) for v in vs] for k, vs in lookup.features.items()},
            lookup.unknown,
        )

    return all(norm(sdk.fetch(b)) == norm(direct.fetch(b)) for b in batches)


def time_pair(
    first: Callable, second: Callable, batches: list[list[dict]], warmup: int = 50
) -> tuple[list[float], list[float]]:
    """Seconds per call of two functions, called alternately over the same requests."""
    for batch in batches[:warmup]:
        first(batch)
        second(batch)
    a, b = [], []
    clock = time.perf_counter
    for turn, batch in enumerate(batches):
        # Alternate which goes first, so neither always runs with a warmer cache.
        pair = ((first, a), (second, b)) if turn % 2 == 0 else ((second, b), (first, a))
        for function, out in pair:
            started = clock()
            function(batch)
            out.append(clock() - started)
    return a, b


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(store: str, config: dict, entities: dict[str, list[str]], calls: int) -> list[dict]:
    """One row of figures per request size for one online store."""
    from twelve.serving.online.reader import DirectOnlineFeatures
    from twelve.serving.online.sdk import OnlineFeatures

    sdk, direct = OnlineFeatures(config, SERVICE), DirectOnlineFeatures(config, SERVICE)
    first_request = request_batches(entities, 1, 1)[0]
    seconds = {}
    # Load and first call of each (the direct one first: the SDK's first call imports modules).
    for name, reader in (("direct", direct), ("sdk", sdk)):
        started = time.perf_counter()
        reader.load()
        loaded = time.perf_counter()
        reader.fetch(first_request)
        seconds[name] = (loaded - started, time.perf_counter() - loaded)
    log.info(
        "%s: load / first call: SDK %.2f s / %.1f ms, direct %.2f s / %.1f ms",
        store,
        seconds["sdk"][0],
        seconds["sdk"][1] * 1e3,
        seconds["direct"][0],
        seconds["direct"][1] * 1e3,
    )
    results = []
    for size in (1, 100):
        batches = request_batches(entities, size, calls)
        identical = same_answer(sdk, direct, batches[:20])
        log.info("%s, %d row(s): timing %d calls of each reader", store, size, calls)
        sdk_times, direct_times = time_pair(sdk.fetch, direct.fetch, batches)
        row = {"store": store, "rows": size, "calls": calls, "identical": identical}
        row["first_call_ms"] = {name: first * 1e3 for name, (_, first) in seconds.items()}
        for name, times in (("sdk", sdk_times), ("direct", direct_times)):
            row[f"{name}_p50_ms"] = statistics.median(times) * 1e3
            row[f"{name}_p99_ms"] = percentile(times, 0.99) * 1e3
        results.append(row)
    direct.close()
    return results


# --------------------------------------------------------------------------- report
def conditions(sqlite_source: str, redis_version: str | None, entities) -> list[str]:
    """What the figures were measured on."""
    load = os.getloadavg()
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("feast", "redis", "protobuf", "mmh3")
    )
    return [
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"Python {platform.python_version()}; {versions}; SQLite {sqlite3.sqlite_version}",
        f"SQLite store: {sqlite_source}",
        "Redis store: "
        + (redis_version or "not measured (redis-server not installed: make services)"),
        f"entities: {len(entities['origin'])} origins, {len(entities['tailnum'])} tail numbers, "
        f"{len(entities['carrier'])} carriers; feature service {SERVICE} (3 views, 17 features)",
    ]


def table(results: list[dict]) -> str:
    """The figures, SDK and direct side by side, with SDK/direct ratios."""
    header = (
        f"{'store':7s} {'rows':>4s} {'calls':>5s} | {'SDK p50':>9s} {'SDK p99':>9s} | "
        f"{'direct p50':>10s} {'direct p99':>10s} | {'p50 ratio':>9s} {'p99 ratio':>9s} | same"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        p50_ratio = r["sdk_p50_ms"] / r["direct_p50_ms"]
        p99_ratio = r["sdk_p99_ms"] / r["direct_p99_ms"]
        lines.append(
            f"{r['store']:7s} {r['rows']:>4d} {r['calls']:>5d} | "
            f"{r['sdk_p50_ms']:>6.3f} ms {r['sdk_p99_ms']:>6.3f} ms | "
            f"{r['direct_p50_ms']:>7.3f} ms {r['direct_p99_ms']:>7.3f} ms | "
            f"{p50_ratio:>8.1f}x {p99_ratio:>8.1f}x | {'yes' if r['identical'] else 'NO'}"
        )
    for r in results:
        if r["rows"] == 1:
            first = r["first_call_ms"]
            lines.append(
                f"first call after load() ({r['store']}): SDK {first['sdk']:.1f} ms, "
                f"direct {first['direct']:.1f} ms"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per cell (>= 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("feast", "twelve"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from twelve.core.environment import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)
    root = Path(tempfile.mkdtemp(prefix="twelve-bench-online-"))
    redis = None
    try:
        home = demo_home()
        if home is not None:
            sqlite_source = f"the demo's, {home} (make demo)"
            data_dir = Path(os.environ.get("TWELVE_DATA_DIR") or REPO / "data")
        else:
            log.info("no demo store: materializing the real Jan-Feb 2013 slices in %s", root)
            materialize(root / "sqlite", None, None)
            home, data_dir = root / "sqlite" / "home", None
            sqlite_source = "real Jan-Feb 2013 slices (no demo store found)"
        config = feature_config(home)
        entities = stored_entities(Path(config["online_store"]["path"]))
        results = measure("sqlite", config, entities, args.calls)

        redis_version = None
        if shutil.which("redis-server"):
            import local_services  # tests/: real redis-server and PostgreSQL for tests

            redis = local_services.Redis(root / "redis").start()
            log.info("materializing the same tables into redis-server on %s", redis.url)
            repo = materialize(root / "redis-store", data_dir, redis.url)
            redis_config = feature_config(root / "redis-store" / "home", REDIS_YAML, repo)
            import redis as redis_py

            client = redis_py.Redis(host="127.0.0.1", port=redis.port)
            redis_version = f"redis-server {client.info()['redis_version']} on 127.0.0.1 (TCP)"
            client.close()
            results += measure("redis", redis_config, entities, args.calls)
    finally:
        if redis is not None:
            redis.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    sys.stdout.write("\n" + "\n".join(conditions(sqlite_source, redis_version, entities)) + "\n\n")
    sys.stdout.write(table(results) + "\n")
    sys.stdout.write(
        "\nratio = SDK / direct (how many times faster the direct read is); "
        "same = identical answers on the first 20 requests of the cell\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
