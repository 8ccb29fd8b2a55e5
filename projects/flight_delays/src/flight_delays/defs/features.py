"""Explicit feature dependencies (factor 2): Feast definitions, online store, training set.

The dbt feature tables feed the Feast repo (``feature_repo/``); the feature service
``flight_delay_v1`` names exactly the Feast features the model reads; the training set is the
point-in-time join of every labelled flight with that service, checked against the pandera
contract (``flight_delays.contract``) before it is written. The Feast work is done by the
platform's ``FeastResource`` (resource key ``feast``); these assets only wire it.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import time

import dagster as dg
import pandas as pd

from flight_delays import contract
from flight_delays import training_set as ts
from flight_delays.config_features import OnlineFeaturesConfig, TrainingSetConfig, parse_utc
from twelve.core import tags
from twelve.features.feast import FeastResource

GROUP = "features"
FEATURE_TABLES = ["weather_features", "plane_features", "carrier_features"]
LABEL_EVENTS = "flight_events"


@dg.asset(
    deps=[dg.AssetKey(table) for table in FEATURE_TABLES],
    group_name=GROUP,
    kinds={"feast"},
    code_version="1",
)
def feast_definitions(
    context: dg.AssetExecutionContext, feast: FeastResource
) -> dg.MaterializeResult:
    """Feast registry: entities, feature views and the feature service flight_delay_v1.

    Registers every object of feature_repo/ (deleting registered ones the repo no longer has),
    with the sources pointed at the dbt parquet files under TWELVE_DATA_DIR/features. Fails,
    naming file and columns, when a feature table lacks a column a view declares.
    """
    summary = feast.apply()
    context.log.info("feast registry %s: %s", summary["registry"], summary)
    return dg.MaterializeResult(
        metadata={
            "registry": dg.MetadataValue.path(summary["registry"]),
            "feature_views": dg.MetadataValue.json(summary["feature_views"]),
            "feature_services": dg.MetadataValue.json(summary["feature_services"]),
            "entities": dg.MetadataValue.json(summary["entities"]),
            "sources": dg.MetadataValue.json(summary["sources"]),
            "deleted": dg.MetadataValue.json(summary["deleted"]),
            "seconds": summary["seconds"],
        }
    )


@dg.asset(
    deps=[dg.AssetKey("feast_definitions")],
    group_name=GROUP,
    kinds={"feast", "sqlite"},
    code_version="1",
)
def online_features(
    context: dg.AssetExecutionContext, config: OnlineFeaturesConfig, feast: FeastResource
) -> dg.MaterializeResult:
    """Online store (SQLite): the latest value of every feature of flight_delay_v1, for serving.

    Materializes an explicit range, by default the whole time range of the feature tables:
    materialize-incremental on a fresh registry starts at now minus the TTL and would load
    nothing for 2013 data.
    """
    start = parse_utc(config.materialize_start, "materialize_start")
    end = parse_utc(config.materialize_end, "materialize_end")
    if start is None or end is None:
        data_start, data_end = feast.data_time_range(config.feature_service)
        start = start or data_start
        # The end bound is inclusive in Feast; one second more keeps the last row whatever its
        # sub-second part.
        end = end or data_end + pd.Timedelta(seconds=1)
    views = [spec.name for spec in feast.view_specs(config.feature_service)]
    summary = feast.materialize(start, end, views)
    return dg.MaterializeResult(
        metadata={
            "start": summary["start"],
            "end": summary["end"],
            "feature_views": dg.MetadataValue.json(summary["feature_views"]),
            "seconds": summary["seconds"],
        }
    )


@dg.asset(
    deps=[dg.AssetKey("feast_definitions"), dg.AssetKey(LABEL_EVENTS)],
    group_name=GROUP,
    # The role the platform's jobs and sensor select it by (until the training-set block).
    tags=tags.role(tags.TRAINING_SET),
    kinds={"feast", "pandera", "parquet"},
    code_version="1",
)
def training_set(
    context: dg.AssetExecutionContext, config: TrainingSetConfig, feast: FeastResource
) -> dg.MaterializeResult:
    """Training set: every labelled flight with its features as known at scheduled departure.

    Entity rows are the dbt flight_events (request features and label); the Feast features of
    the service are joined point in time (no value stamped after the departure is ever used).
    The result must honour the training-set contract (types, ranges, categories, no extra
    column: nothing known only after departure) or the asset fails naming each column. Written
    to TWELVE_DATA_DIR/training/training_set.parquet; its md5 is the data version.
    """
    events_path = ts.flight_events_path()
    if not events_path.is_file():
        raise FileNotFoundError(f"{events_path} does not exist: materialize {LABEL_EVENTS} first")
    entities = ts.entity_frame(pd.read_parquet(events_path))
    started = time.perf_counter()
    joined = feast.historical_features(entities, config.feature_service)
    join_seconds = round(time.perf_counter() - started, 2)
    frame = ts.assemble_training_set(
        joined, max_unknown_category_share=config.max_unknown_category_share
    )
    path = ts.training_set_path()
    md5 = ts.write_parquet(frame, path)
    facts = ts.training_set_metadata(frame)
    context.log.info(
        "training set: %d rows, late rate %s, md5 %s", facts["rows"], facts["late_rate"], md5
    )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(md5),
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "md5": md5,
            "rows": facts["rows"],
            "late_rate": facts["late_rate"],
            "columns": dg.MetadataValue.json(facts["columns"]),
            "rows_per_month": dg.MetadataValue.json(facts["rows_per_month"]),
            "null_share": dg.MetadataValue.json(facts["null_share"]),
            "feature_service": config.feature_service,
            "contract": dg.MetadataValue.json(contract.TRAINING_SET_CONTRACT),
            "join_seconds": join_seconds,
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The Feast and training-set assets with the ``feast`` resource (paths from
    twelve.core.paths)."""
    return dg.Definitions(
        assets=[feast_definitions, online_features, training_set],
    )
