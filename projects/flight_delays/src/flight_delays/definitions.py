"""Dagster code location of the flight-delay project.

Every block is configured in ``defs/`` (one folder or module each) and loaded from there by
``dg.load_from_defs_folder``; nothing is built when this module is imported.
"""

import dagster as dg

from twelve.core.location import load_project_defs


def build_defs() -> dg.Definitions:
    """Every block of ``defs/``, merged."""
    return load_project_defs(__file__)


@dg.definitions
def defs() -> dg.Definitions:
    """The code location's definitions (built when Dagster loads it)."""
    return build_defs()
