"""Feature contracts: pandera schemas built from a compact column spec, and one loud failure.

A contract says which columns a model reads, their types, ranges and allowed categories. The same
contract is checked when the training set is built and when the served model gets a request, so an
upstream change (a renamed or dropped column, a type change, out-of-range values, new categories)
fails early with every offending column named, instead of silently degrading the model.

- :class:`ColumnSpec` is the compact description of one column; :func:`build_schema` turns a list
  of them into a strict ``pandera`` ``DataFrameSchema`` (unexpected columns are refused, which is
  also how leaking columns are kept out).
- :func:`validate_frame` runs lazy validation and raises a single :class:`ContractViolation` whose
  message lists every problem. Unknown categories are tolerated up to a configured share: a few
  unseen destinations are normal, a new airline for half of the rows is not.
- :func:`schema_to_dict` / :func:`schema_from_dict` round-trip a contract through JSON so a bento
  can embed exactly the contract its model was trained with.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import pandera.pandas as pa

logger = logging.getLogger(__name__)

# The dtypes a spec may name, mapped to what pandera checks. Kept small on purpose: a contract
# is read by people, and every one of these has an unambiguous pandas counterpart.
SUPPORTED_DTYPES = ("float64", "int64", "bool", "str", "datetime64[ns, UTC]")

# Metadata key under which each pandera column keeps its spec (so the contract can be described).
_META_KEY = "twelve"
_EXAMPLES = 5


@dataclass(frozen=True)
class ColumnSpec:
    """Compact description of one contract column.

    Attributes:
        name: Column name.
        dtype: One of ``SUPPORTED_DTYPES``.
        nullable: Whether nulls are allowed.
        min_value: Lower bound (inclusive unless ``exclusive_min``), or None.
        max_value: Upper bound (inclusive), or None.
        exclusive_min: Make ``min_value`` a strict bound (``distance > 0``).
        categories: Allowed values of a string column; values outside them count as unknown and
            are tolerated up to ``max_unknown_category_share`` in :func:`validate_frame`.
        unique: Whether values must be unique.
        pattern: Regular expression every (string) value must match.
        description: What the column means, for people and the UI.
    """

    name: str
    dtype: str
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    exclusive_min: bool = False
    categories: tuple[str, ...] | None = None
    unique: bool = False
    pattern: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in SUPPORTED_DTYPES:
            raise ValueError(
                f"column '{self.name}': dtype {self.dtype!r} is not supported; "
                f"use one of {', '.join(SUPPORTED_DTYPES)}"
            )
        if self.categories is not None:
            # Accept lists from JSON/YAML but store a tuple so the spec stays hashable.
            object.__setattr__(self, "categories", tuple(self.categories))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (None fields dropped)."""
        data = asdict(self)
        if self.categories is not None:
            data["categories"] = list(self.categories)
        # Defaults are left out (by identity: a bound of 0 is kept, a False flag is not).
        return {
            key: value
            for key, value in data.items()
            if not (value is None or value is False or (isinstance(value, str) and not value))
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)

    def bounds_text(self) -> str:
        """Human-readable bounds, e.g. ``[-40, 130]``, ``> 0`` or ``<= 23``."""
        if self.min_value is not None and self.max_value is not None:
            left = "(" if self.exclusive_min else "["
            return f"{left}{self.min_value:g}, {self.max_value:g}]"
        if self.min_value is not None:
            return f"{'>' if self.exclusive_min else '>='} {self.min_value:g}"
        if self.max_value is not None:
            return f"<= {self.max_value:g}"
        return "any"


@dataclass(frozen=True)
class Problem:
    """One reason a frame breaks a contract."""

    column: str
    kind: str  # missing | unexpected | dtype | range | null | unique | pattern | category | check
    message: str


class ContractViolation(ValueError):
    """A frame broke a contract; ``problems`` lists every reason, the message names each column."""

    def __init__(self, contract: str, problems: Sequence[Problem]) -> None:
        self.contract = contract
        self.problems = list(problems)
        lines = [f"contract '{contract}' violated ({len(self.problems)} problem(s)):"]
        lines += [f"  - {problem.message}" for problem in self.problems]
        super().__init__("\n".join(lines))

    @property
    def columns(self) -> list[str]:
        """The offending columns, in order of first appearance."""
        return list(dict.fromkeys(problem.column for problem in self.problems))


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
                "twelve.features.contracts.build_schema"
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


def _examples(values: Iterable[Any]) -> str:
    unique = list(dict.fromkeys(repr(v) for v in values))
    more = ", ..." if len(unique) > _EXAMPLES else ""
    return ", ".join(unique[:_EXAMPLES]) + more


def _problems_from_failure_cases(
    failures: pd.DataFrame, df: pd.DataFrame, specs: dict[str, ColumnSpec]
) -> list[Problem]:
    """Turn pandera's failure-case table into one readable problem per column and kind."""
    problems: list[Problem] = []
    missing = failures.loc[failures["check"] == "column_in_dataframe", "failure_case"].tolist()
    unexpected = failures.loc[failures["check"] == "column_in_schema", "failure_case"].tolist()
    rename_hint = f" (renamed? unexpected columns: {_examples(unexpected)})" if unexpected else ""
    for column in missing:
        problems.append(Problem(column, "missing", f"column '{column}' is missing{rename_hint}"))
    for column in unexpected:
        problems.append(
            Problem(
                column,
                "unexpected",
                f"column '{column}' is not in the contract (unexpected columns are refused: "
                "a leak or a rename?)",
            )
        )
    column_failures = failures[~failures["check"].isin(["column_in_dataframe", "column_in_schema"])]
    for (column, check), group in column_failures.groupby(["column", "check"], sort=False):
        spec = specs.get(column)
        cases = group["failure_case"].tolist()
        if check.startswith("dtype("):
            expected = spec.dtype if spec else check
            found = str(df[column].dtype) if column in df else "?"
            if found == "object" and expected == "str":
                kinds = sorted({type(v).__name__ for v in cases})
                message = (
                    f"column '{column}' has the wrong type: expected str, found "
                    f"{'/'.join(kinds)} values (e.g. {_examples(cases)})"
                )
            else:
                message = (
                    f"column '{column}' has the wrong type: expected {expected}, found {found}"
                )
            problems.append(Problem(column, "dtype", message))
        elif check == "not_nullable":
            problems.append(
                Problem(column, "null", f"column '{column}' has {len(cases)} null value(s)")
            )
        elif check == "field_uniqueness":
            problems.append(
                Problem(
                    column,
                    "unique",
                    f"column '{column}' must be unique: {len(cases)} duplicated value(s) "
                    f"(e.g. {_examples(cases)})",
                )
            )
        elif check.startswith(("in_range", "greater_than", "less_than")):
            bounds = spec.bounds_text() if spec else check
            problems.append(
                Problem(
                    column,
                    "range",
                    f"column '{column}' has {len(cases)} value(s) out of range "
                    f"(expected {bounds}), e.g. {_examples(cases)}",
                )
            )
        elif check.startswith("str_matches"):
            pattern = spec.pattern if spec else check
            problems.append(
                Problem(
                    column,
                    "pattern",
                    f"column '{column}' has {len(cases)} value(s) not matching {pattern!r} "
                    f"(e.g. {_examples(cases)})",
                )
            )
        else:
            problems.append(
                Problem(
                    column,
                    "check",
                    f"column '{column}' failed {check}: {len(cases)} case(s) "
                    f"(e.g. {_examples(cases)})",
                )
            )
    # A column of the wrong type also fails its value checks (often with a TypeError): the type
    # is the cause, so report only that.
    type_broken = {p.column for p in problems if p.kind == "dtype"}
    return [
        p
        for p in problems
        if p.column not in type_broken or p.kind not in ("range", "pattern", "check")
    ]


def unknown_category_share(values: pd.Series, categories: Iterable[str]) -> tuple[float, list]:
    """Share of non-null values outside ``categories``, and those unknown values (by frequency).

    Args:
        values: The column.
        categories: The allowed values.

    Returns:
        ``(share, unknown values most frequent first)``; share is 0.0 for an all-null column.
    """
    present = values.dropna()
    if present.empty:
        return 0.0, []
    unknown = present[~present.isin(set(categories))]
    return len(unknown) / len(present), unknown.value_counts().index.tolist()


def validate_frame(
    df: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    max_unknown_category_share: float = 0.0,
) -> pd.DataFrame:
    """Validate a frame against a contract and fail once, naming every offending column.

    Args:
        df: The frame to check.
        schema: A schema made by :func:`build_schema`.
        max_unknown_category_share: Tolerated share (0..1) of non-null values outside a column's
            declared categories. Above it, the column is reported with its share and examples.

    Returns:
        ``df`` itself when it honours the contract (validation does not coerce).

    Raises:
        ContractViolation: Listing every problem found.
    """
    import pandera.pandas as pa

    if not 0.0 <= max_unknown_category_share <= 1.0:
        raise ValueError(
            f"max_unknown_category_share must be within [0, 1], got {max_unknown_category_share}"
        )
    specs = {spec.name: spec for spec in column_specs(schema)}
    problems: list[Problem] = []
    try:
        with warnings.catch_warnings():
            # pandera's own failure-case formatting trips a pandas concat FutureWarning: noise.
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"pandera\.")
            schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as errors:
        problems.extend(_problems_from_failure_cases(errors.failure_cases, df, specs))
    type_broken = {p.column for p in problems if p.kind == "dtype"}
    for spec in specs.values():
        if spec.categories is None or spec.name not in df or spec.name in type_broken:
            continue
        share, unknown = unknown_category_share(df[spec.name], spec.categories)
        if share > max_unknown_category_share:
            problems.append(
                Problem(
                    spec.name,
                    "category",
                    f"column '{spec.name}' has {share:.1%} unknown categories "
                    f"(max {max_unknown_category_share:.1%}), e.g. {_examples(unknown)}",
                )
            )
        elif share > 0:
            logger.info(
                "column '%s': %.2f%% unknown categories, within the tolerated %.2f%%",
                spec.name,
                100 * share,
                100 * max_unknown_category_share,
            )
    if problems:
        raise ContractViolation(schema.name or "unnamed", problems)
    return df
