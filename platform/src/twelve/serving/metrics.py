"""Prometheus metrics of a served model (factor 11), added to BentoML's own ``/metrics``.

Created in the worker (BentoML sets prometheus_client's multiprocess directory when a worker
starts): the values go to that directory and BentoML's ``/metrics`` collects them from every
worker. The metric objects are not registered in a registry, so building several services in one
process (tests) does not clash.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)


@dataclass
class ServingMetrics:
    """The metrics of one service, named ``<prefix>_*``.

    Args:
        prefix: metric name prefix (the bento's name).
    """

    prefix: str

    def __post_init__(self) -> None:
        """Create the metrics, outside prometheus_client's global registry."""
        import prometheus_client as prom

        p = self.prefix
        self.latency = prom.Histogram(
            f"{p}_prediction_seconds",
            "Time to score a request: features, contract, model (seconds).",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.rows = prom.Counter(f"{p}_rows_scored", "Rows scored.", ["endpoint"], registry=None)
        self.batch_rows = prom.Histogram(
            f"{p}_batch_rows",
            "Rows scored together by one model call (concurrent requests batched).",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=None,
        )
        self.rejections = prom.Counter(
            f"{p}_contract_rejections",
            "Contract problems of refused requests, by field and kind.",
            ["field", "kind"],
            registry=None,
        )
        self.unknown_entities = prom.Counter(
            f"{p}_unknown_entities",
            "Rows scored with an entity key the online store does not know, by join key.",
            ["join_key"],
            registry=None,
        )
        self._process_metrics(prom)
        self._monitoring_metrics(prom)

    def _process_metrics(self, prom) -> None:
        p = self.prefix
        self.cpu = prom.Gauge(
            f"{p}_process_cpu_seconds",
            "CPU time used by the serving worker processes (user + system, seconds).",
            registry=None,
            multiprocess_mode="livesum",
        )
        self.rss = prom.Gauge(
            f"{p}_process_resident_memory_bytes",
            "Resident memory of the serving worker processes (bytes).",
            registry=None,
            multiprocess_mode="livesum",
        )
        self.info = prom.Gauge(
            f"{p}_model_info",
            "The served model (value 1), its version and tags as labels.",
            ["registered_model", "model_version", "model_tag", "bento_tag"],
            registry=None,
            multiprocess_mode="max",
        )

    def _monitoring_metrics(self, prom) -> None:
        p = self.prefix
        self.profiled_rows = prom.Counter(
            f"{p}_profiled_rows", "Rows written to serving profiles.", registry=None
        )
        self.dropped_rows = prom.Counter(
            f"{p}_monitoring_dropped_rows",
            "Scored rows not profiled: the monitoring buffer was full (profiling fell behind).",
            registry=None,
        )
        self.profile_failures = prom.Counter(
            f"{p}_profile_failures",
            "Profiles that could not be written (their rows are kept for the next attempt).",
            registry=None,
        )
        self.profile_seconds = prom.Histogram(
            f"{p}_profile_seconds",
            "Time to profile and store one interval's rows (background, seconds).",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30),
            registry=None,
        )

    def sample_process(self) -> None:
        """Record this process's CPU time and resident memory now."""
        import psutil

        process = psutil.Process()
        times = process.cpu_times()
        self.cpu.set(times.user + times.system)
        self.rss.set(process.memory_info().rss)

    def observe_flush(self, rows: int, seconds: float) -> None:
        """Count a written profile (``ProfileRoller.on_flush``)."""
        self.profiled_rows.inc(rows)
        self.profile_seconds.observe(seconds)


class ProcessSampler:
    """Samples process CPU and memory into :class:`ServingMetrics` every ``interval`` seconds."""

    def __init__(self, metrics: ServingMetrics, interval: float = 2.0) -> None:
        self.metrics, self.interval = metrics, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twelve-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            try:
                self.metrics.sample_process()
            except Exception:
                log.exception("sampling process metrics failed")
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()


# The worker's metrics, for the HTTP middleware (built by BentoML apart from the service instance).
_ACTIVE: list[ServingMetrics] = []


def activate(metrics: ServingMetrics) -> None:
    """Make ``metrics`` the ones :func:`count_rejections` counts into (one service per worker)."""
    _ACTIVE[:] = [metrics]


def count_rejections(problems: list[dict[str, str]]) -> None:
    """Count the 422 problems of a request refused by its schema (before the service saw it)."""
    for metrics in _ACTIVE:
        for problem in problems:
            metrics.rejections.labels(problem["field"], problem["kind"]).inc()
