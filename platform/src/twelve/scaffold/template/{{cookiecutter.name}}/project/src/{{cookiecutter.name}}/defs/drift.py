"""Drift and continuous training (factor 6): new raw data that drifted starts a retraining.

The sensor watches the raw events' profile (``raw_events_profile``). When a new raw version is
profiled, it is compared with the raw version the reference training set was built from
(``twelve.monitoring.drift``: Hellinger distance and KS / chi-squared tests, Holm-adjusted); drift
starts
the golden path, which retrains, evaluates and, through the gate, promotes.
"""

import dagster as dg
from twelve.core.config import load_defaults
from twelve.monitoring import drift
from twelve.monitoring.profiling import ProfileNotFound, ProfileStore

from {{ cookiecutter.name }}.config import DriftConfig
from {{ cookiecutter.name }}.paths import CONF_DIR, RAW_DATASET, asset_key


def drift_of(version: str, config: DriftConfig, store: ProfileStore) -> drift.DatasetDrift | None:
    """The drift verdict of a raw version against the reference one (None: it is the reference).

    Raises:
        twelve.monitoring.profiling.ProfileNotFound: no reference yet, or the version was not
        profiled.
    """
    reference = store.reference_version(RAW_DATASET)
    if reference == version:
        return None
    thresholds = drift.DriftThresholds(
        alpha=config.alpha,
        warn_distance=config.warn_distance,
        drift_distance=config.drift_distance,
        min_rows=config.min_rows,
    )
    results = drift.compare_profiles(
        store.read(RAW_DATASET, reference),
        store.read(RAW_DATASET, version),
        features=config.features,
        thresholds=thresholds,
    )
    return drift.dataset_verdict(results)


@dg.asset_sensor(
    asset_key=asset_key("raw_events_profile"),
    job_name="golden_path",
    minimum_interval_seconds=load_defaults(CONF_DIR / "drift.yaml", "sensor")[
        "minimum_interval_seconds"
    ],
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def drift_retraining(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """Retrain when a new raw data version drifted from the data of the reference training set."""
    metadata = asset_event.asset_materialization.metadata
    version = str(metadata["data_version"].value)
    try:
        verdict = drift_of(version, DriftConfig(), ProfileStore())
    except ProfileNotFound as error:
        return dg.SkipReason(f"no drift comparison for raw version {version}: {error}")
    if verdict is None:
        return dg.SkipReason(f"raw version {version} is the reference")
    if not verdict.is_drift:
        return dg.SkipReason(f"raw version {version}: {verdict.verdict}")
    context.log.info("raw version %s drifted: %s", version, verdict.to_dict())
    return dg.RunRequest(
        run_key=f"drift-{version}",
        tags={"twelve.trigger": "drift", "twelve.drifted_raw_version": version},
    )


def defs() -> dg.Definitions:
    """The drift retraining sensor (it starts the project's `golden_path` job)."""
    return dg.Definitions(sensors=[drift_retraining])
