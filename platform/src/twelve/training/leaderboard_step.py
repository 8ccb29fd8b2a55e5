"""The work of the ``leaderboard`` asset (factor 10): rank every run, write and log the report.

The ranking and the HTML page are ``twelve.training.leaderboard``'s pure functions; here the runs
are gathered from MLflow, the page is written under ``TWELVE_HOME/reports/leaderboard/`` and
logged as a run of the experiment ``<experiment>_leaderboard`` (apart, so the leaderboard's own
runs never appear among the runs it ranks).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import dagster as dg

from twelve.core import paths
from twelve.training import leaderboard
from twelve.training.block import HOLDOUT_SET, TrainingBlock
from twelve.training.tracking import MlflowResource
from twelve.training.train_step import ensure_available


def leaderboard_path(experiment: str) -> Path:
    """Where the leaderboard report of an experiment is written (under TWELVE_HOME/reports)."""
    return paths.state_dir() / "reports" / "leaderboard" / f"{experiment}.html"


def current_holdout(context: dg.AssetExecutionContext, key: dg.AssetKey) -> str | None:
    """The DVC md5 of the holdout in force (the holdout asset's latest), None before any."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("dvc_md5")
    return str(value.value) if value is not None else None


def log_to_mlflow(mlflow: MlflowResource, board: leaderboard.Leaderboard, page: str) -> str:
    """Log the report as a run of the experiment ``<experiment>_leaderboard``; returns its id."""
    client = mlflow.client()
    name = f"{board.experiment}_leaderboard"
    found = client.get_experiment_by_name(name)
    experiment_id = (
        found.experiment_id
        if found is not None
        else client.create_experiment(name, artifact_location=mlflow.resolved_artifact_location())
    )
    best = board.best
    tags = {"twelve.kind": "leaderboard", "twelve.ranked_by": board.metric}
    if best is not None:
        tags["twelve.best_run_id"] = best.run_id
    run_id = client.create_run(
        experiment_id, run_name=f"leaderboard {board.generated_at}", tags=tags
    ).info.run_id
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


def rank(
    context: dg.AssetExecutionContext, mlflow: MlflowResource, block: TrainingBlock
) -> dg.MaterializeResult:
    """Rank the project's runs by its metric per holdout version; write and log the report."""
    ensure_available(mlflow)
    records = leaderboard.gather_runs(mlflow.client(), mlflow.experiment)
    metric = block.metric.name
    board = leaderboard.build(
        records,
        experiment=mlflow.experiment,
        current_holdout=current_holdout(context, block.key(HOLDOUT_SET)),
        metric=metric,
    )
    page = leaderboard.render_html(board)
    path = leaderboard_path(mlflow.experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    run_id = log_to_mlflow(mlflow, board, page)
    context.log.info("%s\nreport: %s", leaderboard.text_table(board), path)
    current = next((group for group in board.groups if group.current), None)
    best = board.best
    ranking = "\n".join(
        f"{entry.rank}. {entry.run.pipeline} `{entry.run.run_id[:8]}` "
        f"{metric} {entry.run.metrics[metric]:.4f}"
        for entry in (current.entries if current else [])
    )
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(path)),
            "mlflow_run_id": run_id,
            "ranked_by": metric,
            "current_holdout_md5": current.holdout_md5 if current else "none",
            "runs_on_current_holdout": len(current.entries) if current else 0,
            "runs_on_other_holdouts": sum(
                len(g.entries) + len(g.unranked) for g in board.groups if not g.current
            ),
            "best_run_id": best.run_id if best else "none",
            "best_pipeline": best.pipeline if best else "none",
            **({f"best_{metric}": round(best.metrics[metric], 4)} if best else {}),
            "ranking": dg.MetadataValue.md(ranking or "no run on the current holdout"),
        }
    )
