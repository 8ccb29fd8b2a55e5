"""Statistics per data version (factor 8): a whylogs profile and a readable report per version.

Every month of a monthly raw source (``<source>_profile``, partitioned) and the training set
(``training_set_profile``) get a profile stored under the data version it describes
(``<TWELVE_HOME>/profiles/<dataset>/<md5>.bin``), an HTML report beside it
(``<TWELVE_HOME>/reports/<dataset>/<md5>.html``) and one MLflow run in the experiment
``<project>_data`` (``twelve.monitoring.data_runs``). A training run finds the data it was
trained on by the md5s in its manifest (``tags.twelve.data_version = '<md5>'``).

A version that already has its profile, its report and its MLflow run is not profiled again
(the metadata says so); ``force: true`` redoes it. The training set's profile becomes THE
reference the serving skew and, before a first champion, the monthly drift compare against.
"""

# No `from __future__ import annotations`: Dagster inspects the real `context` annotation.

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from twelve.core import tags
from twelve.core.config import config_annotation
from twelve.core.files import file_md5
from twelve.core.project import Project
from twelve.data.versioning import DvcResource
from twelve.monitoring import data_runs, report_format, reports
from twelve.monitoring.config import ProfileConfig
from twelve.monitoring.profile_summary import summary_frame
from twelve.monitoring.profiling import ProfileStore
from twelve.training.tracking import MlflowResource

GROUP = "data_reports"
TRAINING_SET = "training_set"


def _reuse(context, tracking, dataset: str, version: str, config: ProfileConfig):
    """The stored profile, summary, report and run of a version documented before, else None."""
    store = ProfileStore()
    report = reports.report_path(dataset, version)
    run_id = (
        None
        if config.force
        else data_runs.existing_profile_run(tracking, dataset, version, reports.FORMAT_VERSION)
    )
    if run_id is None or not store.exists(dataset, version) or not report.is_file():
        return None
    context.log.info("%s@%s is already documented (MLflow run %s)", dataset, version, run_id)
    stored = store.get(dataset, version)
    return stored, summary_frame(store.read(dataset, version)), report, run_id


def document(
    context: dg.AssetExecutionContext,
    *,
    dataset: str,
    path: Path,
    version: str,
    mlflow: MlflowResource,
    config: ProfileConfig,
    facts: dict[str, Any],
) -> dg.MaterializeResult:
    """Profile the file at ``path`` (data version ``version``), report it, log it to MLflow.

    Returns:
        The materialization: data version = the input's version, metadata linking the report.
    """
    tracking = data_runs.data_tracking(mlflow)
    reused = _reuse(context, tracking, dataset, version, config)
    if reused:
        stored, summary, report, run_id = reused
    else:
        documented = reports.document_version(
            pd.read_parquet(path),
            dataset=dataset,
            version=version,
            store=ProfileStore(),
            source=path,
            facts=facts,
            sample_rows=config.sample_rows,
        )
        run_tags = {
            "twelve.kind": "data_profile",
            "twelve.dataset": dataset,
            "twelve.data_version": version,
            "twelve.report_format": reports.FORMAT_VERSION,
            "twelve.source": str(path),
            "dagster.run_id": context.run.run_id,
            **({"dagster.partition": context.partition_key} if context.has_partition_key else {}),
        }
        run_id = data_runs.log_profile_run(tracking, documented, run_tags)
        stored, summary, report = documented.profile, documented.summary, documented.report
        context.log.info(
            "profiled %s@%s in %.1f s, report in %.1f s: %s",
            dataset, version, documented.seconds_profile, documented.seconds_report, report,
        )  # fmt: skip
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "data_version": version,
            "rows": int(stored.info["rows"]),
            "columns": len(summary),
            "missing_cell_share": dg.MetadataValue.float(data_runs.missing_share(summary)),
            "report": dg.MetadataValue.path(str(report)),
            "profile": dg.MetadataValue.path(str(stored.path)),
            "summary": dg.MetadataValue.md(report_format.markdown_summary(summary)),
            "mlflow_experiment": tracking.experiment,
            "mlflow_run_id": run_id,
            "reused": reused is not None,
        },
    )


def arrived_file(
    instance: dg.DagsterInstance, source: dg.AssetKey, partition: str, dvc: DvcResource
) -> tuple[Path, str]:
    """The file a monthly source's partition was written to and its DVC version, checked.

    The raw block records the file in its materialization's ``path`` metadata: the profile reads
    it there, so it knows no file layout of its own.

    Raises:
        dagster.Failure: the partition was never materialized, its file is gone, not tracked by
            DVC, or changed since DVC versioned it (each named, with what to do).
    """
    name = source.to_user_string()
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=source, asset_partitions=[partition]),
        limit=1,
        ascending=False,
    ).records
    materialization = records[0].asset_materialization if records else None
    path_value = materialization.metadata.get("path") if materialization else None
    if path_value is None:
        raise dg.Failure(f"{name} has no materialization of {partition}: materialize it first")
    path = Path(str(path_value.value))
    if not path.is_file():
        raise dg.Failure(
            f"raw file {path} of {partition} does not exist: materialize {name} for partition "
            f"{partition} first"
        )
    version = dvc.version_of(path)
    if version is None:
        raise dg.Failure(
            f"{path} is not tracked by DVC (no {path.name}.dvc beside it): its profile must be "
            f"keyed by its data version; materialize {name} for {partition}"
        )
    content = file_md5(path)
    if content != version:
        raise dg.Failure(
            f"{path} changed since DVC versioned it (pointer md5 {version}, content md5 "
            f"{content}): re-materialize {name} for {partition}"
        )
    return path, version


def source_profile_asset(
    project: Project, source: str, config_class: type[ProfileConfig]
) -> dg.AssetsDefinition:
    """``<source>_profile``: one month of a monthly raw source, profiled and reported."""
    source_key = project.key(source)
    dataset = data_runs.dataset_name(source_key)

    @dg.asset(
        key=project.key(f"{source}_profile"),
        partitions_def=project.partitions(),
        deps=[dg.AssetDep(source_key)],
        group_name=GROUP,
        code_version="1",
        kinds={"whylogs", "mlflow"},
        tags=tags.role(tags.ARRIVAL),
        description=f"""Statistics of one month of `{source}`: a whylogs profile and an HTML data
report.

The profile is stored under the month file's DVC md5 (`<TWELVE_HOME>/profiles/{dataset}/<md5>.bin`,
with a JSON sidecar), the report beside it (`<TWELVE_HOME>/reports/{dataset}/<md5>.html`:
distributions, missing values, cardinalities; opens offline). Both are logged to one MLflow run
per data version in the experiment `{project.name}_data`. The metadata links the report and shows
the summary table.""",
    )
    @config_annotation(config_class)
    def _profile(
        context: dg.AssetExecutionContext,
        config: ProfileConfig,
        dvc: DvcResource,
        mlflow: MlflowResource,
    ) -> dg.MaterializeResult:
        partition = context.partition_key
        path, version = arrived_file(context.instance, source_key, partition, dvc)
        return document(
            context,
            dataset=dataset,
            path=path,
            version=version,
            mlflow=mlflow,
            config=config,
            facts={"month": partition[:7]},
        )

    return _profile


def column_roles(project: Project, columns: list[str]) -> dict[str, Any]:
    """Which training-set columns are identifiers, the label and features (the contract's roles).

    Recorded in the reference profile's sidecar, so serving and drift pick the features out of it.
    """
    contract = project.contract
    identifiers = [name for name in contract.key_columns if name in columns]
    label = contract.label.name
    return {
        "identifiers": identifiers,
        "label": label if label in columns else None,
        "features": [name for name in columns if name not in identifiers and name != label],
    }


def _columns_of(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    # The parquet schema holds a stored pandas index as a column too: not a column of the data.
    return [name for name in pq.read_schema(path).names if not name.startswith("__index_level_")]


def training_set_profile_asset(
    project: Project, config_class: type[ProfileConfig]
) -> dg.AssetsDefinition:
    """``training_set_profile``: the training set profiled, reported, and made the reference."""
    dataset = data_runs.dataset_name(project.key(TRAINING_SET))

    @dg.asset(
        key=project.key("training_set_profile"),
        deps=[dg.AssetDep(project.key(TRAINING_SET))],
        group_name=GROUP,
        code_version="1",
        kinds={"whylogs", "mlflow"},
        description=f"""Statistics of the training set: THE reference profile serving and drift
compare against.

All its columns are profiled (identifiers, every model input and the label; the sidecar records
which is which), stored under the file's md5 (the training-set hash of the model's run manifest)
in `<TWELVE_HOME>/profiles/{dataset}/`, and made the reference: `reference.json` there names that
version. HTML report and MLflow run (experiment `{project.name}_data`) as for the raw months.""",
    )
    @config_annotation(config_class)
    def _profile(
        context: dg.AssetExecutionContext, config: ProfileConfig, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        path = project.training_set_path()
        if not path.is_file():
            raise dg.Failure(f"training set {path} does not exist: materialize training_set first")
        version = file_md5(path)
        result = document(
            context,
            dataset=dataset,
            path=path,
            version=version,
            mlflow=mlflow,
            config=config,
            facts={"column_roles": column_roles(project, _columns_of(path))},
        )
        pointer = ProfileStore().set_reference(dataset, version)
        return dg.MaterializeResult(
            data_version=result.data_version,
            metadata={**(result.metadata or {}), "reference": dg.MetadataValue.path(str(pointer))},
        )

    return _profile
