"""``twelve compare``: the leaderboard of a problem, from the MLflow store, as text, JSON and HTML.

Every training run of the problem's experiment, ranked only against runs scored on the same
holdout version (``twelve.training.leaderboard``). The same report as the ``leaderboard`` asset,
without a
Dagster run: handy in CI or on a machine that only has the tracking store.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve compare`` to the CLI."""
    parser = subparsers.add_parser(
        "compare",
        help="leaderboard of every run of a problem, ranked per holdout version (HTML report)",
        description=(
            "Rank every finished training run of a project's MLflow experiment by a holdout "
            "metric, only against runs scored on the same holdout version; runs on another "
            "holdout are listed apart. Writes a self-contained HTML report."
        ),
    )
    parser.add_argument("project", nargs="?", default="flight_delays", help="project name")
    parser.add_argument(
        "--experiment", help="MLflow experiment of the problem (default: the project name)"
    )
    parser.add_argument(
        "--metric", default="roc_auc", help="ranking metric: roc_auc, pr_auc, log_loss, brier"
    )
    parser.add_argument(
        "--holdout",
        help="md5 of the current holdout (default: the DVC pointer "
        "$TWELVE_DATA_DIR/training/holdout.parquet.dvc, else the newest run's holdout)",
    )
    parser.add_argument("--out", type=Path, help="HTML report path (default under TWELVE_HOME)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def _current_holdout(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    from twelve.core import paths
    from twelve.data.versioning import read_dvc_pointer

    pointer = paths.data_dir() / "training" / "holdout.parquet.dvc"
    return read_dvc_pointer(pointer) if pointer.is_file() else None


def run(args: argparse.Namespace) -> int:
    """Build the leaderboard and write it; 1 when the experiment has no scored run."""
    from twelve.core import environment

    environment.prepare()
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.core import paths
    from twelve.training import leaderboard
    from twelve.training.tracking import MlflowResource, MlflowUnavailableError

    if args.metric not in leaderboard.METRICS:
        raise UsageError(
            f"unknown metric '{args.metric}'; choose one of {sorted(leaderboard.METRICS)}"
        )
    experiment = args.experiment or args.project
    mlflow = MlflowResource(experiment=experiment)
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise UsageError(str(error)) from error
    log.info(
        "gathering the runs of experiment %s from %s", experiment, mlflow.resolved_tracking_uri()
    )
    records = leaderboard.gather_runs(mlflow.client(), experiment)
    if not records:
        log.error(
            "experiment '%s' has no finished training run with a holdout: train first "
            "(`twelve run %s`)",
            experiment,
            args.project,
        )
        return EXIT_FAILED
    board = leaderboard.build(
        records,
        experiment=experiment,
        current_holdout=_current_holdout(args.holdout),
        metric=args.metric,
    )
    out = args.out or paths.state_dir() / "reports" / "leaderboard" / f"{experiment}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(leaderboard.render_html(board), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(board.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(leaderboard.text_table(board) + "\n")
    log.info("report: %s", out)
    return EXIT_OK
