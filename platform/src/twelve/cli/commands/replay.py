"""``twelve replay``: the continuous-training loop of a project, replayed month by month.

Runs ``twelve.monitoring.replay.run_replay`` over the project's code location in a throw-away
environment of its own under ``<TWELVE_HOME>/replay`` (Dagster instance, MLflow store, DVC
repository, BentoML home, data), so the main state that ``make demo`` built is left as it was; the
replay's traffic is read from the main environment's training set. Exit codes: 0 replayed, 1 a
step failed, 2 bad usage or setup.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twelve.monitoring.replay_report import ReplaySummary

log = logging.getLogger("twelve")
DEFAULT_INITIAL = "2013-01..2013-04"
DEFAULT_MONTHS = "2013-05..2013-09"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve replay`` to the CLI."""
    parser = subparsers.add_parser(
        "replay",
        help="replay months arriving one by one: traffic, drift, sensor, retraining, gate",
        description=(
            "Bootstrap a champion on the initial months, then replay each month: its rows "
            "are served to the champion's bento, the month arrives, the retraining sensor "
            "checks it and, on drift or a drop in performance, starts a retraining whose gate "
            "promotes the challenger or not. Writes an HTML summary."
        ),
    )
    parser.add_argument("project", nargs="?", default="flight_delays", help="project package")
    parser.add_argument(
        "--initial", default=DEFAULT_INITIAL, help=f"months of the bootstrap ({DEFAULT_INITIAL})"
    )
    parser.add_argument(
        "--months", default=DEFAULT_MONTHS, help=f"months replayed one by one ({DEFAULT_MONTHS})"
    )
    parser.add_argument(
        "--rows", type=int, default=1000, help="rows of each month sent as traffic (1000)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="replay environment (default <TWELVE_HOME>/replay)"
    )
    parser.set_defaults(func=run)


def parse_months(text: str) -> list[str]:
    """``2013-05..2013-09`` or ``2013-05,2013-07`` -> the months, oldest first.

    Raises:
        twelve.cli.main.UsageError: not months (named).
    """
    from twelve.cli.main import UsageError
    from twelve.training import modeling

    try:
        if ".." in text:
            first, last = text.split("..", 1)
            return modeling.months_between(first.strip(), last.strip())
        months = sorted({part.strip() for part in text.split(",") if part.strip()})
        for month in months:
            modeling.months_between(month, month)
    except ValueError as error:
        raise UsageError(f"months {text!r}: {error}") from error
    if not months:
        raise UsageError(f"months {text!r}: no month given")
    return months


def prepare_workdir(workdir: Path) -> dict[str, str]:
    """A fresh replay environment: a git repository for DVC, state roots, a Dagster home.

    Returns:
        The environment variables that point every tool at it (also set in ``os.environ``).
    """
    from twelve.core import environment
    from twelve.core.paths import REPO_ROOT

    if workdir.exists():
        shutil.rmtree(workdir)
    repo = workdir / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    home = workdir / "home"
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "infra" / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        "TWELVE_HOME": str(home),
        "TWELVE_DATA_DIR": str(repo / "data"),
        "DAGSTER_HOME": str(dagster_home),
        "BENTOML_HOME": str(home / "bentoml"),
        "TWELVE_PROFILE": "local",  # a demo: its own local stores, whatever the shell's profile
    }
    for name in ("TWELVE_DVC_REMOTE", "MLFLOW_TRACKING_URI"):
        os.environ.pop(name, None)
    os.environ.update(env)
    environment.prepare()
    return env


def run(args: argparse.Namespace) -> int:
    """Replay the project's months (see the module doc)."""
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError, load_definitions
    from twelve.core import environment
    from twelve.core.project import Project, ProjectError
    from twelve.monitoring.replay import run_replay

    initial, months = parse_months(args.initial), parse_months(args.months)
    if args.rows < 1:
        raise UsageError(f"--rows must be at least 1, got {args.rows}")
    roots = environment.prepare()
    try:
        project = Project.of_package(args.project)
    except ProjectError as error:
        raise UsageError(f"project '{args.project}': {error}") from error
    traffic_source = project.training_set_path()  # the main environment's
    workdir = (args.workdir or Path(roots["TWELVE_HOME"]) / "replay").resolve()
    if not traffic_source.is_file():  # before the replay folder is wiped and rebuilt
        raise UsageError(
            f"the traffic source {traffic_source} does not exist: run `make demo` first (the "
            "replay sends each month's rows with their features from it)"
        )
    env = prepare_workdir(workdir)
    log.info("replay environment: %s (state %s)", workdir, env["TWELVE_HOME"])
    try:
        # Built now: its resources point at the replay's environment.
        defs = load_definitions(args.project)
        summary = run_replay(
            project, defs, initial, months, traffic_source, workdir,
            rows_per_month=args.rows, progress=log.info,
        )  # fmt: skip
    except ValueError as error:
        raise UsageError(str(error)) from error
    except Exception as error:  # a failed step: say which, keep the exit code for scripts
        log.error("replay failed: %s", error)
        log.error("its runs are in the replay's Dagster instance: DAGSTER_HOME=%s",
                  env["DAGSTER_HOME"])  # fmt: skip
        return EXIT_FAILED
    _print_summary(summary, env)
    return EXIT_OK


def _print_summary(summary: ReplaySummary, env: dict[str, str]) -> None:
    from twelve.monitoring.replay_report import outcome_line

    promoted = sum(m.decision == "promoted" for m in summary.months)
    retrained = sum(any(r["job"] == "retraining" for r in m.runs) for m in summary.months)
    lines = [
        "",
        f"twelve replay: {len(summary.months)} month(s) in {summary.seconds:.0f} s "
        f"(bootstrap {summary.bootstrap_seconds:.0f} s); {retrained} retraining(s) started by "
        f"the sensor, {promoted} promotion(s); champion now {summary.months[-1].champion_after}",
        *[outcome_line(month, summary.metric) for month in summary.months],
        "",
        "Where to look next:",
        f"  the replay, with its chart:   {summary.report}",
        *[f"  {m.month} drift report:       {m.drift_report}" for m in summary.months],
        f"  its runs in the Dagster UI:   DAGSTER_HOME={env['DAGSTER_HOME']} "
        f"TWELVE_HOME={env['TWELVE_HOME']} TWELVE_DATA_DIR={env['TWELVE_DATA_DIR']} make ui",
        f"  its MLflow runs:              make mlflow-ui TWELVE_HOME={env['TWELVE_HOME']}",
    ]
    sys.stderr.write("\n".join(lines) + "\n")
