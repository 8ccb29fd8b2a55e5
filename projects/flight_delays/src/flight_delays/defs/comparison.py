"""Comparability (factor 10): the leaderboard of every run of the problem, per holdout version.

The ranking logic and the HTML report live in ``twelve.training.leaderboard``; this asset gathers
the runs
from MLflow after every pipeline's evaluation, writes the report, and logs it to MLflow.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import json
import tempfile
from pathlib import Path

import dagster as dg

from flight_delays.config_training import pipeline_specs
from twelve.core import paths as twelve_paths
from twelve.training import leaderboard
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

GROUP = "training"


def leaderboard_path(experiment: str) -> Path:
    """Where the leaderboard report of an experiment is written (under TWELVE_HOME/reports)."""
    return twelve_paths.state_dir() / "reports" / "leaderboard" / f"{experiment}.html"


def _current_holdout(context: dg.AssetExecutionContext) -> str | None:
    event = context.instance.get_latest_materialization_event(dg.AssetKey("holdout_set"))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("dvc_md5")
    return str(value.value) if value is not None else None


def log_to_mlflow(mlflow: MlflowResource, board: leaderboard.Leaderboard, page: str) -> str:
    """Log the report as a run of the experiment ``<experiment>_leaderboard``; returns its id.

    A separate experiment, so the leaderboard's own runs never appear among the runs it ranks.
    """
    client = mlflow.client()
    name = f"{board.experiment}_leaderboard"
    found = client.get_experiment_by_name(name)
    experiment_id = (
        found.experiment_id
        if found is not None
        else client.create_experiment(
            name, artifact_location=f"{mlflow.resolved_artifact_location()}"
        )
    )
    best = board.best
    tags = {"twelve.kind": "leaderboard", "twelve.ranked_by": board.metric}
    if best is not None:
        tags["twelve.best_run_id"] = best.run_id
    run = client.create_run(experiment_id, run_name=f"leaderboard {board.generated_at}", tags=tags)
    run_id = run.info.run_id
    try:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "leaderboard.html").write_text(page, encoding="utf-8")
            (Path(folder) / "leaderboard.json").write_text(
                json.dumps(board.to_dict(), indent=2), encoding="utf-8"
            )
            client.log_artifacts(run_id, folder)
        if best is not None:
            client.log_metric(run_id, f"best_{board.metric}", best.metrics[board.metric])
        client.log_metric(
            run_id, "runs", sum(len(g.entries) + len(g.unranked) for g in board.groups)
        )
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


@dg.asset(
    name="leaderboard",
    deps=[dg.AssetDep(spec.asset("model_evaluation")) for spec in pipeline_specs()],
    group_name=GROUP,
    code_version="1",
    kinds={"mlflow", "html"},
)
def leaderboard_report(
    context: dg.AssetExecutionContext, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """Leaderboard: every training run of the problem, ranked by ROC AUC only against runs scored
    on the same holdout version (the current holdout first; runs on another holdout shown apart).

    Each row carries the run's data and code versions (training-set md5, git commit, config
    hash). The self-contained HTML report (ROC AUC by run, ROC curves overlaid) is written under
    TWELVE_HOME/reports/leaderboard/ and logged to MLflow (experiment `<experiment>_leaderboard`).
    """
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    records = leaderboard.gather_runs(mlflow.client(), mlflow.experiment)
    board = leaderboard.build(
        records, experiment=mlflow.experiment, current_holdout=_current_holdout(context)
    )
    page = leaderboard.render_html(board)
    path = leaderboard_path(mlflow.experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    run_id = log_to_mlflow(mlflow, board, page)
    context.log.info("%s\nreport: %s", leaderboard.text_table(board), path)
    current = next((group for group in board.groups if group.current), None)
    best = board.best
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(path)),
            "mlflow_run_id": run_id,
            "ranked_by": board.metric,
            "current_holdout_md5": current.holdout_md5 if current else "none",
            "runs_on_current_holdout": len(current.entries) if current else 0,
            "runs_on_other_holdouts": sum(
                len(g.entries) + len(g.unranked) for g in board.groups if not g.current
            ),
            "best_run_id": best.run_id if best else "none",
            "best_pipeline": best.pipeline if best else "none",
            **({f"best_{board.metric}": round(best.metrics[board.metric], 4)} if best else {}),
            "ranking": dg.MetadataValue.md(
                "\n".join(
                    f"{entry.rank}. {entry.run.pipeline} `{entry.run.run_id[:8]}` "
                    f"{board.metric} {entry.run.metrics[board.metric]:.4f}"
                    for entry in (current.entries if current else [])
                )
                or "no run on the current holdout"
            ),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The leaderboard asset and the shared `mlflow` resource it reads."""
    return dg.Definitions(assets=[leaderboard_report])
