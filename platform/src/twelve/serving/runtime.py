"""The serving runtime of a twelve bento: what a service class inherits, written once.

A bento service declares its request and response schemas, assembles its request features and
calls :meth:`ModelService.answer`; everything else is here::

    @bentoml.service(**runtime.service_options(SERVICE_DIR, "flight_delay"))
    class FlightDelay(runtime.ModelService):
        bento_model = bentoml.models.BentoModel(ARGS.model_tag)
        service_dir = SERVICE_DIR

        @bentoml.api
        async def predict(self, flights: list[FlightRequest]) -> PredictionResponse:
            return await self.answer("predict", request_values(flights), PredictionResponse)

    runtime.protect(FlightDelay, ("/predict",))

- **start-up** (``__init__``): the serving config and its security (:mod:`.config`), the compiled
  model with its digests checked (:mod:`.model`), the contract gate (:mod:`.gate`), metrics
  (:mod:`.metrics`), the background profiler (:mod:`.monitor`) and the online store, opened in
  the background (:mod:`.online.reader`): ``/livez`` answers at once, ``/readyz`` once the store
  is open;
- **scoring**: concurrent requests batched (:mod:`.batching`) through the hot path
  (:mod:`.scoring`), answered as the service's response schema or 422 naming each field;
- **shutdown**: the last rows profiled before the worker exits.

What a bento runs of the platform: ``twelve.deploy.bento`` copies the ``twelve`` package into the
bento (the bento does not install it: its Dagster and dbt dependencies do not belong in a serving
image); a test checks that everything this module imports, within ``twelve`` and beyond, is
installed by the bentofile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import bentoml
from starlette.responses import JSONResponse

from twelve.serving import config as settings
from twelve.serving.batching import Batcher
from twelve.serving.columns import rows_to_columns

# Now in twelve.serving.config; still imported from here by twelve.features.feast_repo and tests.
from twelve.serving.config import (  # noqa: F401
    ONLINE_STORE_FILE,
    REGISTRY_FILE,
    ServingConfigError,
    relocate_feature_store,
    resolve_serving_config,
)
from twelve.serving.gate import ContractGate, violation_body
from twelve.serving.http import protect, silence_client_error_tracebacks
from twelve.serving.metrics import ProcessSampler, ServingMetrics, activate
from twelve.serving.model import ServedModel
from twelve.serving.schemas import BentoArguments
from twelve.serving.scoring import Job, Outcome, Scorer

if TYPE_CHECKING:
    from pydantic import BaseModel

log = logging.getLogger(__name__)
STARTUP_GRACE_S = 60.0  # a request waits this long for a worker's store to open, then gets 503

__all__ = ["BentoArguments", "ModelService", "protect", "rows_to_columns", "service_options"]


def service_options(service_dir: Path, name: str) -> dict[str, Any]:
    """The ``@bentoml.service`` options of a service, from its ``serving.yaml`` (``server:``).

    ``workers`` (a number, or ``cpu_count``: one per core), ``timeout`` (seconds) and
    ``access_log`` (one log line per request: off unless asked for; Prometheus counts requests
    by endpoint and status either way).
    """
    server = settings.read_serving_yaml(service_dir).get("server") or {}
    return {
        "name": name,
        "workers": server.get("workers", 1),
        "traffic": {"timeout": float(server.get("timeout", 30))},
        "logging": {"access": {"enabled": bool(server.get("access_log", False))}},
    }


class ModelService:
    """Base of a twelve bento service class: start-up, readiness, scoring and shutdown.

    A subclass sets ``bento_model`` (``bentoml.models.BentoModel``) and ``service_dir`` (the
    folder of its ``service.py``), and calls :meth:`answer` from its APIs.
    """

    bento_model: ClassVar[Any]
    service_dir: ClassVar[Path]

    def __init__(self) -> None:
        self.start(os.environ)

    # ------------------------------------------------------------------ start-up
    def start(self, environ: Mapping[str, str]) -> None:
        """Load everything the service needs; the online store opens in the background."""
        from twelve.serving.online.reader import DirectOnlineFeatures

        silence_client_error_tracebacks()
        self.config = settings.load_serving_config(self.service_dir, environ)
        self.security = settings.security_of(self.config, environ)
        self.model = ServedModel.load(self.bento_model)
        share = self.config["max_unknown_category_share"]
        self.gate = ContractGate(self.model.contract, share) if self.security.contract else None
        self.metrics = self._start_metrics()
        self.monitor = self._start_monitor(environ) if self.security.monitoring else None
        self.features = DirectOnlineFeatures(
            self.config["feature_store"], self.config["feature_service"]
        )
        self.feature_store_error: str | None = None
        self._features_tried = threading.Event()  # set once the store opened, or failed to
        self._start_scoring()
        # Feast takes seconds to import and open: /livez answers meanwhile, /readyz waits.
        threading.Thread(target=self._open_features, name="twelve-features", daemon=True).start()

    def _start_metrics(self) -> ServingMetrics:
        metrics = ServingMetrics(self.service_name)
        model = self.model
        labels = (model.registered_model, model.model_version, model.model_tag, self.bento_tag)
        metrics.info.labels(*(label or "" for label in labels)).set(1)
        activate(metrics)
        self.sampler = ProcessSampler(metrics)
        self.sampler.start()
        return metrics

    def _start_monitor(self, environ: Mapping[str, str]):
        from twelve.serving.monitor import ProfileRoller
        from twelve.serving.profiler import ProcessProfiler

        monitoring = self.config["monitoring"]
        interval = environ.get(settings.PROFILE_INTERVAL_ENV) or monitoring["interval_seconds"]
        reference = self.model.metadata.get("reference_profile") or {}
        reference_file = reference.get("file")
        monitor = ProfileRoller(
            Path(self.config["twelve_home"]) / settings.SERVING_PROFILES_DIR,
            self.bento_model.tag.version,
            interval_seconds=float(interval),
            max_buffer_rows=monitoring["max_buffer_rows"],
            on_flush=self.metrics.observe_flush,
            on_drop=self.metrics.dropped_rows.inc,
            on_failure=self.metrics.profile_failures.inc,
            profiler=ProcessProfiler(),
            extra={
                "registered_model": self.model.registered_model,
                "mlflow_model_version": self.model.model_version,
                "model_tag": self.model.model_tag,
                "bento_tag": self.bento_tag,
                "reference_profile_version": reference.get("version"),
                "reference_profile_file": (
                    str(self.bento_model.path_of(reference_file)) if reference_file else None
                ),
                "feature_columns": list(self.model.compiled.columns),
            },
        )
        monitor.start()
        return monitor

    def _start_scoring(self) -> None:
        self.scorer = Scorer(self.model, self.gate, self.features, self.monitor, self.metrics)
        batching = self.config.get("batching") or {}
        self.batcher = None
        if batching.get("enabled", True):
            max_rows = int(batching.get("max_batch_rows", settings.DEFAULT_MAX_BATCH_ROWS))
            self.batcher = Batcher(self.scorer.score_many, lambda job: job.rows, max_rows)

    def _open_features(self) -> None:
        try:
            self.features.load()
        except Exception as error:  # reported by /readyz and /predict, logged with its cause
            self.feature_store_error = f"{type(error).__name__}: {error}"
            log.exception("the online feature store could not be opened")
        finally:
            self._features_tried.set()

    async def _features_open(self) -> bool:
        """Whether the store is open, waiting (up to the start-up grace) while it opens.

        With several workers, ``/readyz`` answers for one of them: a request may reach another
        that is still opening its store. It waits for it rather than failing.
        """
        if not self.features.loaded and not self._features_tried.is_set():
            await asyncio.get_running_loop().run_in_executor(
                None, self._features_tried.wait, STARTUP_GRACE_S
            )
        return self.features.loaded

    # ------------------------------------------------------------------ BentoML's hooks
    def __is_ready__(self) -> bool:
        """Ready once the model (at start-up) and the online store are loaded."""
        return self.features.loaded

    @bentoml.on_shutdown
    def stop_runtime(self) -> None:
        """Profile the rows still buffered, then release the store, before the worker exits."""
        self.sampler.stop()
        if self.monitor is not None:
            self.monitor.stop()
        self.features.close()

    @property
    def service_name(self) -> str:
        """The metrics prefix: the service's name (``flight_delay``), set by BentoML."""
        return bentoml.server_context.service_name or type(self).__name__.lower()

    @property
    def bento_tag(self) -> str | None:
        """``name:version`` of the served bento (set by BentoML in each worker)."""
        context = bentoml.server_context
        if not context.bento_version or context.bento_version == "not available":
            return None
        return f"{context.bento_name}:{context.bento_version}"

    # ------------------------------------------------------------------ scoring
    async def answer(
        self, endpoint: str, values: dict[str, Sequence[Any]], response: type, lookup: bool = True
    ) -> Any:
        """Score one request and answer it as ``response`` (or 422 / 503 as JSON).

        Args:
            endpoint: the API's name (a metrics label).
            values: column name -> one value per row (:func:`rows_to_columns`): the request
                features and join keys (``lookup``), or the whole model input.
            response: the service's response schema: its ``predictions`` item type is a
                classifier's or a regressor's row (:mod:`twelve.serving.schemas`).
            lookup: whether the entity features come from the online store.
        """
        started = time.perf_counter()
        if lookup and not (self.features.loaded or await self._features_open()):
            reason = self.feature_store_error or "still loading"
            return JSONResponse(
                {"error": f"the feature store is not available: {reason}"}, status_code=503
            )
        rows = len(next(iter(values.values()))) if values else 0
        job = Job(endpoint, values, rows, lookup)
        if self.batcher is not None:
            outcome = await self.batcher.submit(job)
        else:
            outcome = self.scorer.score_many([job])[0]
        answer = self.response(outcome, response)
        self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return answer

    def response(self, outcome: Outcome, response: type[BaseModel]) -> Any:
        """``response`` built from an outcome (no validation: every value is ours and typed)."""
        if outcome.problems:
            assert self.gate is not None  # only the contract gate finds problems
            body = violation_body(outcome.problems, self.gate.name)
            return JSONResponse(body, status_code=422)
        row = typing.get_args(response.model_fields["predictions"].annotation)[0]
        if outcome.labels is not None:
            scored = zip(outcome.outputs, outcome.labels, outcome.unknown, strict=True)
            predictions = [
                row.model_construct(probability=p, label=label, unknown_entities=keys)
                for p, label, keys in scored
            ]
        else:
            predictions = [
                row.model_construct(prediction=value, unknown_entities=keys)
                for value, keys in zip(outcome.outputs, outcome.unknown, strict=True)
            ]
        facts: dict[str, Any] = {
            "predictions": predictions,
            "threshold": self.model.threshold,
            "model_version": self.model.model_version,
            "registered_model": self.model.registered_model,
            "bento_tag": self.bento_tag,
        }
        return response.model_construct(
            **{name: value for name, value in facts.items() if name in response.model_fields}
        )
