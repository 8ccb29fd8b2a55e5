"""The training set, in pure functions: entity frame in, contract-checked training frame out.

The Dagster asset (``defs/features.py``) only wires them: read ``flight_events.parquet`` ->
:func:`entity_frame` -> Feast point-in-time join -> :func:`assemble_training_set` (conform and
validate against the contract) -> :func:`write_parquet` -> :func:`training_set_metadata`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from flight_delays import contract
from twelve.core import paths as twelve_paths

# What the Feast join needs besides the training columns: the entity keys that are not model
# inputs themselves (a tail number identifies a plane, the model reads its attributes).
JOIN_ONLY_COLUMNS = [key for key in contract.ENTITY_KEYS if key not in contract.FEATURE_COLUMNS]
ENTITY_FRAME_COLUMNS = [
    *contract.KEY_COLUMNS,
    *contract.REQUEST_COLUMNS,
    *JOIN_ONLY_COLUMNS,
    contract.LABEL_COLUMN,
]


def flight_events_path() -> Path:
    """The label events written by dbt (``$TWELVE_DATA_DIR/features/flight_events.parquet``)."""
    return twelve_paths.data_dir() / "features" / "flight_events.parquet"


def training_set_path() -> Path:
    """Where the training set is written (``$TWELVE_DATA_DIR/training/training_set.parquet``)."""
    return twelve_paths.data_dir() / "training" / "training_set.parquet"


def entity_frame(flight_events: pd.DataFrame) -> pd.DataFrame:
    """The Feast entity frame: keys, request features, join keys and label of every flight.

    Only these columns are taken, whatever else the events carry: a column known only after
    departure (``contract.LEAKAGE_COLUMNS``) cannot ride along into the features.

    Args:
        flight_events: The dbt ``flight_events`` table.

    Returns:
        The selected columns, in a fixed order.

    Raises:
        ValueError: Naming every required column the events lack.
    """
    missing = [column for column in ENTITY_FRAME_COLUMNS if column not in flight_events]
    if missing:
        raise ValueError("flight_events lacks column(s) " + ", ".join(f"'{c}'" for c in missing))
    return flight_events[ENTITY_FRAME_COLUMNS].copy()


def assemble_training_set(
    joined: pd.DataFrame, *, max_unknown_category_share: float
) -> pd.DataFrame:
    """Order, conform and validate the joined frame against the training-set contract.

    The join-only keys are dropped; every other column is kept, so an unexpected one (a leak, a
    renamed feature) reaches the contract and is reported by name rather than silently dropped.

    Args:
        joined: The entity frame with the Feast features added.
        max_unknown_category_share: Tolerated share of unknown categories per column.

    Returns:
        flight_id, event_timestamp, flight_month, the model input columns, is_late.

    Raises:
        twelve.features.validation.ContractViolation: Listing every offending column.
    """
    from twelve.features.schemas import conform_dtypes
    from twelve.features.validation import validate_frame

    frame = joined.drop(columns=[c for c in JOIN_ONLY_COLUMNS if c in joined])
    ordered = [c for c in contract.TRAINING_SET_COLUMNS if c in frame]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    schema = contract.training_set_schema()
    frame = conform_dtypes(frame, schema)
    validate_frame(frame, schema, max_unknown_category_share=max_unknown_category_share)
    return frame.reset_index(drop=True)


def write_parquet(frame: pd.DataFrame, path: Path) -> str:
    """Write a frame (no index) and return the md5 of the file written: its data version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return file_md5(path)


def file_md5(path: Path) -> str:
    """md5 of a file's bytes (the same hash DVC records)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_set_metadata(frame: pd.DataFrame) -> Mapping[str, Any]:
    """What a reader of the Dagster UI wants to know about a training set.

    Returns:
        rows, late_rate, columns, rows_per_month (by flight_month) and null_share per feature.
    """
    label = frame[contract.LABEL_COLUMN]
    return {
        "rows": len(frame),
        "late_rate": round(float(label.mean()), 4) if len(frame) else None,
        "columns": list(frame.columns),
        "rows_per_month": {
            str(month): int(count)
            for month, count in frame["flight_month"].value_counts().sort_index().items()
        },
        "null_share": {
            column: round(float(frame[column].isna().mean()), 4)
            for column in contract.FEATURE_COLUMNS
            if column in frame
        },
    }
