"""The training set, in pure functions: label events in, contract-checked training frame out.

The block's asset (``twelve.features.assets``) only wires them: read the label events dbt wrote ->
:func:`entity_frame` -> the Feast point-in-time join -> :func:`assemble_training_set` (conform and
validate against the contract) -> written -> :func:`training_set_metadata` and
:func:`column_schema` for the UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from twelve.features.contract import Contract

if TYPE_CHECKING:
    import dagster as dg


def entity_frame(events: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The Feast entity frame: keys, request features, join keys and label of every event.

    Only these columns are taken, whatever else the events carry: a column known only after the
    outcome (``contract.leakage``) cannot ride along into the features.

    Args:
        events: The label events dbt wrote.
        contract: The project's contract.

    Returns:
        The selected columns, in a fixed order.

    Raises:
        ValueError: Naming every required column the events lack.
    """
    wanted = contract.entity_frame_columns
    missing = [column for column in wanted if column not in events]
    if missing:
        raise ValueError("the label events lack column(s) " + ", ".join(f"'{c}'" for c in missing))
    return events[wanted].copy()


def assemble_training_set(
    joined: pd.DataFrame, contract: Contract, *, max_unknown_category_share: float
) -> pd.DataFrame:
    """Order, conform and validate the joined frame against the training-set contract.

    The join-only keys are dropped; every other column is kept, so an unexpected one (a leak, a
    renamed feature) reaches the contract and is reported by name rather than silently dropped.

    Args:
        joined: The entity frame with the Feast features added.
        contract: The project's contract.
        max_unknown_category_share: Tolerated share of unknown categories per column.

    Returns:
        The keys, the model input columns and the label, in the contract's order.

    Raises:
        twelve.features.validation.ContractViolation: Listing every offending column.
    """
    from twelve.features.schemas import conform_dtypes
    from twelve.features.validation import validate_frame

    frame = joined.drop(columns=[c for c in contract.join_only_keys if c in joined])
    ordered = [c for c in contract.training_set_columns if c in frame]
    frame = frame[ordered + [c for c in frame.columns if c not in ordered]]
    schema = contract.training_set_schema()
    frame = conform_dtypes(frame, schema)
    validate_frame(frame, schema, max_unknown_category_share=max_unknown_category_share)
    return frame.reset_index(drop=True)


def training_set_metadata(frame: pd.DataFrame, contract: Contract) -> Mapping[str, Any]:
    """What a reader of the Dagster UI wants to know about a training set.

    Returns:
        rows, label_mean (the positive rate of a 0/1 label), rows_per_period and the null share
        of every model input.
    """
    label = frame[contract.label.name]
    periods = frame[contract.period.name].value_counts().sort_index()
    return {
        "rows": len(frame),
        "label_mean": round(float(label.mean()), 4) if len(frame) else None,
        "rows_per_period": {str(period): int(count) for period, count in periods.items()},
        "null_share": {
            column: round(float(frame[column].isna().mean()), 4)
            for column in contract.feature_columns
            if column in frame
        },
    }


def column_schema(contract: Contract) -> dg.TableSchema:
    """The training set's columns as Dagster's table schema (shown in the asset's UI page)."""
    import dagster as dg

    specs = (
        contract.id,
        contract.timestamp,
        contract.period,
        *contract.model_input,
        contract.label,
    )
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=spec.name,
                type=spec.dtype,
                description=spec.description or None,
                constraints=dg.TableColumnConstraints(
                    nullable=spec.nullable,
                    unique=spec.unique,
                    other=[text for text in (_bounds(spec), _categories(spec)) if text],
                ),
            )
            for spec in specs
        ]
    )


def _bounds(spec) -> str:
    text = spec.bounds_text()
    return "" if text == "any" else f"range {text}"


def _categories(spec) -> str:
    return f"one of {', '.join(spec.categories)}" if spec.categories else ""
