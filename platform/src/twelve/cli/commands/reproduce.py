"""``twelve reproduce RUN_ID``: rebuild a past training from raw data and prove the result.

Exit codes: 0 reproduced (within ``twelve.proof.compare``'s documented tolerance), 1 something
differs (the first difference named), 2 the run cannot be reproduced (unknown run, no manifest,
a data version stored nowhere, a commit not in the repository).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twelve.training.tracking import MlflowResource

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve reproduce`` to the CLI."""
    parser = subparsers.add_parser(
        "reproduce",
        help="rebuild a past training from raw data and compare it with the record",
        description=(
            "Check out the run's commit into a temporary clone, restore its raw data versions "
            "from DVC, rebuild dbt -> Feast -> the training set, the holdout and the model with "
            "the recorded config in isolated stores, and compare data hashes, metrics and "
            "holdout predictions. The working tree, the registry and the aliases are untouched; "
            "the verdict is an MLflow run linked to the original and metadata on the model's "
            "asset in the Dagster UI."
        ),
    )
    parser.add_argument(
        "run_id",
        help="the MLflow run id of the training to reproduce, or an alias of the project's "
        "registered model (champion, challenger): the run that trained that version",
    )
    parser.add_argument("--project", default="flight_delays", help="project package name")
    parser.add_argument("--keep", action="store_true", help="keep the temporary checkout")
    parser.add_argument("--workdir", type=Path, help="folder for the temporary checkout")
    parser.add_argument(
        "--isolated-env",
        action="store_true",
        help="build the run's environment in a temporary venv from its uv.lock (uv sync)",
    )
    parser.add_argument(
        "--no-log", action="store_true", help="do not log the reproduction to MLflow"
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(func=run)


def _run_of(run_or_alias: str, project: str, mlflow: MlflowResource) -> str:
    """The run id itself, or the run that trained the version an alias points at.

    CI uses ``twelve reproduce champion --project NAME``.
    """
    if run_or_alias not in ("champion", "challenger"):
        return run_or_alias
    from twelve.cli.main import UsageError
    from twelve.core.project import Project

    registered = Project.of_package(project).registered_model
    version = mlflow.version_by_alias(registered, run_or_alias)
    if version is None:
        raise UsageError(
            f"{registered} has no {run_or_alias} version yet: run the golden path first "
            f"(twelve run {project})"
        )
    log.info("%s of %s: version %s, run %s", run_or_alias, registered, version.version,
             version.run_id)  # fmt: skip
    return str(version.run_id)


def run(args: argparse.Namespace) -> int:
    """Reproduce the run; 0 on a match, 1 on any difference, 2 when it cannot run."""
    from twelve.core import environment

    environment.prepare()
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
    from twelve.proof.compare import CANNOT_RUN, ReproductionError, format_report
    from twelve.proof.reproduce import reproduce
    from twelve.training.tracking import MlflowResource, MlflowUnavailableError

    mlflow = MlflowResource.for_profile(args.project)
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise UsageError(str(error)) from error
    run_id = _run_of(args.run_id, args.project, mlflow)
    try:
        outcome = reproduce(
            run_id,
            project=args.project,
            mlflow_resource=mlflow,
            workdir=args.workdir,
            isolated_env=args.isolated_env,
            keep=args.keep,
            log_run=not args.no_log,
        )
    except ReproductionError as error:
        raise UsageError(str(error)) from error
    if args.json:
        data = {
            "run_id": outcome.run_id,
            "verdict": outcome.verdict,
            "matched": outcome.matched,
            "differing": outcome.differing(),
            "warnings": outcome.warnings,
            "steps": [asdict(step) for step in outcome.steps],
            "rows": [asdict(row) for row in outcome.rows],
            "seconds": outcome.seconds,
            "reproduction_run_id": outcome.logged_run_id,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(format_report(outcome) + "\n")
    if outcome.verdict == CANNOT_RUN:
        return EXIT_USAGE
    return EXIT_OK if outcome.matched else EXIT_FAILED
