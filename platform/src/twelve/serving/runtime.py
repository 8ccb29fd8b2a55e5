"""Serving runtime of a twelve bento: online features, the contract gate, monitoring, metrics, auth.

Everything a served model needs besides its own service class, written once for every bento:

- :func:`resolve_serving_config` / :func:`load_serving_config`: where the Feast registry and
  online store are (recorded when the bento is built, moved with ``TWELVE_HOME`` at serve time),
  which feature service the model reads, the local time zone, the monitoring interval;
- :class:`OnlineFeatures`: features by entity key from the Feast online store, with the keys
  that were not found (``unknown entities``) reported per row;
- :func:`calendar_features`: the request features derived from a scheduled time (local hour,
  day of week, month), the same values the dbt model ``stg_flights`` computes for training;
- :class:`ContractGate`: the model's pandera contract (the JSON embedded in the BentoML model)
  as one call that returns every problem by field;
- :class:`ProfileRoller`: rows buffered in memory and profiled with
  :func:`twelve.monitoring.profiling.profile_frame` in a background thread, one profile per
  interval, stored
  as ``<TWELVE_HOME>/serving_profiles/<model version>/<timestamp>.bin`` (+ JSON sidecar); no
  whylogs call on the request path;
- :class:`ServingMetrics`: Prometheus metrics added to BentoML's ``/metrics``;
- :class:`BearerAuthMiddleware` and :class:`RequestErrorMiddleware`: ASGI middlewares for an
  optional bearer token and for mapping bad requests to 400 / 415 / 422 (never 500).

Why a module of ``twelve`` and not code in the bento folder: the bento does not install the
``twelve`` package (its Dagster and dbt dependencies do not belong in a serving image). Instead
``twelve.deploy.bento`` copies the modules listed in :data:`VENDORED_MODULES` into the bento when
it is
built, so a served bento runs exactly this file. It may therefore import only the standard
library, numpy, pandas and those modules (a test checks it); Feast, pandera, whylogs and
prometheus_client are imported when first used.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# The modules of `twelve` a bento carries (copied by twelve.deploy.bento at build time).
VENDORED_MODULES = (
    "__init__",
    "core/__init__",
    "core/files",
    "core/paths",
    "features/__init__",
    "features/columns",
    "features/schemas",
    "features/validation",
    "monitoring/__init__",
    "monitoring/profiling",
    "serving/__init__",
    "serving/runtime",
)
# Written into the bento by twelve.deploy.bento; read by the service at start-up.
SERVING_CONFIG_FILE = "serving_config.json"
# Optional, beside bentofile.yaml: what the serving config is resolved from.
SERVING_YAML = "serving.yaml"
SERVING_PROFILES_DIR = "serving_profiles"

# Environment read when the service starts (never at import).
TWELVE_HOME_ENV = "TWELVE_HOME"
TOKEN_ENV = "TWELVE_SERVING_TOKEN"
PROFILE_INTERVAL_ENV = "TWELVE_PROFILE_INTERVAL_SECONDS"
CONTRACT_ENV = "TWELVE_SERVING_CONTRACT"  # "off" skips the contract (benchmark baseline only)
MONITORING_ENV = "TWELVE_SERVING_MONITORING"  # "off" skips profiling (benchmark baseline only)

REGISTRY_FILE = "feast_registry.db"  # the platform's layout, for the pipeline and the bento
ONLINE_STORE_FILE = "feast_online_store.db"
DEFAULT_PROFILE_INTERVAL_S = 60.0
DEFAULT_MAX_BUFFER_ROWS = 200_000


class ServingConfigError(RuntimeError):
    """The serving configuration is missing or inconsistent (the message says what and where)."""


# --------------------------------------------------------------------------- configuration
def relocate_feature_store(raw: Mapping[str, Any], state_dir: Path) -> dict[str, Any]:
    """A ``feature_store.yaml`` mapping with its file registry and SQLite store in ``state_dir``.

    The one rule of the platform's layout (both files live in ``TWELVE_HOME``), used by the
    pipeline (:func:`twelve.features.feast_repo.build_repo_config`) and the bento alike; other
    registry and online store types are kept as they are.

    Args:
        raw: the parsed yaml.
        state_dir: the folder holding the registry and the online store.

    Returns:
        A new mapping.
    """
    config = json.loads(json.dumps(dict(raw)))
    registry = config.get("registry")
    if registry is None or isinstance(registry, str):
        registry = config["registry"] = {"path": registry}
    if registry.get("registry_type", "file") == "file":
        registry["path"] = str(Path(state_dir) / REGISTRY_FILE)
    online = config.setdefault("online_store", {"type": "sqlite"})
    if isinstance(online, dict) and online.get("type", "sqlite") == "sqlite":
        online["path"] = str(Path(state_dir) / ONLINE_STORE_FILE)
    return config


def resolve_serving_config(
    service_dir: Path, state_dir: Path, profile: str = "local"
) -> dict[str, Any]:
    """The serving config of a service folder, resolved for the state directory ``state_dir``.

    Reads ``<service_dir>/serving.yaml`` (``feature_repo`` relative to the monorepo root, or to
    the service folder when it starts with ``.``,
    ``feature_store_yaml``, ``feature_service``, ``local_timezone``, ``monitoring``) and the
    feature repo's yaml; ``${VARS}`` in that yaml are kept and expanded at serve time.

    Args:
        service_dir: the bento's service folder.
        state_dir: ``TWELVE_HOME`` to record (the registry and online store live there).
        profile: the deployment profile the bento is built for (``twelve.core.profile.active()``):
            its entry in ``feature_store_yaml_by_profile`` (serving.yaml) wins over
            ``feature_store_yaml``.

    Returns:
        A JSON-ready mapping (what :data:`SERVING_CONFIG_FILE` holds).

    Raises:
        ServingConfigError: ``serving.yaml`` or the feature store yaml is missing or incomplete.
    """
    import yaml

    from twelve.core.paths import REPO_ROOT

    path = Path(service_dir) / SERVING_YAML
    if not path.is_file():
        raise ServingConfigError(f"{path} does not exist: the service has no serving config")
    spec = yaml.safe_load(path.read_text()) or {}
    missing = [key for key in ("feature_repo", "feature_service") if not spec.get(key)]
    if missing:
        raise ServingConfigError(f"{path}: missing key(s) {missing}")
    # "feature_repo" is relative to the monorepo root; one starting with "." (``../../feature_repo/
    # <project>``) to the service folder, so a project's bento finds its own Feast repo wherever
    # the monorepo is.
    base = Path(service_dir) if str(spec["feature_repo"]).startswith(".") else REPO_ROOT
    repo = (base / spec["feature_repo"]).resolve()
    by_profile = spec.get("feature_store_yaml_by_profile") or {}
    store_name = by_profile.get(profile) or spec.get("feature_store_yaml", "feature_store.yaml")
    store_yaml = repo / store_name
    if not store_yaml.is_file():
        raise ServingConfigError(f"{path}: feature store yaml {store_yaml} does not exist")
    raw = yaml.safe_load(store_yaml.read_text()) or {}
    monitoring = spec.get("monitoring") or {}
    return {
        "twelve_home": str(Path(state_dir).resolve()),
        "feature_store": relocate_feature_store(raw, Path(state_dir).resolve()),
        "feature_service": str(spec["feature_service"]),
        "local_timezone": str(spec.get("local_timezone", "UTC")),
        "max_unknown_category_share": float(spec.get("max_unknown_category_share", 0.0)),
        "monitoring": {
            "interval_seconds": float(
                monitoring.get("interval_seconds", DEFAULT_PROFILE_INTERVAL_S)
            ),
            "max_buffer_rows": int(monitoring.get("max_buffer_rows", DEFAULT_MAX_BUFFER_ROWS)),
        },
    }


def load_serving_config(service_dir: Path, environ: Mapping[str, str] | None = None) -> dict:
    """The serving config in force: the one recorded in the bento, moved to ``$TWELVE_HOME``.

    Inside a built bento, :data:`SERVING_CONFIG_FILE` holds what was resolved at build time.
    Run from the source folder (development, tests), ``serving.yaml`` is resolved now for
    ``$TWELVE_HOME``. Either way a ``TWELVE_HOME`` set in the environment wins over the recorded
    one: registry and online store paths under the recorded home are moved under it.

    Args:
        service_dir: the folder of ``service.py`` (a bento's ``src`` or the source folder).
        environ: the environment (default ``os.environ``).

    Returns:
        The config, with ``twelve_home`` and the feature store paths in force.
    """
    environ = os.environ if environ is None else environ
    recorded = Path(service_dir) / SERVING_CONFIG_FILE
    home = environ.get(TWELVE_HOME_ENV)
    if recorded.is_file():
        config = json.loads(recorded.read_text())
    elif home:
        config = resolve_serving_config(Path(service_dir), Path(home))
    else:
        raise ServingConfigError(
            f"neither {recorded} (written when the bento is built) nor {TWELVE_HOME_ENV} is set: "
            "cannot tell where the feature store is"
        )
    # ${VARS} of a production yaml (credentials, hosts) are expanded only now, in the server.
    config["feature_store"] = json.loads(os.path.expandvars(json.dumps(config["feature_store"])))
    if home and Path(home).resolve() != Path(config["twelve_home"]):
        old, new = Path(config["twelve_home"]), Path(home).resolve()
        for section in ("registry", "online_store"):
            part = config["feature_store"].get(section)
            if (
                isinstance(part, dict)
                and part.get("path")
                and Path(part["path"]).is_relative_to(old)
            ):
                part["path"] = str(new / Path(part["path"]).relative_to(old))
        config["twelve_home"] = str(new)
    return config


class TamperedModelError(RuntimeError):
    """A model file does not match the digest recorded when it was packaged."""


def file_digests(folder: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative POSIX path -> hex digest).

    Args:
        folder: the model folder.
        skip: relative paths to leave out (the metadata BentoML writes itself).

    Returns:
        The digests, sorted by path.
    """
    import hashlib

    skipped = set(skip)
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative in skipped:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[relative] = digest.hexdigest()
    return digests


def verify_digests(folder: Path, recorded: Mapping[str, str] | None) -> None:
    """Refuse a model whose files differ from the digests recorded at packaging.

    Called before anything is unpickled: a tampered pickle must never be loaded.

    Raises:
        TamperedModelError: digests are missing, or a recorded file is missing or changed
            (the message names each file, the recorded and the found digest).
    """
    if not recorded:
        raise TamperedModelError(
            f"{folder}: no file digests recorded; repackage it with twelve.deploy.bento "
            "(refusing to load)"
        )
    found = file_digests(folder, skip=())
    problems = [
        f"{name}: recorded sha256 {digest[:12]}, found "
        f"{found[name][:12] if name in found else 'no file'}"
        for name, digest in sorted(recorded.items())
        if found.get(name) != digest
    ]
    if problems:
        raise TamperedModelError(
            f"model files in {folder} do not match their recorded digests, refusing to load: "
            + "; ".join(problems)
        )


def env_flag(environ: Mapping[str, str], name: str, default: bool = True) -> bool:
    """An on/off switch from the environment (``off``, ``0``, ``false``, ``no`` switch off)."""
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in {"off", "0", "false", "no"}


# --------------------------------------------------------------------------- request features
def calendar_features(times: pd.Series, timezone: str) -> pd.DataFrame:
    """Local hour, day of week (0 = Monday) and month of scheduled times.

    The request features a flight's schedule gives: dbt's ``stg_flights`` takes them from the
    local schedule (``hour``, ``isodow(date) - 1``, ``month``); a test checks this function
    against those values for every 2013 flight.

    Args:
        times: timestamps; naive ones are local times in ``timezone``, aware ones are converted.
        timezone: IANA name of the local time zone (``America/New_York``).

    Returns:
        Columns ``hour``, ``day_of_week``, ``month`` (int64), same index.
    """
    stamps = pd.to_datetime(times)
    if getattr(stamps.dt, "tz", None) is None:
        # Ambiguous or missing local times (DST changes) are resolved the way a schedule reads.
        local = stamps.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        if local.isna().any():
            local = stamps.dt.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
    else:
        local = stamps.dt.tz_convert(timezone)
    return pd.DataFrame(
        {
            "hour": local.dt.hour.astype("int64"),
            "day_of_week": local.dt.dayofweek.astype("int64"),
            "month": local.dt.month.astype("int64"),
        },
        index=times.index,
    )


# --------------------------------------------------------------------------- online features
@dataclass
class OnlineLookup:
    """Feature values of a batch of entity rows and which keys were unknown."""

    features: dict[str, list[Any]]
    unknown: list[list[str]]  # per row: the join keys whose record the store does not have


class OnlineFeatures:
    """Features by entity key from the Feast online store of a feature service.

    Args:
        feature_store: the resolved Feast config (``load_serving_config()["feature_store"]``).
        feature_service: the feature service the model reads.
    """

    def __init__(self, feature_store: Mapping[str, Any], feature_service: str) -> None:
        self.feature_store_config = dict(feature_store)
        self.feature_service_name = feature_service
        self._store = None
        self._service = None
        self.join_keys: list[str] = []
        self.feature_names: list[str] = []
        self._keys_of_feature: dict[str, tuple[str, ...]] = {}

    def load(self) -> None:
        """Open the store and read the feature service from the registry (fails loudly).

        Raises:
            ServingConfigError: the registry or the online store file does not exist, or the
                feature service is not registered.
        """
        from feast import FeatureStore, RepoConfig

        for section in ("registry", "online_store"):
            part = self.feature_store_config.get(section) or {}
            kind = part.get("registry_type", "file") if section == "registry" else part.get("type")
            if kind in ("file", "sqlite") and not Path(part.get("path", "")).is_file():
                raise ServingConfigError(
                    f"Feast {section} {part.get('path')} does not exist: apply and materialize the "
                    "feature repo (assets feast_definitions, online_features) for this TWELVE_HOME"
                )
        config = RepoConfig(**self.feature_store_config)
        store = FeatureStore(config=config)
        try:
            service = store.get_feature_service(self.feature_service_name)
        except Exception as error:  # Feast raises its own not-found error type
            raise ServingConfigError(
                f"feature service {self.feature_service_name!r} is not registered in "
                f"{config.registry.path}: {error}"
            ) from error
        keys_of: dict[str, tuple[str, ...]] = {}
        join_keys: list[str] = []
        for projection in service.feature_view_projections:
            view = store.get_feature_view(projection.name)
            keys = tuple(projection.join_key_map.get(k, k) for k in view.join_keys)
            join_keys += [k for k in keys if k not in join_keys]
            for feature in projection.features:
                keys_of[feature.name] = keys
        self._store, self._service = store, service
        self.join_keys, self.feature_names = join_keys, list(keys_of)
        self._keys_of_feature = keys_of

    @property
    def loaded(self) -> bool:
        """Whether :meth:`load` succeeded."""
        return self._store is not None

    def fetch(self, entity_rows: Sequence[Mapping[str, Any]]) -> OnlineLookup:
        """Latest feature values of each entity row.

        A key the store has no record of gives null features (what the point-in-time join gives
        a training row in the same case) and is named in ``unknown`` for that row.

        Args:
            entity_rows: one mapping of join keys per row.

        Returns:
            Feature name -> values (join keys left out), and the unknown keys per row.
        """
        from feast.protos.feast.serving.ServingService_pb2 import FieldStatus

        if self._store is None:
            raise ServingConfigError("the online feature store is not loaded")
        response = self._store.get_online_features(
            features=self._service, entity_rows=[dict(row) for row in entity_rows]
        )
        names = list(response.proto.metadata.feature_names.val)
        values = response.to_dict()
        unknown: list[set[str]] = [set() for _ in entity_rows]
        features: dict[str, list[Any]] = {}
        for name, vector in zip(names, response.proto.results, strict=True):
            if name not in self._keys_of_feature:
                continue  # a join key echoed back
            features[name] = values[name]
            stamps = vector.event_timestamps
            for row, status in enumerate(vector.statuses):
                # SQLite reports a missing key as NOT_FOUND; Feast's Redis store answers PRESENT
                # with empty values and no event timestamp (epoch 0) for a key it does not hold.
                unstamped = row < len(stamps) and stamps[row].seconds == 0 == stamps[row].nanos
                if status == FieldStatus.NOT_FOUND or unstamped:
                    unknown[row].update(self._keys_of_feature[name])
        return OnlineLookup(features, [sorted(keys) for keys in unknown])


# --------------------------------------------------------------------------- the contract
@dataclass(frozen=True)
class FieldProblem:
    """One reason a request breaks the contract, by field (the 422 body lists these)."""

    field: str
    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"field": self.field, "kind": self.kind, "message": self.message}


class ContractGate:
    """The model's feature contract, checked on every batch before the model sees it.

    Two steps, for speed without a second definition of the rules: a vectorized check compiled
    from the same column specs answers "certainly valid" for the common case (a few numpy
    comparisons, tens of microseconds); anything it is not sure of, and every invalid batch,
    goes to pandera (:func:`twelve.features.validation.validate_frame`, about 15 ms), whose problems
    are
    what the caller gets. The fast path may only ever *accept* what pandera accepts: a test
    checks it on valid and broken frames.

    Args:
        contract: the contract's JSON description (embedded in the BentoML model).
        max_unknown_category_share: tolerated share of values outside a column's categories.
    """

    def __init__(self, contract: Mapping[str, Any], max_unknown_category_share: float = 0.0):
        from twelve.features.columns import ColumnSpec
        from twelve.features.schemas import schema_from_dict

        self.contract = dict(contract)
        self.schema = schema_from_dict(self.contract)
        self.specs = [ColumnSpec.from_dict(column) for column in self.contract["columns"]]
        self.strict = bool(self.contract.get("strict", True))
        self.max_unknown_category_share = float(max_unknown_category_share)
        self._categories = {
            spec.name: frozenset(spec.categories) for spec in self.specs if spec.categories
        }

    def problems(self, frame: pd.DataFrame) -> list[FieldProblem]:
        """Every problem of ``frame`` (empty when it honours the contract)."""
        if self.certainly_valid(frame):
            return []
        return self.pandera_problems(frame)

    def pandera_problems(self, frame: pd.DataFrame) -> list[FieldProblem]:
        """The problems pandera finds (the reference check; slow)."""
        from twelve.features.validation import ContractViolation, validate_frame

        try:
            validate_frame(
                frame, self.schema, max_unknown_category_share=self.max_unknown_category_share
            )
        except ContractViolation as violation:
            return [FieldProblem(p.column, p.kind, p.message) for p in violation.problems]
        return []

    def certainly_valid(self, frame: pd.DataFrame) -> bool:
        """True only when pandera would accept ``frame``; False when unsure or invalid."""
        names = [spec.name for spec in self.specs]
        if list(frame.columns) != names and (
            set(frame.columns) != set(names) or frame.columns.duplicated().any()
        ):
            return False
        for spec in self.specs:
            column = frame[spec.name]
            if spec.pattern is not None or spec.unique:
                return False  # rare in a model input: left to pandera
            if spec.dtype in ("float64", "int64"):
                if str(column.dtype) != spec.dtype:
                    return False
                values = column.to_numpy()
                missing = np.isnan(values) if spec.dtype == "float64" else None
                if missing is not None and missing.any():
                    if not spec.nullable:
                        return False
                    values = values[~missing]
                if spec.min_value is not None:
                    low = spec.min_value
                    if (
                        not (values > low).all()
                        if spec.exclusive_min
                        else not (values >= low).all()
                    ):
                        return False
                if spec.max_value is not None and not (values <= spec.max_value).all():
                    return False
            elif spec.dtype == "str":
                if column.dtype != object:
                    return False
                missing = column.isna().to_numpy()
                if missing.any() and not spec.nullable:
                    return False
                present = column.to_numpy()[~missing]
                if not all(type(value) is str for value in present):
                    return False
                allowed = self._categories.get(spec.name)
                if allowed is not None and len(present):
                    unknown = sum(value not in allowed for value in present)
                    if unknown / len(present) > self.max_unknown_category_share:
                        return False
            else:
                return False  # bool and datetime columns: left to pandera
        return True


def violation_body(problems: Iterable[FieldProblem], contract: str) -> dict[str, Any]:
    """The JSON body of a 422 answer: every offending field and why."""
    listed = [p.to_dict() for p in problems]
    return {
        "error": "contract violation",
        "contract": contract,
        "fields": list(dict.fromkeys(p["field"] for p in listed)),
        "problems": listed,
    }


# --------------------------------------------------------------------------- monitoring
def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")


class ProfileRoller:
    """Rows buffered in memory, profiled in the background once per interval.

    :meth:`add` only appends a frame to a list under a lock; a daemon thread takes the buffer
    every ``interval_seconds``, profiles it with :func:`twelve.monitoring.profiling.profile_frame`
    and
    stores it as ``<root>/<model_version>/<UTC timestamp>-<pid>.bin`` with a JSON sidecar
    (``twelve.monitoring.profiling.ProfileStore`` layout). The pid keeps the files of several
    workers apart.
    Rows beyond ``max_buffer_rows`` between two flushes are dropped and counted (memory stays
    bounded when profiling falls behind); :meth:`stop` writes what is left.

    Args:
        root: the profile store folder (``<TWELVE_HOME>/serving_profiles``).
        model_version: the served model version (a folder of the store).
        interval_seconds: time between two profiles.
        extra: JSON facts for every sidecar (model tag, reference profile, bento tag).
        max_buffer_rows: rows kept between two flushes.
        on_flush: called with (rows, seconds) after each profile is written (metrics).
    """

    def __init__(
        self,
        root: Path,
        model_version: str,
        *,
        interval_seconds: float = DEFAULT_PROFILE_INTERVAL_S,
        extra: Mapping[str, Any] | None = None,
        max_buffer_rows: int = DEFAULT_MAX_BUFFER_ROWS,
        on_flush: Callable[[int, float], None] | None = None,
    ) -> None:
        from twelve.monitoring.profiling import ProfileStore, check_name

        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self.store = ProfileStore(root)
        self.model_version = check_name("model version", model_version)
        self.interval_seconds = float(interval_seconds)
        self.extra = dict(extra or {})
        self.max_buffer_rows = int(max_buffer_rows)
        self.on_flush = on_flush
        self.dropped_rows = 0
        self._frames: list[pd.DataFrame] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._window_start: float | None = None

    def add(self, frame: pd.DataFrame) -> None:
        """Buffer the rows of one request (cheap: no profiling here)."""
        with self._lock:
            if self._rows + len(frame) > self.max_buffer_rows:
                self.dropped_rows += len(frame)
                return
            if self._window_start is None:
                self._window_start = time.time()
            self._frames.append(frame)
            self._rows += len(frame)

    @property
    def buffered_rows(self) -> int:
        """Rows waiting for the next profile."""
        return self._rows

    def flush(self) -> Path | None:
        """Profile and store the buffered rows now; None when there were none."""
        from twelve.monitoring.profiling import profile_frame

        with self._flush_lock:
            with self._lock:
                frames, self._frames, self._rows = self._frames, [], 0
                window_start, self._window_start = self._window_start, None
                dropped, self.dropped_rows = self.dropped_rows, 0
            if not frames:
                return None
            started = time.perf_counter()
            frame = pd.concat(frames, ignore_index=True)
            now = time.time()
            version = f"{_stamp(now)}-{os.getpid()}"
            stored = self.store.write(
                self.model_version,
                version,
                profile_frame(frame),
                extra={
                    **self.extra,
                    "kind": "serving",
                    "model_version": self.model_version,
                    "window_start": datetime.fromtimestamp(window_start or now, UTC).isoformat(),
                    "window_end": datetime.fromtimestamp(now, UTC).isoformat(),
                    "requests": len(frames),
                    "dropped_rows": dropped,
                    "pid": os.getpid(),
                },
            )
            seconds = time.perf_counter() - started
            if self.on_flush is not None:
                self.on_flush(len(frame), seconds)
            return stored.path

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.flush()
            except Exception:  # the next interval retries; the failure is logged, not hidden
                log.exception("profiling the served rows failed")

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="twelve-profiler", daemon=True)
            self._thread.start()

    def stop(self) -> Path | None:
        """Stop the thread and profile what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        return self.flush()


# --------------------------------------------------------------------------- metrics
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)


@dataclass
class ServingMetrics:
    """Prometheus metrics of a served model, added to BentoML's ``/metrics``.

    Created in the worker (BentoML sets prometheus_client's multiprocess directory when a worker
    starts): the values go to that directory and BentoML's ``/metrics`` collects them. The metric
    objects are not registered in a registry, so building several services in one process (tests)
    does not clash.

    Args:
        prefix: metric name prefix (the bento's name).
    """

    prefix: str

    def __post_init__(self) -> None:
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
        self.profiled_rows = prom.Counter(
            f"{p}_profiled_rows", "Rows written to serving profiles.", registry=None
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


# --------------------------------------------------------------------------- ASGI middlewares
async def _send_json(send, status: int, body: Mapping[str, Any], headers=()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BearerAuthMiddleware:
    """Refuse API calls without ``Authorization: Bearer <token>`` when a token is configured.

    The token is read from ``$TWELVE_SERVING_TOKEN`` when the middleware is built (in the
    worker); unset or empty means no authentication. Health, metrics and docs stay open (probes
    and scrapers do not carry the token).

    Args:
        app: the ASGI app.
        protected: the API paths (``/predict``...).
        token: the token; default the environment variable.
    """

    def __init__(self, app, protected: Sequence[str], token: str | None = None) -> None:
        self.app = app
        self.protected = set(protected)
        self.token = (token if token is not None else os.environ.get(TOKEN_ENV, "")).strip()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.token or scope.get("path") not in self.protected:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                given = value
        scheme, _, credential = given.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            await _send_json(
                send,
                401,
                {"error": "unauthorized: send 'Authorization: Bearer <token>'"},
                headers=[(b"www-authenticate", b'Bearer realm="twelve"')],
            )
            return
        await self.app(scope, receive, send)


def map_validation_error(body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """Status and body for BentoML's answer to a request that failed pydantic validation.

    Unparseable JSON, or JSON that is not an object, is a malformed request (400). Anything else
    is a field that breaks the API's typed contract (a wrong type, a value out of range, a
    missing or unknown field): 422, naming each field (``flights[0].carrier``) and why.

    Args:
        body: BentoML's 400 body (``{"error": ..., "detail": [pydantic errors]}``).

    Returns:
        ``(status, body)``.
    """
    details = body.get("detail") if isinstance(body, Mapping) else None
    if not isinstance(details, list) or not details:
        return 400, {"error": "malformed request", "detail": body}
    malformed = [
        d for d in details if d.get("type") in ("json_invalid", "json_type") or not d.get("loc")
    ]
    if malformed:
        return 400, {
            "error": "malformed JSON: the body must be a JSON object",
            "detail": [d.get("msg", "") for d in malformed],
        }
    problems = []
    for detail in details:
        location = ""
        for part in detail.get("loc", []):
            location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else part)
        problems.append(
            FieldProblem(location, str(detail.get("type", "invalid")), str(detail.get("msg", "")))
        )
    return 422, violation_body(problems, contract="request schema")


class RequestErrorMiddleware:
    """Bad requests to the API paths get 400 / 415 / 422 with a clear body, never 500.

    - a body that is not JSON (``Content-Type`` other than ``application/json``): 415, before
      BentoML tries to parse it (a multipart body without boundary made it answer 500);
    - BentoML's 400 for a pydantic validation error is rewritten by :func:`map_validation_error`
      (malformed JSON stays 400; field errors become 422 naming the fields).

    Args:
        app: the ASGI app.
        protected: the API paths.
        on_rejection: called with the 422 problems (metrics).
    """

    def __init__(
        self,
        app,
        protected: Sequence[str],
        on_rejection: Callable[[list[dict[str, str]]], None] | None = None,
    ) -> None:
        self.app = app
        self.protected = set(protected)
        self.on_rejection = on_rejection

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.protected:
            await self.app(scope, receive, send)
            return
        content_type = ""
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-type":
                content_type = value.decode("latin-1").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and content_type not in ("", "application/json"):
            await _send_json(
                send,
                415,
                {"error": f"unsupported content type {content_type!r}: send application/json"},
            )
            return
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] != 400:
                    await send(message)
                    return
                started.update(message)
                return
            if message["type"] == "http.response.body" and started:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                try:
                    original = json.loads(b"".join(chunks) or b"{}")
                except ValueError:
                    original = {"error": b"".join(chunks).decode("utf-8", "replace")}
                status, body = map_validation_error(original)
                if status == 422 and self.on_rejection is not None:
                    self.on_rejection(body["problems"])
                await _send_json(send, status, body)
                return
            await send(message)

        await self.app(scope, receive, capture)


def silence_client_error_tracebacks() -> None:
    """Stop BentoML logging a full traceback at ERROR for every refused request (4xx noise).

    BentoML's ``log_exception`` logs every exception raised while handling a request; requests
    refused for bad input are answered 400/422 and counted in the metrics, so their tracebacks
    are only noise. Real server errors keep theirs.
    """

    class _ClientErrors(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            info = record.exc_info
            error = info[1] if info else None
            # pydantic's ValidationError: the request was refused with a 400/422 body.
            return not (
                error is not None
                and type(error).__name__ == "ValidationError"
                and type(error).__module__.startswith("pydantic")
            )

    logger = logging.getLogger("bentoml._internal.server.http_app")
    if not any(type(f).__name__ == "_ClientErrors" for f in logger.filters):
        logger.addFilter(_ClientErrors())


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows of a frame: NaN -> None, numpy scalars -> Python values."""
    objects = frame.astype(object)
    return objects.where(frame.notna(), None).to_dict("records")
