"""The areas of the code location; each module exposes ``defs()``."""
