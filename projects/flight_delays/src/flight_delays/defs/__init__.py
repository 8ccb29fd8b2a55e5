"""Dagster definitions of the flight-delay project: one module per area, each with ``defs()``."""
