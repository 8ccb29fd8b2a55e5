"""``twelve audit PROJECT``: the twelve-factor scorecard of a project, judged from its run state.

Exit codes: 0 no factor fails (warnings allowed), 1 a factor fails (or warns, with ``--strict``),
2 cannot audit (not a project, or its tracking store cannot be read).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve audit`` to the CLI."""
    parser = subparsers.add_parser(
        "audit",
        help="judge a project's champion against the twelve factors (pass/warn/fail, evidence)",
        description=(
            "Read the run state of the project's champion (MLflow run and manifest, DVC cache and "
            "remote, Feast registry, its bento, the Dagster instance, test records, "
            "reproductions, profiles and reports) and judge each of the twelve factors from it. "
            "Writes an HTML page of the evidence. Exit 1 when a factor fails (or warns, with "
            "--strict); 2 when the project cannot be audited."
        ),
    )
    parser.add_argument(
        "project",
        nargs="?",
        default="flight_delays",
        help="a project name (projects/<name>) or a project folder",
    )
    parser.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    parser.add_argument(
        "--strict", action="store_true", help="a warning fails too (exit 1): for CI"
    )
    parser.add_argument(
        "--run-tests",
        action="store_true",
        help="run the project's tests first (they record their outcomes and parity checks)",
    )
    parser.add_argument(
        "--no-page", action="store_true", help="do not write the HTML page of the evidence"
    )
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


def test_targets(project_dir: Path, repo_root: Path) -> list[str]:
    """The project's tests, and the repository's tests that record a parity check for it."""
    name = project_dir.name
    targets = [str(project_dir / "tests")] if (project_dir / "tests").is_dir() else []
    for path in sorted((repo_root / "tests").glob("test_*.py")):
        text = path.read_text(errors="replace")
        if "parity(" in text and f'"{name}"' in text:
            targets.append(str(path))
    return targets


def run_tests(project_dir: Path) -> int:
    """Run the project's tests with the test-record plugin; pytest's exit code."""
    from twelve.core import paths
    from twelve.proof.testing_evidence import git_state

    targets = test_targets(project_dir, paths.REPO_ROOT)
    # The record is keyed by the commit checked out now: it is the champion's evidence only when
    # the champion was trained on this commit (the testing row names the champion's).
    commit, dirty = git_state(paths.REPO_ROOT)
    log.info("tests run on commit %s%s", commit[:12], " with uncommitted changes" if dirty else "")
    if not targets:
        log.warning("%s has no tests to run", project_dir.name)
        return 5
    command = [sys.executable, "-m", "pytest", "-q", "-m", "not long and not fresh", *targets]
    log.info("running the tests of %s: %s", project_dir.name, " ".join(command[3:]))
    env = {**os.environ, "TWELVE_HOME": str(paths.state_dir())}
    done = subprocess.run(command, cwd=paths.REPO_ROOT, env=env, check=False)
    log.info("pytest exited %d; the record is re-read", done.returncode)
    return done.returncode


def run(args: argparse.Namespace) -> int:
    """Audit the project: 0 pass, 1 a failing factor (or warning with --strict), 2 cannot."""
    from twelve.core import environment

    environment.prepare()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.proof.audit import CannotAudit, audit
    from twelve.proof.audit_page import write_page

    project_dir = project_dir_of(args.project)
    if args.run_tests:
        run_tests(project_dir)
    try:
        card = audit(project_dir)
    except CannotAudit as error:
        raise UsageError(f"cannot audit {args.project}: {error}") from error
    if not args.no_page:
        card.page = str(write_page(card))
    if args.json:
        sys.stdout.write(json.dumps(card.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(card.text() + "\n")
    if card.failed:
        log.error("failing factor(s): %s", ", ".join(row.key for row in card.failed))
        return EXIT_FAILED
    if args.strict and card.warned:
        log.error("--strict: warning factor(s): %s", ", ".join(row.key for row in card.warned))
        return EXIT_FAILED
    return EXIT_OK
