"""Subcommands of the ``twelve`` CLI, one module each with ``register(subparsers)``.

A handler receives the parsed ``argparse.Namespace`` and returns an exit code (``twelve.cli.main``'s
``EXIT_OK``, ``EXIT_FAILED``, ``EXIT_USAGE``); it calls ``twelve.core.environment.prepare()``
before it
touches any tool.
"""
