"""The ``twelve`` command line.

``twelve run`` lives here; every other subcommand lives in its own module under
``twelve/commands/`` that exposes ``register(subparsers)`` and is listed in ``COMMAND_MODULES``.
Modules are imported when the parser is built, so each keeps its heavy imports inside its handler.

Exit codes scripts can rely on: 0 success, 1 a pipeline step failed (or a check did not hold),
2 bad usage or setup.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("twelve")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or setup: the message says what to do; the exit code is ``EXIT_USAGE``."""


# Subcommands in their own modules (twelve/commands/<name>.py, each with `register(subparsers)`).
COMMAND_MODULES: list[str] = [
    "new", "compare", "reproduce", "audit", "skew", "replay", "serve", "image",
]  # fmt: skip


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # Libraries are chatty at INFO; our progress lines are what a user wants to see.
    for noisy in ("dvc", "alembic", "mlflow", "feast", "bentoml", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load_definitions(project: str):
    """The definitions of a project's code location (``<package>.definitions``), built now.

    Raises:
        UsageError: the project is not installed (named).
    """
    import dagster as dg

    module_name = f"{project}.definitions"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise UsageError(
            f"project '{project}' not found ({error}); is it a workspace member under "
            "projects/ and installed (`make install`)?"
        ) from error
    defs = module.defs
    # A `@dg.definitions` function (built when Dagster loads the location) or Definitions.
    return defs if isinstance(defs, dg.Definitions) else defs()


def cmd_run(args: argparse.Namespace) -> int:
    """Materialize a project's golden path (stale or missing assets only, unless --force)."""
    from twelve.core import environment

    roots = environment.prepare()
    # Bad usage fails before the seconds spent loading the code location.
    run_config = _read_run_config(args.run_config) if args.run_config else None
    import dagster as dg

    from twelve.cli.runner import run_golden_path

    defs = load_definitions(args.project)
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    if args.main_job not in jobs:
        raise UsageError(
            f"project {args.project} has no job {args.main_job!r}; its jobs: {sorted(jobs)}"
        )
    # A project made by `twelve new` has one unpartitioned golden path and no arriving months.
    partitioned_job = args.partitioned_job if args.partitioned_job in jobs else None
    partitions_def = (
        defs.resolve_job_def(partitioned_job).partitions_def if partitioned_job else None
    )
    partitions = partitions_def.get_partition_keys() if partitions_def else []
    if args.months and not partitioned_job:
        raise UsageError(
            f"--months: project {args.project} has no partitioned job {args.partitioned_job!r}"
        )
    if args.months:
        wanted = set(args.months.split(","))
        partitions = [key for key in partitions if key[:7] in wanted]
        if not partitions:
            log.error("no partition matches --months %s", args.months)
            return EXIT_USAGE
    log.info(
        "project %s: data in %s, state in %s",
        args.project,
        roots["TWELVE_DATA_DIR"],
        roots["TWELVE_HOME"],
    )
    instance = dg.DagsterInstance.get()
    try:
        summary = run_golden_path(
            defs,
            instance,
            partitioned_job=partitioned_job,
            partitions=partitions,
            main_job=args.main_job,
            force=args.force,
            progress=log.info,
            run_config=run_config,
        )
    except Exception as error:  # a failed step: say which, keep the exit code for scripts
        log.error("golden path failed: %s", error)
        log.error("the failed run is in the Dagster UI (`make ui`) with its logs")
        return EXIT_FAILED
    _print_summary(args.project, summary, instance, defs)
    if args.sensor:
        return _run_sensor(defs, instance)
    return EXIT_OK


def _run_sensor(defs, instance) -> int:
    """``--sensor``: the retraining sensor evaluated as the daemon would, its runs executed."""
    from twelve.cli import sensor_ticks
    from twelve.monitoring.sensor import SENSOR_NAME

    launched = sensor_ticks.tick_until_quiet(defs, instance, SENSOR_NAME, progress=log.info)
    failed = [run for run in launched if not run.success]
    log.info("sensor %s: %d run(s), %d failed", SENSOR_NAME, len(launched), len(failed))
    return EXIT_FAILED if failed else EXIT_OK


def _read_run_config(path: str) -> dict:
    import yaml

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--run-config {path}: no such file")
    content = yaml.safe_load(file.read_text()) or {}
    if not isinstance(content, dict) or not isinstance(content.get("ops", {}), dict):
        raise UsageError(f"--run-config {path}: expected a mapping with an `ops` mapping")
    return content


def _print_summary(project: str, summary, instance, defs) -> None:
    lines = [
        "",
        f"twelve run {project}: {len(summary.steps)} run(s) in {summary.seconds:.1f} s; "
        f"{len(summary.skipped)} asset(s) fresh and skipped",
    ]
    for step in summary.steps:
        lines.append(f"  {step.seconds:7.1f} s  {step.label}")
    lines += _pointers(instance, defs)
    sys.stderr.write("\n".join(lines) + "\n")


def _pointers(instance, defs) -> list[str]:
    """Where to look next: the UIs, and the reports and commands the assets recorded."""
    lines = [
        "",
        "Where to look next:",
        "  Dagster UI (lineage, data versions, checks):  make ui   -> http://127.0.0.1:3000",
        "  MLflow UI (runs, metrics, plots, registry):   make mlflow-ui",
    ]
    for key in sorted(defs.resolve_asset_graph().get_all_asset_keys()):
        event = instance.get_latest_materialization_event(key)
        if event is None or event.asset_materialization is None:
            continue
        metadata = event.asset_materialization.metadata
        for name in ("report", "serve_command"):
            if name in metadata:
                # Markdown metadata (code fences) reads well in the UI, not in a terminal.
                value = str(metadata[name].value).replace("```", "").strip()
                lines.append(f"  {key.to_user_string()} {name}: {value}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The ``twelve`` command line: global options and one subcommand per command module."""
    parser = argparse.ArgumentParser(
        prog="twelve", description="twelve: the twelve factors of ML in production, made real."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--version",
        action="version",
        version=f"twelve {importlib.metadata.version('twelve')}",
        help="print the installed twelve version and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialize a project's golden path (stale assets only)")
    run.add_argument("project", nargs="?", default="flight_delays", help="project package name")
    run.add_argument("--force", action="store_true", help="materialize everything, even fresh")
    run.add_argument("--months", help="comma-separated YYYY-MM months to ingest (default: all)")
    run.add_argument(
        "--run-config",
        help="YAML run config of the main job's assets ({ops: {asset: {config: ...}}})",
    )
    run.add_argument(
        "--sensor",
        action="store_true",
        help="then evaluate the retraining sensor as the daemon would and run what it requests "
        "(drift checks of the arrived months, a retraining on evidence) until it is quiet",
    )
    run.add_argument("--partitioned-job", default="monthly_arrival")
    run.add_argument("--main-job", default="golden_path")
    run.set_defaults(func=cmd_run)
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"twelve.cli.commands.{module_name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``twelve`` command."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    started = time.perf_counter()
    try:
        code = args.func(args)
    except UsageError as error:
        log.error("%s", error)
        return EXIT_USAGE
    log.debug("finished in %.1f s with exit code %d", time.perf_counter() - started, code)
    return code


if __name__ == "__main__":
    sys.exit(main())
