"""Where a reproduction's verdict is shown: in MLflow and in the Dagster instance.

An MLflow run linked to the original, and an observation of the model's asset in the Dagster
instance (its UI page shows the verdict).

The real registry and aliases are never touched: no model is logged or registered.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from twelve.proof.compare import (
    METRIC_TOLERANCE,
    PREDICTION_TOLERANCE,
    REPRODUCES_TAG,
    VERDICT_TAG,
    Outcome,
    format_report,
)

if TYPE_CHECKING:
    from twelve.proof.reproduce import Recorded

log = logging.getLogger(__name__)


def log_reproduction(mlflow_resource, recorded: Recorded, outcome: Outcome) -> str:
    """Log the reproduction as a run of ``<experiment>_reproductions`` (tag ``twelve.reproduces``).

    Returns:
        The run's id.
    """
    client = mlflow_resource.client()
    name = f"{recorded.experiment}_reproductions"
    found = client.get_experiment_by_name(name)
    experiment_id = (
        found.experiment_id
        if found is not None
        else client.create_experiment(
            name, artifact_location=mlflow_resource.resolved_artifact_location()
        )
    )
    run = client.create_run(
        experiment_id,
        run_name=f"reproduce-{recorded.run_id[:8]}",
        tags={
            REPRODUCES_TAG: recorded.run_id,
            VERDICT_TAG: outcome.verdict,
            "twelve.reproduced_run_id": outcome.reproduced_run_id,
            "twelve.git_commit": str(recorded.manifest.get("git_commit", "")),
            "twelve.first_difference": (outcome.differing() or [""])[0][:500],
        },
    )
    run_id = run.info.run_id
    for step_name, seconds in outcome.seconds.items():
        client.log_metric(run_id, f"seconds_{step_name}", seconds)
    for step in outcome.steps:
        client.log_metric(run_id, f"seconds_step_{step.name.replace(' ', '_')}", step.seconds)
    for row in outcome.rows:
        client.log_metric(run_id, f"matches_{row.name.replace(' ', '_')}", float(row.matches))
    with tempfile.TemporaryDirectory() as folder:
        report = {
            "verdict": outcome.verdict,
            "differing": outcome.differing(),
            "warnings": outcome.warnings,
            "steps": [asdict(step) for step in outcome.steps],
            "rows": [asdict(row) for row in outcome.rows],
            "seconds": outcome.seconds,
            "tolerance": {"metrics": METRIC_TOLERANCE, "predictions": PREDICTION_TOLERANCE},
        }
        (Path(folder) / "reproduction.json").write_text(json.dumps(report, indent=2))
        (Path(folder) / "reproduction.txt").write_text(format_report(outcome))
        client.log_artifacts(run_id, folder)
    client.set_terminated(run_id, status="FINISHED")
    return run_id


def observe_reproduction(recorded: Recorded, outcome: Outcome) -> bool:
    """Record the verdict on the model's asset in the Dagster instance (``DAGSTER_HOME``).

    Returns:
        False when there is no Dagster instance to record it in (nothing else fails for it).
    """
    import os

    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        log.info("no DAGSTER_HOME: the verdict is in MLflow only")
        return False
    with dg.DagsterInstance.get() as instance:
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=dg.AssetKey.from_user_string(recorded.asset),
                metadata={
                    "reproduction": outcome.verdict,
                    "reproduced_mlflow_run": recorded.run_id,
                    "reproduction_mlflow_run": outcome.logged_run_id,
                    "first_difference": (outcome.differing() or ["none"])[0][:500],
                    "seconds": round(outcome.seconds.get("total", 0.0), 1),
                },
            )
        )
    return True
