"""Subcommands of the ``twelve`` CLI, one module each with ``register(subparsers)``.

A handler receives the parsed ``argparse.Namespace`` and returns an exit code (``twelve.cli``'s
``EXIT_OK``, ``EXIT_FAILED``, ``EXIT_USAGE``); it calls ``twelve.environment.prepare()`` before it
touches any tool.
"""
