"""Validating a frame against a contract: one loud failure that names every offending column.

:func:`validate_frame` runs pandera's lazy validation and raises a single
:class:`ContractViolation` whose message lists every problem. Unknown categories are tolerated up
to a configured share: a few unseen destinations are normal, a new airline for half of the rows
is not. The same validation runs when the training set is built and when a served model gets a
request, so an upstream change fails early instead of silently degrading the model.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from twelve.features.columns import ColumnSpec
from twelve.features.schemas import column_specs

if TYPE_CHECKING:
    import pandera.pandas as pa

logger = logging.getLogger(__name__)
_EXAMPLES = 5


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
