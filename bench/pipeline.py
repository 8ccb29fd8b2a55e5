"""Benchmark: the golden path cold, then again with nothing changed (`make bench`).

Runs in a throw-away environment (a temporary git+DVC repository, TWELVE_HOME, Dagster instance),
so it never touches the checkout's data. Prints, per asset, the wall time of its step and the peak
resident memory of the process while it ran, for the cold run and the warm re-run, and the ratio
warm/cold. Goals (issue 3): cold <= 180 s on 2 cores; warm <= 25 % of cold.

Usage: python bench/pipeline.py [--months 2013-01,2013-02]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import psutil


class RssSampler(threading.Thread):
    """Samples this process's RSS every 50 ms with a timestamp."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()
        self._process = psutil.Process()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.time(), self._process.memory_info().rss))
            time.sleep(0.05)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside, default=0)


def step_times(instance, run_ids: list[str]) -> dict[str, tuple[float, float]]:
    """Start and end timestamps of every step of the given runs, keyed by step name."""
    from dagster import DagsterEventType

    spans: dict[str, list[float]] = {}
    for run_id in run_ids:
        partition = instance.get_run_by_id(run_id).tags.get("dagster/partition")
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            name = f"{entry.step_key}[{partition[:7]}]" if partition else entry.step_key
            if event.event_type == DagsterEventType.STEP_START:
                spans[name] = [entry.timestamp, entry.timestamp]
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                spans.setdefault(name, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
    return {name: (span[0], span[1]) for name, span in spans.items()}


def run_once(label, defs, instance, partitions, sampler):
    from twelve.cli.runner import run_golden_path

    started = time.perf_counter()
    summary = run_golden_path(
        defs,
        instance,
        partitioned_job="monthly_arrival",
        partitions=partitions,
        main_job="golden_path",
        progress=lambda line: print(f"  [{label}] {line}", flush=True),
    )
    wall = time.perf_counter() - started
    spans = step_times(instance, [step.run_id for step in summary.steps])
    per_step = {
        name: (end - start, sampler.peak(start, end)) for name, (start, end) in spans.items()
    }
    return wall, per_step, summary


def main() -> int:
    # DVC's internals warn on every call; the figures are what this script is for.
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", help="comma-separated YYYY-MM (default: all twelve)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="twelve-bench-"))
    repo = root / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    os.environ.update(
        TWELVE_HOME=str(root / "home"),
        TWELVE_DATA_DIR=str(repo / "data"),
        DAGSTER_HOME=str(root / "home" / "dagster_home"),
        BENTOML_HOME=str(root / "home" / "bentoml"),
    )
    from twelve.core import environment

    environment.prepare()
    import dagster as dg

    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    from flight_delays.definitions import build_defs

    defs = build_defs()
    load_seconds = time.perf_counter() - t0
    instance = dg.DagsterInstance.get()
    partitions = defs.resolve_job_def("monthly_arrival").partitions_def.get_partition_keys()
    if args.months:
        partitions = [p for p in partitions if p[:7] in set(args.months.split(","))]

    cold_wall, cold, _ = run_once("cold", defs, instance, partitions, sampler)
    warm_wall, warm, warm_summary = run_once("warm", defs, instance, partitions, sampler)
    sampler.stop()

    print()
    print(
        f"twelve golden path benchmark: {len(partitions)} month(s), in-process executor, "
        f"{os.cpu_count()} cores, python {sys.version.split()[0]}, state in {root}"
    )
    print(f"code location load: {load_seconds:.1f} s")
    print(f"{'step':44s} {'cold s':>8s} {'cold MB':>8s} {'warm s':>8s} {'warm MB':>8s}")
    for name in sorted(cold, key=lambda n: -cold[n][0]):
        seconds, rss = cold[name]
        w = warm.get(name)
        warm_cells = f"{w[0]:8.2f} {w[1] / 2**20:8.0f}" if w else f"{'skipped':>8s} {'':>8s}"
        print(f"{name:44s} {seconds:8.2f} {rss / 2**20:8.0f} {warm_cells}")
    peak = max(rss for _, rss in sampler.samples) / 2**20
    ratio = warm_wall / cold_wall
    print(
        f"\ncold wall {cold_wall:.1f} s (goal <= 180 s: {'met' if cold_wall <= 180 else 'MISSED'})"
    )
    print(
        f"warm wall {warm_wall:.1f} s = {ratio:.0%} of cold "
        f"(goal <= 25 %: {'met' if ratio <= 0.25 else 'MISSED'}); "
        f"{len(warm_summary.skipped)} asset(s) skipped as fresh"
    )
    print(f"peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
