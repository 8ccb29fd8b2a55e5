"""Statistics per data version (factor 8): a whylogs profile and a readable report per version.

Every raw month and the training set get a profile stored under the data version it describes
(``<TWELVE_HOME>/profiles/<dataset>/<md5>.bin``), an HTML report beside it
(``<TWELVE_HOME>/reports/<dataset>/<md5>.html``) and one MLflow run in the experiment
``<mlflow.experiment>_data`` (``flight_delays_data``). The data runs have an experiment of their
own so the training experiment's run table compares models only; a training run finds the data
it was trained on by the md5s in its manifest (``tags.twelve.data_version = '<md5>'``).

A version that already has its profile, its report and its MLflow run is not profiled again
(the run says so in its metadata); ``force: true`` redoes it.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from flight_delays import paths as project_paths
from flight_delays.partitions import monthly_partitions
from twelve.core import paths as twelve_paths
from twelve.core.files import file_md5
from twelve.data.versioning import DvcResource
from twelve.monitoring import reports
from twelve.monitoring.profiling import ProfileStore, summary_frame
from twelve.training.tracking import MlflowResource

# The training set's columns that are not model inputs (brief: flight_id, event_timestamp,
# flight_month, the model inputs, is_late). Recorded in the reference profile's sidecar so serving
# and drift can pick the feature columns out of it.
IDENTIFIER_COLUMNS = ("flight_id", "event_timestamp", "flight_month")
LABEL_COLUMN = "is_late"
TRAINING_SET_DATASET = "training_set"
RAW_FLIGHTS_DATASET = "raw_flights"


class ProfileConfig(dg.Config):
    """How a data version is profiled."""

    force: bool = Field(
        default=False,
        description=(
            "Profile and report again even when this data version already has a profile, a "
            "report and an MLflow run (e.g. after changing the report by hand)."
        ),
    )
    sample_rows: int = Field(default=10, ge=0, description="Rows shown in the report's sample.")


def training_set_path():
    """The training set file (``$TWELVE_DATA_DIR/training/training_set.parquet``)."""
    return twelve_paths.data_dir() / "training" / "training_set.parquet"


def data_tracking(mlflow: MlflowResource) -> MlflowResource:
    """The same tracking store, experiment ``<experiment>_data``: where data runs go."""
    settings = {name: getattr(mlflow, name) for name in type(mlflow).model_fields}
    return type(mlflow)(**{**settings, "experiment": f"{mlflow.experiment}_data"})


def _existing_run(tracking: MlflowResource, dataset: str, version: str) -> str | None:
    """The finished MLflow run that already documents this version in this format, if any."""
    runs = tracking.client().search_runs(
        [tracking.experiment_id()],
        filter_string=(
            f"tags.`twelve.dataset` = '{dataset}' and tags.`twelve.data_version` = '{version}' "
            f"and tags.`twelve.report_format` = '{reports.FORMAT_VERSION}' "
            "and attributes.status = 'FINISHED'"
        ),
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def _log_run(
    tracking: MlflowResource,
    documented: reports.DocumentedVersion,
    tags: dict[str, str],
) -> str:
    import mlflow

    stored = documented.profile
    summary = documented.summary
    with tracking.start_run(run_name=f"{stored.dataset}@{stored.version[:12]}", tags=tags) as run:
        mlflow.log_metrics(
            {
                "rows": float(stored.info["rows"]),
                "columns": float(len(summary)),
                "missing_cell_share": float(summary["null_count"].sum() / summary["count"].sum()),
                "seconds_profile": documented.seconds_profile,
                "seconds_report": documented.seconds_report,
            }
        )
        mlflow.log_artifact(str(stored.path), "profile")
        mlflow.log_artifact(str(stored.info_path), "profile")
        mlflow.log_artifact(str(documented.report), "report")
        mlflow.log_text(reports.markdown_summary(summary), "summary.md")
        return run.info.run_id


def document(
    context: dg.AssetExecutionContext,
    *,
    dataset: str,
    path,
    version: str,
    mlflow: MlflowResource,
    config: ProfileConfig,
    facts: dict,
) -> dg.MaterializeResult:
    """Profile the file at ``path`` (data version ``version``), report it, log it to MLflow.

    Returns:
        The materialization: data version = the input's version, metadata linking the report.
    """
    store = ProfileStore()
    tracking = data_tracking(mlflow)
    report = reports.report_path(dataset, version)
    run_id = None if config.force else _existing_run(tracking, dataset, version)
    reused = run_id is not None and store.exists(dataset, version) and report.is_file()
    if reused:
        context.log.info("%s@%s is already documented (MLflow run %s)", dataset, version, run_id)
        stored = store.get(dataset, version)
        summary = summary_frame(store.read(dataset, version))
    else:
        frame = pd.read_parquet(path)
        documented = reports.document_version(
            frame,
            dataset=dataset,
            version=version,
            store=store,
            source=path,
            facts=facts,
            sample_rows=config.sample_rows,
        )
        tags = {
            "twelve.kind": "data_profile",
            "twelve.dataset": dataset,
            "twelve.data_version": version,
            "twelve.report_format": reports.FORMAT_VERSION,
            "twelve.source": str(path),
            "dagster.run_id": context.run.run_id,
            **({"dagster.partition": context.partition_key} if context.has_partition_key else {}),
        }
        run_id = _log_run(tracking, documented, tags)
        stored, summary, report = documented.profile, documented.summary, documented.report
        context.log.info(
            "profiled %s@%s in %.1f s, report in %.1f s: %s",
            dataset, version, documented.seconds_profile, documented.seconds_report, report,
        )  # fmt: skip
    missing = float(summary["null_count"].sum() / max(1, summary["count"].sum()))
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "data_version": version,
            "rows": int(stored.info["rows"]),
            "columns": len(summary),
            "missing_cell_share": dg.MetadataValue.float(missing),
            "report": dg.MetadataValue.path(str(report)),
            "profile": dg.MetadataValue.path(str(stored.path)),
            "summary": dg.MetadataValue.md(reports.markdown_summary(summary)),
            "mlflow_experiment": tracking.experiment,
            "mlflow_run_id": run_id,
            "reused": reused,
        },
    )


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[dg.AssetDep("raw_flights")],
    group_name="data_reports",
    code_version="1",
    kinds={"whylogs", "mlflow"},
)
def raw_flights_profile(
    context: dg.AssetExecutionContext,
    config: ProfileConfig,
    dvc: DvcResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    """Statistics of one raw month: a whylogs profile and an HTML data report.

    The profile is stored under the month file's DVC md5
    (`<TWELVE_HOME>/profiles/raw_flights/<md5>.bin`, with a JSON sidecar), the report beside it
    (`<TWELVE_HOME>/reports/raw_flights/<md5>.html`: distributions, missing values, cardinalities;
    opens offline). Both are logged to one MLflow run per data version in the experiment
    `flight_delays_data`. The metadata links the report and shows the summary table.
    """
    month = context.partition_key[:7]
    path = project_paths.raw_flights_path(month)
    if not path.is_file():
        raise dg.Failure(
            f"raw file {path} of {month} does not exist: materialize raw_flights for partition "
            f"{context.partition_key} first"
        )
    version = dvc.version_of(path)
    if version is None:
        raise dg.Failure(
            f"{path} is not tracked by DVC (no {path.name}.dvc beside it): its profile must be "
            f"keyed by its data version; materialize raw_flights for {context.partition_key}"
        )
    content = file_md5(path)
    if content != version:
        raise dg.Failure(
            f"{path} changed since DVC versioned it (pointer md5 {version}, content md5 "
            f"{content}): re-materialize raw_flights for {context.partition_key}"
        )
    return document(
        context,
        dataset=RAW_FLIGHTS_DATASET,
        path=path,
        version=version,
        mlflow=mlflow,
        config=config,
        facts={"month": month},
    )


@dg.asset(
    deps=[dg.AssetDep("training_set")],
    group_name="data_reports",
    code_version="1",
    kinds={"whylogs", "mlflow"},
)
def training_set_profile(
    context: dg.AssetExecutionContext, config: ProfileConfig, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """Statistics of the training set: THE reference profile serving and drift compare against.

    All columns of `training/training_set.parquet` are profiled (identifiers, every model input
    and the label; the sidecar records which is which), stored under the file's md5 (the
    training-set hash of the model's run manifest) in `<TWELVE_HOME>/profiles/training_set/`, and
    made the reference: `profiles/training_set/reference.json` names that version
    (`twelve.monitoring.profiling.ProfileStore().read_reference("training_set")`). HTML report and
    MLflow run
    as for the raw months.
    """
    path = training_set_path()
    if not path.is_file():
        raise dg.Failure(f"training set {path} does not exist: materialize training_set first")
    version = file_md5(path)
    columns = _columns_of(path)
    roles = {
        "identifiers": [name for name in IDENTIFIER_COLUMNS if name in columns],
        "label": LABEL_COLUMN if LABEL_COLUMN in columns else None,
        "features": [
            name for name in columns if name not in IDENTIFIER_COLUMNS and name != LABEL_COLUMN
        ],
    }
    result = document(
        context,
        dataset=TRAINING_SET_DATASET,
        path=path,
        version=version,
        mlflow=mlflow,
        config=config,
        facts={"column_roles": roles},
    )
    pointer = ProfileStore().set_reference(TRAINING_SET_DATASET, version)
    return dg.MaterializeResult(
        data_version=result.data_version,
        metadata={**(result.metadata or {}), "reference": dg.MetadataValue.path(str(pointer))},
    )


def _columns_of(path) -> list[str]:
    import pyarrow.parquet as pq

    # The parquet schema holds a stored pandas index as a column too: not a column of the data.
    return [name for name in pq.read_schema(path).names if not name.startswith("__index_level_")]


@dg.definitions
def defs() -> dg.Definitions:
    """The data-report assets and the resources they use (`mlflow`, `dvc`)."""
    return dg.Definitions(
        assets=[raw_flights_profile, training_set_profile],
    )
