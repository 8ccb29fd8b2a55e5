"""``twelve image PROJECT``: build the OCI image of the champion's bento with podman.

``make image`` runs it. The bento is chosen as ``twelve serve`` chooses it (the version holding
``--alias``, default ``champion``, through its ``bento_tag``; or ``--tag``); the base image is
bootstrapped from Debian bookworm the first time (``twelve.deploy.container``). The image is
tagged ``localhost/<bento name>:<bento version>`` and, for a registered version, its id is
recorded on the model version (tags ``twelve.image``, ``twelve.image_id``). The command ends with
how to run it and how to ship it.
"""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve image`` to the CLI."""
    from twelve.cli.commands.serve import add_choice_arguments

    parser = subparsers.add_parser(
        "image",
        help="build the champion bento's OCI image (podman, a Debian bookworm base built here)",
        description=(
            "Build the OCI image of the bento of the model version that holds the champion "
            "alias (or --alias), or of any bento by --tag, with `bentoml containerize --backend "
            "podman`, and record its id on the model version."
        ),
    )
    add_choice_arguments(parser, "build")
    parser.add_argument(
        "--rebuild-base", action="store_true", help="bootstrap the base image again first"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="build every layer again (the base image aside)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Choose the bento, build its image, record it, say how to run and ship it."""
    from twelve.cli.commands.serve import resolve_choice
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.core import environment
    from twelve.deploy import container
    from twelve.deploy.bento import BentoResource

    environment.prepare()
    home = BentoResource().resolved_home()
    choice, client = resolve_choice(args)
    log.info("image of %s", choice.describe())
    try:
        container.podman_binary()
    except container.ContainerError as error:  # setup, not a failed build: exit 2
        raise UsageError(str(error)) from error
    try:
        if args.rebuild_base:
            container.ensure_base_image(rebuild=True)
        built = container.build_image(choice.bento_tag, home, no_cache=args.no_cache)
    except container.ContainerError as error:
        log.error("%s", error)
        return EXIT_FAILED
    if client is not None and choice.version:
        container.record_image(client, choice.registered_model, choice.version, built)
        log.info("recorded on %s v%s (tag %s)", choice.registered_model, choice.version,
                 container.IMAGE_ID_KEY)  # fmt: skip
    base = "bootstrapped" if built.base.built else "reused"
    sys.stdout.write(
        f"image {built.name}\n"
        f"  id {built.image_id[:12]}, {built.size_bytes / 1e6:.0f} MB, built in "
        f"{built.seconds:.0f} s ({built.cache_summary}; base {built.base.name} {base})\n"
        f"  run it:   {built.run_command()}\n"
        f"  ship it:  podman push {built.name} <registry>/{built.name.split('/', 1)[1]}\n"
        f"            kubectl set image deployment/<name> bento=<registry>/"
        f"{built.name.split('/', 1)[1]}  (infra/production/k8s)\n"
    )
    return EXIT_OK
