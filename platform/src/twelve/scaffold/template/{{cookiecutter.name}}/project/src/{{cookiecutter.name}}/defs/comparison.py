"""Comparability (factor 10): the leaderboard of every run of the project, per holdout version.

Ranking and the report are ``twelve.training.leaderboard``: runs are ranked only against runs
scored on
the same holdout version (``twelve.holdout_md5``), the current holdout first.
"""

import dagster as dg
from twelve.training import leaderboard
from twelve.training.tracking import MlflowResource

from {{ cookiecutter.name }} import modeling, resources
from {{ cookiecutter.name }}.defs.training import latest_metadata
from {{ cookiecutter.name }}.paths import ASSET_PREFIX, asset_key, leaderboard_path


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("model_evaluation")],
    group_name="training",
    kinds={"mlflow", "html"},
    code_version="1",
)
def leaderboard_report(
    context: dg.AssetExecutionContext, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """Leaderboard: every training run of the project ranked by its metric, only against runs
    scored on the same holdout version. Self-contained HTML under TWELVE_HOME/reports/leaderboard.
    """
    records = leaderboard.gather_runs(mlflow.client(), mlflow.experiment)
    current = str(latest_metadata(context, "holdout_set")["dvc_md5"])
    board = leaderboard.build(
        records, experiment=mlflow.experiment, current_holdout=current, metric=modeling.METRIC
    )
    path = leaderboard_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(leaderboard.render_html(board), encoding="utf-8")
    context.log.info("%s\nreport: %s", leaderboard.text_table(board), path)
    best = board.best
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(path)),
            "ranked_by": board.metric,
            "current_holdout_md5": current,
            "best_run_id": best.run_id if best else "none",
        }
    )


def defs() -> dg.Definitions:
    """The leaderboard asset and the `mlflow` resource it reads."""
    return dg.Definitions(assets=[leaderboard_report], resources={"mlflow": resources.mlflow()})
