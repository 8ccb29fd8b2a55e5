"""Explicit feature dependencies (factor 2): Feast definitions, online store, training set.

The dbt feature tables feed the project's Feast repository; its versioned feature service names
exactly the Feast features the model reads; the training set is the point-in-time join of every
labelled event with that service, checked against the project's contract before it is written.
The Feast work is the ``feast`` resource's (``twelve.features.feast``); these factories wire it.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import time

import dagster as dg
import pandas as pd

from twelve.core import tags
from twelve.core.config import config_annotation, with_defaults
from twelve.core.files import file_md5, write_parquet
from twelve.core.project import Project
from twelve.features import training_set as ts
from twelve.features.config import OnlineFeaturesConfig, TrainingSetConfig, parse_utc
from twelve.features.feast import FeastResource


def feast_definitions_asset(
    project: Project, feature_tables: list[str], group: str
) -> dg.AssetsDefinition:
    """The asset that registers the project's Feast repository (entities, views, services)."""

    @dg.asset(
        key=project.key("feast_definitions"),
        deps=[project.key(table) for table in feature_tables],
        group_name=group,
        kinds={"feast"},
        code_version="1",
        description=f"""Feast registry: the entities, feature views and feature services of
`{project.feature_repo.name}/`, among them `{project.feature_service}`, the one the model reads.

Registers every object of the repo (deleting registered ones it no longer has), with the sources
pointed at the dbt parquet files under the project's data folder. Fails, naming file and columns,
when a feature table lacks a column a view declares.""",
    )
    def _definitions(
        context: dg.AssetExecutionContext, feast: FeastResource
    ) -> dg.MaterializeResult:
        summary = feast.apply()
        context.log.info("feast registry %s: %s", summary["registry"], summary)
        return dg.MaterializeResult(
            metadata={
                "registry": dg.MetadataValue.path(summary["registry"]),
                **{
                    name: dg.MetadataValue.json(summary[name])
                    for name in ("feature_views", "feature_services", "entities", "sources")
                },
                "deleted": dg.MetadataValue.json(summary["deleted"]),
                "seconds": summary["seconds"],
            }
        )

    return _definitions


def online_features_asset(project: Project, defaults: dict, group: str) -> dg.AssetsDefinition:
    """The asset that loads the latest value of every served feature into the online store."""
    config_class = with_defaults(
        OnlineFeaturesConfig,
        {"feature_service": project.feature_service, **defaults},
        name=f"OnlineFeaturesConfig_{project.name}",
    )

    @dg.asset(
        key=project.key("online_features"),
        deps=[project.key("feast_definitions")],
        group_name=group,
        kinds={"feast"},
        code_version="1",
        description=f"""Online store: the latest value of every feature of
`{project.feature_service}`, what the bento reads when it serves.

Materializes an explicit range, by default the whole time range of the feature tables:
materialize-incremental on a fresh registry starts at now minus the TTL and would load nothing
for data older than that.""",
    )
    @config_annotation(config_class)
    def _online(
        context: dg.AssetExecutionContext, config: OnlineFeaturesConfig, feast: FeastResource
    ) -> dg.MaterializeResult:
        start = parse_utc(config.materialize_start, "materialize_start")
        end = parse_utc(config.materialize_end, "materialize_end")
        if start is None or end is None:
            data_start, data_end = feast.data_time_range(config.feature_service)
            start = start or data_start
            # Feast's end bound is inclusive; one second more keeps the last row whatever its
            # sub-second part.
            end = end or data_end + pd.Timedelta(seconds=1)
        views = [spec.name for spec in feast.view_specs(config.feature_service)]
        summary = feast.materialize(start, end, views)
        context.log.info("online store: %s", summary)
        return dg.MaterializeResult(
            metadata={
                "start": summary["start"],
                "end": summary["end"],
                "feature_views": dg.MetadataValue.json(summary["feature_views"]),
                "seconds": summary["seconds"],
            }
        )

    return _online


def training_set_asset(
    project: Project, label_events: str, defaults: dict, group: str
) -> dg.AssetsDefinition:
    """The point-in-time training set, checked against the project's contract."""
    contract = project.contract
    config_class = with_defaults(
        TrainingSetConfig,
        {"feature_service": project.feature_service, **defaults},
        name=f"TrainingSetConfig_{project.name}",
    )

    @dg.asset(
        key=project.key("training_set"),
        deps=[project.key("feast_definitions"), project.key(label_events)],
        group_name=group,
        kinds={"feast", "pandera", "parquet"},
        tags=tags.role(tags.TRAINING_SET),
        code_version="1",
        description=f"""Training set: every labelled row of `{label_events}` with its features as
known at `{contract.timestamp.name}` (no value stamped later is ever used).

Entity rows are dbt's label events (keys, request features, label); the Feast features of the
service are joined point in time. The result must honour the training-set contract
`{contract.name}_training_set` (types, ranges, categories, no extra column: nothing known only
after the outcome) or the asset fails naming each column. Written to `training/training_set.parquet`
under the project's data folder; its md5 is the data version.""",
    )
    @config_annotation(config_class)
    def _training_set(
        context: dg.AssetExecutionContext, config: TrainingSetConfig, feast: FeastResource
    ) -> dg.MaterializeResult:
        events_path = project.features_dir() / f"{label_events}.parquet"
        if not events_path.is_file():
            raise dg.Failure(
                description=f"{events_path} does not exist: materialize {label_events} first"
            )
        entities = ts.entity_frame(pd.read_parquet(events_path), contract)
        started = time.perf_counter()
        joined = feast.historical_features(entities, config.feature_service)
        join_seconds = round(time.perf_counter() - started, 2)
        frame = ts.assemble_training_set(
            joined, contract, max_unknown_category_share=config.max_unknown_category_share
        )
        # snappy, pandas' default: the codec flight_delays' committed training-set version has.
        path = write_parquet(frame, project.training_set_path(), compression="snappy")
        md5 = file_md5(path)
        facts = ts.training_set_metadata(frame, contract)
        context.log.info(
            "training set: %d rows, label mean %s, md5 %s", len(frame), facts["label_mean"], md5
        )
        return dg.MaterializeResult(
            data_version=dg.DataVersion(md5),
            metadata={
                "dagster/row_count": len(frame),
                "dagster/column_schema": ts.column_schema(contract),
                "path": dg.MetadataValue.path(str(path)),
                "md5": md5,
                "rows": facts["rows"],
                "label_mean": facts["label_mean"],
                "rows_per_period": dg.MetadataValue.json(facts["rows_per_period"]),
                "null_share": dg.MetadataValue.json(facts["null_share"]),
                "feature_service": config.feature_service,
                "contract": dg.MetadataValue.json(contract.training_set_dict()),
                "join_seconds": join_seconds,
            },
        )

    return _training_set
