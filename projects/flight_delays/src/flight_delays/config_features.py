"""Typed configuration of the Feast and training-set assets; defaults in ``conf/features.yaml``."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from pydantic import Field

from flight_delays import paths as project_paths
from twelve.core.config import load_defaults

_DEFAULTS = load_defaults(project_paths.CONF_DIR / "features.yaml", "features")


def parse_utc(value: str, field: str) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime (naive means UTC); None for an empty string.

    Raises:
        ValueError: naming the field when the value is not an ISO timestamp.
    """
    if not value:
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except ValueError as error:
        raise ValueError(f"{field}: {value!r} is not an ISO timestamp") from error
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


class OnlineFeaturesConfig(dg.Config):
    """Which feature service to serve and which time range to load into the online store."""

    feature_service: str = Field(
        default=_DEFAULTS["feature_service"], description="Feast feature service to materialize."
    )
    materialize_start: str = Field(
        default=_DEFAULTS["materialize_start"],
        description="Start of the range (ISO, UTC); empty for the earliest feature row.",
    )
    materialize_end: str = Field(
        default=_DEFAULTS["materialize_end"],
        description="End of the range (ISO, UTC); empty for the latest feature row.",
    )


class TrainingSetConfig(dg.Config):
    """How the training set is assembled and checked."""

    feature_service: str = Field(
        default=_DEFAULTS["feature_service"], description="Feast feature service the model reads."
    )
    max_unknown_category_share: float = Field(
        default=_DEFAULTS["max_unknown_category_share"],
        ge=0.0,
        le=1.0,
        description="Tolerated share of unknown categories per column before the contract fails.",
    )
