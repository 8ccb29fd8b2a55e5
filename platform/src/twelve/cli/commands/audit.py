"""``twelve audit PROJECT``: the twelve-factor scorecard of a project, for people and for CI.

Exit codes: 0 no factor fails (warnings allowed), 1 at least one factor fails, 2 not a project.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve audit`` to the CLI."""
    parser = subparsers.add_parser(
        "audit",
        help="score a project against the twelve factors (pass/warn/fail with evidence)",
        description=(
            "Read the project's files (code, conf, tests, Feast repo, bento service) and its run "
            "state (latest MLflow run and manifest, DVC, profiles, reproductions, bentos), and "
            "score each of the twelve factors. Exit code 1 when any factor fails."
        ),
    )
    parser.add_argument(
        "project",
        nargs="?",
        default="flight_delays",
        help="a project name (projects/<name>) or a project folder",
    )
    parser.add_argument(
        "--experiment", help="MLflow experiment of the project (default: its package name)"
    )
    parser.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    parser.set_defaults(func=run)


def project_dir_of(project: str) -> Path:
    """The project folder for a name or a path.

    Raises:
        twelve.cli.main.UsageError: neither an existing folder nor a project under projects/.
    """
    from twelve.cli.main import UsageError
    from twelve.core import paths

    candidate = Path(project)
    if candidate.is_dir():
        return candidate.resolve()
    named = paths.REPO_ROOT / "projects" / project
    if named.is_dir():
        return named
    raise UsageError(f"no project '{project}': not a folder, and no {named}")


def run(args: argparse.Namespace) -> int:
    """Audit the project; 1 when any factor fails."""
    from twelve.core import environment

    environment.prepare()
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.proof.audit import gather_files, gather_state, score

    project_dir = project_dir_of(args.project)
    try:
        files = gather_files(project_dir)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from error
    log.info(
        "auditing %s (files, then the run state in MLflow, DVC, profiles, BentoML)", files.package
    )
    card = score(files, gather_state(files, args.experiment))
    if args.json:
        sys.stdout.write(json.dumps(card.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(card.text() + "\n")
    if card.failed:
        log.error("failing factor(s): %s", ", ".join(row.key for row in card.failed))
        return EXIT_FAILED
    return EXIT_OK
