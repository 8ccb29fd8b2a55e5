"""The project's Dagster code location: every block is configured in ``defs/``.

Each folder of ``defs/`` configures one block of the twelve platform (its ``defs.yaml``); what
is the project's own lives beside this file: its contract (``contract.py``) and the reader of its
source (``ingest.py``). Nothing is built when this module is imported.
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
