"""Contracts as pandera schemas: built from column specs, described as JSON, rebuilt from it.

- :func:`build_schema` turns column specs into a strict ``pandera`` ``DataFrameSchema``
  (unexpected columns are refused, which is also how leaking columns are kept out);
- :func:`schema_to_dict` / :func:`schema_from_dict` round-trip it through JSON so a bento embeds
  exactly the contract its model was trained with;
- :func:`conform_dtypes` widens what storage formats vary (int32 vs int64, us vs ns timestamps)
  before validation (:mod:`twelve.features.validation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from twelve.features.columns import ColumnSpec

if TYPE_CHECKING:
    import pandera.pandas as pa

# Metadata key under which each pandera column keeps its spec (so the contract can be described).
_META_KEY = "twelve"


def _pandera_dtype(dtype: str) -> Any:
    if dtype == "str":
        return str
    if dtype == "datetime64[ns, UTC]":
        return pd.DatetimeTZDtype("ns", "UTC")
    return dtype


def _range_checks(spec: ColumnSpec) -> list[pa.Check]:
    import pandera.pandas as pa

    low, high = spec.min_value, spec.max_value
    if low is not None and high is not None:
        return [pa.Check.in_range(low, high, include_min=not spec.exclusive_min)]
    if low is not None:
        return [pa.Check.gt(low) if spec.exclusive_min else pa.Check.ge(low)]
    if high is not None:
        return [pa.Check.le(high)]
    return []


def build_schema(
    columns: Sequence[ColumnSpec],
    *,
    name: str,
    strict: bool = True,
    description: str = "",
) -> pa.DataFrameSchema:
    """Build a pandera schema from compact column specs.

    Categories are not pandera checks: :func:`validate_frame` applies them with a tolerated share.

    Args:
        columns: The contract's columns.
        name: Contract name, used in error messages.
        strict: Refuse columns that are not in the contract (keeps leaks and renames visible).
        description: What the contract is for.

    Returns:
        A ``pandera.pandas.DataFrameSchema`` carrying the specs in its metadata.
    """
    import pandera.pandas as pa

    names = [spec.name for spec in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"contract '{name}' declares columns twice: {', '.join(duplicates)}")
    pa_columns = {}
    for spec in columns:
        checks = _range_checks(spec)
        if spec.pattern is not None:
            checks.append(pa.Check.str_matches(spec.pattern))
        pa_columns[spec.name] = pa.Column(
            _pandera_dtype(spec.dtype),
            checks=checks,
            nullable=spec.nullable,
            unique=spec.unique,
            description=spec.description or None,
            metadata={_META_KEY: spec.to_dict()},
        )
    return pa.DataFrameSchema(
        pa_columns,
        strict=strict,
        name=name,
        description=description or None,
        metadata={_META_KEY: {"name": name, "strict": strict, "description": description}},
    )


def column_specs(schema: pa.DataFrameSchema) -> list[ColumnSpec]:
    """The specs a schema was built from (by :func:`build_schema`)."""
    specs = []
    for column_name, column in schema.columns.items():
        meta = (column.metadata or {}).get(_META_KEY)
        if meta is None:
            raise ValueError(
                f"column '{column_name}' of schema '{schema.name}' was not built by "
                "twelve.features.schemas.build_schema"
            )
        specs.append(ColumnSpec.from_dict(meta))
    return specs


def contract_dict(
    columns: Sequence[ColumnSpec], *, name: str, strict: bool = True, description: str = ""
) -> dict[str, Any]:
    """Describe a contract as JSON-ready data without building it (no pandera import).

    Args:
        columns: The contract's columns.
        name: Contract name.
        strict: Whether unexpected columns are refused.
        description: What the contract is for.

    Returns:
        ``{"name", "strict", "description", "columns": [spec, ...]}``, what a bento embeds and
        :func:`schema_from_dict` rebuilds.
    """
    return {
        "name": name,
        "strict": strict,
        "description": description,
        "columns": [spec.to_dict() for spec in columns],
    }


def schema_to_dict(schema: pa.DataFrameSchema) -> dict[str, Any]:
    """Describe a schema made by :func:`build_schema` as JSON-ready data (:func:`contract_dict`)."""
    meta = (schema.metadata or {}).get(_META_KEY, {})
    return contract_dict(
        column_specs(schema),
        name=schema.name,
        strict=bool(schema.strict),
        description=meta.get("description", ""),
    )


def schema_from_dict(data: dict[str, Any]) -> pa.DataFrameSchema:
    """Rebuild a schema from :func:`schema_to_dict` output."""
    return build_schema(
        [ColumnSpec.from_dict(column) for column in data["columns"]],
        name=data["name"],
        strict=data.get("strict", True),
        description=data.get("description", ""),
    )


def conform_dtypes(df: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Widen numeric and timestamp columns losslessly to the contract's dtypes; nothing else.

    Parquet writers and joins vary the width of the same logical type (a DuckDB INTEGER is read
    as int32, an integer feature with gaps comes back as float64, timestamps in us or ns). Those
    are not upstream changes, so they are conformed here. A column of another kind (text where
    numbers are expected, numbers where text is) is left as it is for :func:`validate_frame` to
    report.

    Args:
        df: The frame.
        schema: A schema made by :func:`build_schema`.

    Returns:
        A copy with conformed columns.
    """
    out = df.copy()
    for spec in column_specs(schema):
        if spec.name not in out:
            continue
        column = out[spec.name]
        is_number = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if spec.dtype == "float64" and is_number:
            out[spec.name] = column.astype("float64")
        elif spec.dtype == "int64" and pd.api.types.is_integer_dtype(column):
            if not column.isna().any():
                out[spec.name] = column.astype("int64")
        elif spec.dtype == "datetime64[ns, UTC]" and isinstance(column.dtype, pd.DatetimeTZDtype):
            out[spec.name] = column.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return out
