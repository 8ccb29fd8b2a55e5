"""Where the monitoring blocks record what they learn about data: names and MLflow runs.

Every data report, drift report and performance check is one MLflow run in the experiment
``<project>_data``: apart from the training experiment, so that one's run table compares models
only. Profiles and reports are stored under a dataset name per asset key (``training_set``,
``raw_flights``; ``<prefix>__training_set`` for a project with an asset prefix), so two projects
of one ``TWELVE_HOME`` never share a folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

    from twelve.monitoring.reports import DocumentedVersion
    from twelve.training.tracking import MlflowResource

DATA_EXPERIMENT_SUFFIX = "_data"


def dataset_name(key: dg.AssetKey) -> str:
    """The store and report folder of an asset's data (``training_set``, ``p__training_set``)."""
    return key.to_python_identifier()


def data_tracking(mlflow: MlflowResource) -> MlflowResource:
    """The same tracking store, experiment ``<experiment>_data``: where data runs go."""
    settings = {name: getattr(mlflow, name) for name in type(mlflow).model_fields}
    experiment = f"{mlflow.experiment}{DATA_EXPERIMENT_SUFFIX}"
    return type(mlflow)(**{**settings, "experiment": experiment})


def existing_profile_run(
    tracking: MlflowResource, dataset: str, version: str, report_format: str
) -> str | None:
    """The finished data run that already documents this version in this format, if any."""
    runs = tracking.client().search_runs(
        [tracking.experiment_id()],
        filter_string=(
            f"tags.`twelve.dataset` = '{dataset}' and tags.`twelve.data_version` = '{version}' "
            f"and tags.`twelve.report_format` = '{report_format}' "
            "and attributes.status = 'FINISHED'"
        ),
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def missing_share(summary) -> float:
    """Share of missing cells of a profile summary (``profile_summary.summary_frame``)."""
    return float(summary["null_count"].sum() / max(1, summary["count"].sum()))


def log_profile_run(
    tracking: MlflowResource, documented: DocumentedVersion, tags: dict[str, str]
) -> str:
    """One data run: size and timing metrics, the profile with its sidecar, the report.

    Returns:
        The run id.
    """
    import mlflow

    from twelve.monitoring import report_format

    stored = documented.profile
    summary = documented.summary
    with tracking.start_run(run_name=f"{stored.dataset}@{stored.version[:12]}", tags=tags) as run:
        mlflow.log_metrics(
            {
                "rows": float(stored.info["rows"]),
                "columns": float(len(summary)),
                "missing_cell_share": missing_share(summary),
                "seconds_profile": documented.seconds_profile,
                "seconds_report": documented.seconds_report,
            }
        )
        mlflow.log_artifact(str(stored.path), "profile")
        mlflow.log_artifact(str(stored.info_path), "profile")
        mlflow.log_artifact(str(documented.report), "report")
        mlflow.log_text(report_format.markdown_summary(summary), "summary.md")
        return run.info.run_id
