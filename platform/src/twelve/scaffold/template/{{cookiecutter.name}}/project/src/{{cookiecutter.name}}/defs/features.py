"""Feature dependencies (factor 2): Feast registry, online store, point-in-time training set."""

import dagster as dg
import pandas as pd
from twelve.data.versioning import DvcResource
from twelve.features.feast import FeastResource

from {{ cookiecutter.name }} import contract, resources
from {{ cookiecutter.name }}.config import FeaturesConfig
from {{ cookiecutter.name }}.paths import (
    ASSET_PREFIX,
    asset_key,
    features_dir,
    training_set_path,
)
from {{ cookiecutter.name }}.sample_data import ENTITY_KEYS


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("entity_features")],
    group_name="features",
    kinds={"feast"},
    code_version="1",
)
def feast_definitions(
    context: dg.AssetExecutionContext, feast: FeastResource
) -> dg.MaterializeResult:
    """Registers this project's Feast repo: entities, the activity view, the v1 service.

    The repo is feature_repo/{{ cookiecutter.name }}, a Feast project of its own.
    """
    summary = feast.apply()
    context.log.info("feast apply: %s", summary)
    return dg.MaterializeResult(
        metadata={
            "feature_views": dg.MetadataValue.json(summary["feature_views"]),
            "feature_services": dg.MetadataValue.json(summary["feature_services"]),
        }
    )


def build_training_set(labels: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The training set: label events, their point-in-time features, in the contract's order.

    Args:
        labels: The label events (dbt model ``label_events``).
        features: ``labels`` joined with the service's features (same rows, same order).

    Returns:
        The contract-valid training set.
    """
    if len(features) != len(labels):
        raise ValueError(f"the join returned {len(features)} rows for {len(labels)} label events")
    frame = features.copy()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    for column in contract.FEAST_FEATURES:
        frame[column] = frame[column].astype("float64")
    columns = ["event_id", *ENTITY_KEYS, "event_timestamp", *contract.MODEL_INPUT, contract.LABEL]
    return contract.validate_training_set(frame[columns].reset_index(drop=True))


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("feast_definitions"), asset_key("label_events")],
    group_name="training",
    kinds={"parquet", "pandera", "dvc"},
    code_version="1",
)
def training_set(
    context: dg.AssetExecutionContext,
    config: FeaturesConfig,
    feast: FeastResource,
    dvc: DvcResource,
) -> dg.MaterializeResult:
    """Every label event with the features known at its time (Feast point-in-time join).

    Checked against the pandera contract before it is written (a violation names the columns),
    then versioned with DVC: its md5 is the data version every training run records.
    """
    labels = pd.read_parquet(features_dir() / "label_events.parquet")
    joined = feast.historical_features(labels, config.feature_service)
    frame = build_training_set(labels, joined)
    path = training_set_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    md5 = dvc.track(path)
    context.log.info("training set: %d rows -> %s (md5 %s)", len(frame), path, md5)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(md5),
        metadata={
            "rows": len(frame),
            "dvc_md5": md5,
            "feature_service": config.feature_service,
            "path": dg.MetadataValue.path(str(path)),
        },
    )


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("feast_definitions")],
    group_name="features",
    kinds={"feast"},
    code_version="1",
)
def online_features(
    context: dg.AssetExecutionContext, config: FeaturesConfig, feast: FeastResource
) -> dg.MaterializeResult:
    """The latest feature values per entity in the Feast online store: what the bento reads.

    The whole time range of the feature tables is loaded (an explicit range: an incremental
    materialization of historical data would load nothing).
    """
    start, end = feast.data_time_range(config.feature_service)
    summary = feast.materialize(start, end + pd.Timedelta(seconds=1))
    context.log.info("feast materialize: %s", summary)
    return dg.MaterializeResult(metadata={key: str(value) for key, value in summary.items()})


def defs() -> dg.Definitions:
    """Feast registry, online store and training set, with their resources."""
    return dg.Definitions(
        assets=[feast_definitions, training_set, online_features],
        resources={"feast": resources.feast(), "dvc": resources.dvc()},
    )
