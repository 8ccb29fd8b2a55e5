"""``twelve serve PROJECT``: serve the bento of the model version that holds ``champion``.

``make serve`` runs it. The newest bento built can be a challenger's that lost to the champion, so
the bento is found through the registry: the version holding the alias (``--alias``, default
``champion``) records the tag of its bento (model version tag ``bento_tag``, set by the ``bento``
asset). ``--tag`` serves any bento by its tag instead. The command states the tag and the model
version it chose, then replaces itself with ``bentoml serve`` (signals reach the server
directly), bound to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("twelve")


@dataclass(frozen=True)
class ServedChoice:
    """What will be served, and why."""

    bento_tag: str
    registered_model: str = ""
    version: str = ""
    alias: str = ""

    def describe(self) -> str:
        """One line for the terminal."""
        if not self.version:
            return f"bento {self.bento_tag} (asked for by tag)"
        return (
            f"bento {self.bento_tag}: {self.registered_model} v{self.version}, "
            f"the version holding '{self.alias}'"
        )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve serve`` to the CLI."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the champion's bento (bentoml serve on 127.0.0.1)",
        description=(
            "Serve the bento of the model version that holds the champion alias (or --alias), "
            "found through the MLflow registry, or any bento by --tag."
        ),
    )
    add_choice_arguments(parser, "serve")
    parser.add_argument("--port", type=int, default=3001, help="port on 127.0.0.1 (3001)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="serve on a free port, send the version's holdout, compare the answers with the "
        "offline predictions, stop (exit 0 equal, 1 different)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the choice and the command, do not serve"
    )
    parser.set_defaults(func=run)


def choose_bento(client, registered_model: str, alias: str) -> ServedChoice:
    """The bento of the version holding ``alias`` (read from its ``bento_tag`` version tag).

    Raises:
        twelve.cli.main.UsageError: no such model or alias, or that version has no bento yet (the
            message says what to run).
    """
    from mlflow.exceptions import MlflowException

    from twelve.cli.main import UsageError
    from twelve.deploy.bento import BENTO_TAG_KEY

    try:
        version = client.get_model_version_by_alias(registered_model, alias)
    except MlflowException as error:
        raise UsageError(
            f"no version of registered model {registered_model!r} holds the alias {alias!r} "
            f"({error.message if hasattr(error, 'message') else error}); train one first "
            "(`make demo`)"
        ) from error
    tag = (version.tags or {}).get(BENTO_TAG_KEY)
    if not tag:
        raise UsageError(
            f"{registered_model} v{version.version} holds {alias!r} but no bento was built for "
            "it: materialize the `bento` asset (`twelve run`), or serve another one with --tag"
        )
    return ServedChoice(tag, registered_model, str(version.version), alias)


def add_choice_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """The arguments :func:`resolve_choice` reads: project, ``--model``, ``--alias``, ``--tag``."""
    parser.add_argument("project", nargs="?", default="flight_delays", help="project name")
    parser.add_argument("--model", help="MLflow registered model (default: the project name)")
    parser.add_argument("--alias", default="champion", help=f"alias to {verb} (default: champion)")
    parser.add_argument("--tag", help=f"{verb} this bento tag instead (e.g. a challenger's)")


def resolve_choice(args: argparse.Namespace) -> tuple[ServedChoice, Any]:
    """The bento asked for by ``--tag``, else the one of the version holding ``--alias``.

    Returns:
        (the choice, the MLflow client it was read with; None for ``--tag``).

    Raises:
        twelve.cli.main.UsageError: the tracking store is unavailable, or :func:`choose_bento`'s.
    """
    from twelve.cli.main import UsageError
    from twelve.training.tracking import MlflowResource, MlflowUnavailableError

    if args.tag:
        return ServedChoice(args.tag), None
    mlflow = MlflowResource.for_profile(args.project)
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise UsageError(str(error)) from error
    client = mlflow.client()
    return choose_bento(client, args.model or args.project, args.alias), client


def _check(args: argparse.Namespace, choice: ServedChoice, home) -> int:
    """``--check``: serve, send the version's holdout, compare with the offline answers."""
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.core.project import Project
    from twelve.deploy.served_check import check_served

    if not choice.version:
        raise UsageError("--check compares with a registered version: use --alias, not --tag")
    try:
        checked = check_served(
            Project.of_package(args.project), choice.bento_tag, choice.registered_model,
            choice.version, home,
        )  # fmt: skip
    except AssertionError as error:
        log.error("served answers differ from the offline ones: %s", error)
        return EXIT_FAILED
    parity = checked.parity
    sys.stdout.write(
        f"{choice.describe()}: {parity.rows} holdout rows served, max |served - offline| "
        f"{parity.max_abs_difference:.3g} (tolerance {parity.tolerance:.0e}); the bento "
        "profiled what it served (twelve audit reads it)\n"
    )
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Resolve the bento, say which, then exec ``bentoml serve``."""
    from twelve.cli.main import EXIT_OK, UsageError
    from twelve.core import environment
    from twelve.deploy.bento import BentoResource, bento_exists, bentoml_env

    environment.prepare()
    home = BentoResource().resolved_home()
    choice, _ = resolve_choice(args)
    if not bento_exists(home, choice.bento_tag):
        raise UsageError(
            f"bento {choice.bento_tag} is not in BENTOML_HOME {home}: build it (`twelve run "
            f"{args.project}`) or point BENTOML_HOME at the home it was built into"
        )
    command = [
        sys.executable, "-m", "bentoml", "serve", choice.bento_tag,
        "--host", "127.0.0.1", "--port", str(args.port),
    ]  # fmt: skip
    if args.check:
        return _check(args, choice, home)
    log.info("serving %s", choice.describe())
    log.info("on http://127.0.0.1:%d (BENTOML_HOME %s)", args.port, home)
    if args.dry_run:
        sys.stdout.write(" ".join(command) + "\n")
        return EXIT_OK

    sys.stderr.flush()
    os.execve(sys.executable, command, bentoml_env(home))
    return EXIT_OK  # not reached: the process is bentoml serve now
