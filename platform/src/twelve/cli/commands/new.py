"""``twelve new NAME``: create an ML project from the platform's template.

The rendering itself is :mod:`twelve.scaffold.generate`.

Every input has a flag and a default, so it runs the same in scripts and CI as by hand::

    twelve new churn --problem-type classification --entity-keys customer_id
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``new`` subcommand."""
    from twelve.scaffold.generate import PROBLEM_TYPES

    parser = subparsers.add_parser(
        "new",
        help="create projects/NAME from the template and register it as a code location",
        description=(
            "Create projects/NAME (package, config, contract, dbt, tests), feature_repo/NAME "
            "(its Feast repo) and bentos/NAME, register the code location in "
            "infra/workspace.yaml and prepare its dbt manifest."
        ),
    )
    parser.add_argument("name", help="project and Python package name, e.g. churn")
    parser.add_argument(
        "--problem-type",
        choices=PROBLEM_TYPES,
        default="classification",
        help="what the label is (default: %(default)s)",
    )
    parser.add_argument(
        "--entity-keys",
        default="customer_id",
        help="comma-separated entity keys of the features (default: %(default)s)",
    )
    parser.add_argument("--description", default="", help="one line for the README and pyproject")
    parser.add_argument(
        "--sample-rows",
        type=int,
        default=2000,
        help="rows of the generated sample data (default: %(default)s)",
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="monorepo root (default: this checkout)"
    )
    parser.add_argument(
        "--skip-dbt-parse", action="store_true", help="do not prepare the dbt manifest now"
    )
    parser.add_argument(
        "--skip-lock", action="store_true", help="do not add the project to uv.lock now"
    )
    parser.set_defaults(func=cmd_new)


def cmd_new(args: argparse.Namespace) -> int:
    """Validate the inputs, generate, register, prepare and lock the project (all or nothing)."""
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.core import environment, paths
    from twelve.scaffold.generate import (
        ProjectOptions,
        ScaffoldError,
        ScaffoldStepError,
        generate,
        parse_entity_keys,
    )

    environment.prepare()
    root = (args.root or paths.REPO_ROOT).resolve()
    try:
        options = ProjectOptions(
            name=args.name,
            problem_type=args.problem_type,
            entity_keys=parse_entity_keys(args.entity_keys),
            description=args.description,
            sample_rows=args.sample_rows,
        )
        targets = generate(options, root, prepare=not args.skip_dbt_parse, lock=not args.skip_lock)
    except ScaffoldError as error:
        raise UsageError(str(error)) from error
    except ScaffoldStepError as error:
        log.error("twelve new %s: %s", args.name, error)
        log.error("nothing was left behind (every file written was removed or restored)")
        log.error("what to do: %s", error.hint)
        return EXIT_FAILED
    log.info("project %s created:", options.name)
    for path in (targets.project, targets.feature_repo, targets.bento):
        log.info("  %s", path.relative_to(root))
    log.info("registered as code location %r in %s", options.name, targets.workspace)
    if not args.skip_lock and (root / "uv.lock").is_file():
        log.info("uv.lock lists the new workspace member: commit it with the project")
    log.info("next: `make install` (installs it), `.venv/bin/pytest projects/%s`,", args.name)
    log.info("      `.venv/bin/twelve run %s`, then `make ui`", args.name)
    return EXIT_OK
