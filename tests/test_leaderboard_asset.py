"""The `leaderboard` asset: ranks the runs of the problem on the holdout_set's current version."""

from __future__ import annotations

import dagster as dg
import pytest

from twelve.training.evaluation import ROC_POINTS_ARTIFACT
from twelve.training.tracking import MlflowResource

CURRENT, OLD = "c" * 32, "d" * 32


def _log_run(mlflow: MlflowResource, holdout: str, auc: float, pipeline: str) -> str:
    import mlflow as mlflow_api

    tags = {"twelve.holdout_md5": holdout, "twelve.pipeline": pipeline}
    with mlflow.start_run(run_name=pipeline, tags=tags) as run:
        mlflow_api.log_metrics({"roc_auc": auc})
        mlflow_api.log_dict(
            {"fpr": [0, 0.3, 1], "tpr": [0, 0.6, 1], "auc": auc}, ROC_POINTS_ARTIFACT
        )
    return run.info.run_id


@pytest.fixture
def materialized(twelve_env):
    from flight_delays.definitions import build_defs

    mlflow = MlflowResource(experiment="flight_delays")
    runs = {
        "best_elsewhere": _log_run(mlflow, OLD, 0.93, "hist_gradient_boosting"),
        "boosted": _log_run(mlflow, CURRENT, 0.70, "hist_gradient_boosting"),
        "linear": _log_run(mlflow, CURRENT, 0.69, "logistic_regression"),
    }
    instance = dg.DagsterInstance.ephemeral()
    # The holdout in force is the holdout_set asset's current DVC version.
    instance.report_runless_asset_event(
        dg.AssetMaterialization("holdout_set", metadata={"dvc_md5": CURRENT})
    )
    result = dg.materialize(
        [build_defs().get_assets_def("leaderboard")],
        instance=instance,
        resources={"mlflow": mlflow},
    )
    (event,) = result.asset_materializations_for_node("leaderboard")
    metadata = {key: value.value for key, value in event.metadata.items()}
    return mlflow, runs, metadata


def test_the_leaderboard_ranks_the_current_holdouts_runs_and_keeps_the_others_apart(materialized):
    _, runs, metadata = materialized
    assert metadata["current_holdout_md5"] == CURRENT
    assert metadata["runs_on_current_holdout"] == 2
    assert metadata["runs_on_other_holdouts"] == 1
    assert metadata["best_run_id"] == runs["boosted"]  # 0.93 was on another holdout
    assert metadata["ranking"].splitlines()[0].startswith("1. hist_gradient_boosting")


def test_the_report_is_written_linked_and_logged_to_mlflow(materialized):
    from pathlib import Path

    mlflow, runs, metadata = materialized
    page = Path(metadata["report"]).read_text()
    assert runs["linear"][:8] in page
    assert "<svg" in page
    client = mlflow.client()
    logged = client.get_run(metadata["mlflow_run_id"])
    assert client.get_experiment(logged.info.experiment_id).name == "flight_delays_leaderboard"
    artifacts = {item.path for item in client.list_artifacts(logged.info.run_id)}
    assert artifacts == {"leaderboard.html", "leaderboard.json"}
    assert logged.data.tags["twelve.best_run_id"] == runs["boosted"]
