"""Typed run configuration of the feature-store block; defaults from the project's YAML."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from pydantic import Field


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

    feature_service: str = Field(description="Feast feature service to materialize.")
    materialize_start: str = Field(
        default="", description="Start of the range (ISO, UTC); empty for the earliest row."
    )
    materialize_end: str = Field(
        default="", description="End of the range (ISO, UTC); empty for the latest row."
    )


class TrainingSetConfig(dg.Config):
    """How the training set is assembled and checked."""

    feature_service: str = Field(description="Feast feature service the model reads.")
    max_unknown_category_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Tolerated share of unknown categories per column before the contract fails.",
    )
