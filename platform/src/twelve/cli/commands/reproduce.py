"""``twelve reproduce RUN_ID``: re-run a past training from its manifest and prove the result.

Exit codes: 0 everything matched (within ``twelve.proof.reproduce``'s documented tolerance), 1
something
differs (each difference named), 2 the run cannot be reproduced at all (unknown run, no manifest).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

log = logging.getLogger("twelve")


def register(subparsers) -> None:
    """Add ``twelve reproduce`` to the CLI."""
    parser = subparsers.add_parser(
        "reproduce",
        help="re-run a past training from its run manifest and compare it with the record",
        description=(
            "Check out the run's commit into a temporary clone, restore its exact data versions "
            "from DVC, re-run its training asset with the recorded config in isolated stores, and "
            "compare metrics, data hashes and holdout predictions. The working tree, the registry "
            "and the aliases are untouched; the reproduction is logged as its own MLflow run."
        ),
    )
    parser.add_argument("run_id", help="the MLflow run id of the training to reproduce")
    parser.add_argument("--project", default="flight_delays", help="project package name")
    parser.add_argument("--keep", action="store_true", help="keep the temporary checkout")
    parser.add_argument("--workdir", type=Path, help="folder for the temporary checkout")
    parser.add_argument(
        "--no-log", action="store_true", help="do not log the reproduction to MLflow"
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Reproduce the run; 0 on a match, 1 on any difference."""
    from twelve.core import environment

    environment.prepare()
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.proof.reproduce import ReproductionError, format_report, reproduce
    from twelve.training.tracking import MlflowResource, MlflowUnavailableError

    mlflow = MlflowResource(experiment=args.project)
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise UsageError(str(error)) from error
    try:
        outcome = reproduce(
            args.run_id,
            project=args.project,
            mlflow_resource=mlflow,
            workdir=args.workdir,
            keep=args.keep,
            log_run=not args.no_log,
        )
    except ReproductionError as error:
        raise UsageError(str(error)) from error
    if args.json:
        data = {
            "run_id": outcome.run_id,
            "matched": outcome.matched,
            "differing": outcome.differing(),
            "warnings": outcome.warnings,
            "rows": [asdict(row) for row in outcome.rows],
            "seconds": outcome.seconds,
            "reproduction_run_id": outcome.logged_run_id,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(format_report(outcome) + "\n")
    return EXIT_OK if outcome.matched else EXIT_FAILED
