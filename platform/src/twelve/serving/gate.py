"""The contract gate: every request's model input checked against the model's feature contract.

Two steps, for speed without a second definition of the rules. A vectorized check compiled from
the same column specs answers "certainly valid" for the common case (a few numpy comparisons per
column, tens of microseconds); anything it is not sure of, and every invalid batch, goes to
pandera (:func:`twelve.features.validation.validate_frame`, milliseconds), whose problems are what
the caller gets. The fast path may only ever *accept* what pandera accepts: a test checks it on
valid and broken batches.

A batch is either a data frame or *columns*: column name -> numpy array in the contract's dtype
(``float64`` with NaN for gaps, ``int64``, object arrays of ``str`` / None), as
:func:`twelve.serving.columns.typed_columns` builds them from a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twelve.serving.columns import Columns, frame_of


@dataclass(frozen=True)
class FieldProblem:
    """One reason a request breaks the contract, by field (the 422 body lists these)."""

    field: str
    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"field": self.field, "kind": self.kind, "message": self.message}


def violation_body(problems: Iterable[FieldProblem], contract: str) -> dict[str, Any]:
    """The JSON body of a 422 answer: every offending field and why."""
    listed = [p.to_dict() for p in problems]
    return {
        "error": "contract violation",
        "contract": contract,
        "fields": list(dict.fromkeys(p["field"] for p in listed)),
        "problems": listed,
    }


class ContractGate:
    """The model's feature contract, checked on every batch before the model sees it.

    Args:
        contract: the contract's JSON description (embedded in the BentoML model).
        max_unknown_category_share: tolerated share of values outside a column's categories.
    """

    def __init__(self, contract: Mapping[str, Any], max_unknown_category_share: float = 0.0):
        from twelve.features.columns import ColumnSpec

        self.contract = dict(contract)
        self.name = str(self.contract.get("name", "contract"))
        self.specs = [ColumnSpec.from_dict(column) for column in self.contract["columns"]]
        self.names = [spec.name for spec in self.specs]
        self.dtypes = {spec.name: spec.dtype for spec in self.specs}
        self.max_unknown_category_share = float(max_unknown_category_share)
        self._categories = {
            spec.name: frozenset(spec.categories) for spec in self.specs if spec.categories
        }
        self._schema = None  # pandera's, built on the first slow check
        # Column kinds the fast path cannot judge (left to pandera whenever present).
        self._unsure = any(
            spec.pattern is not None or spec.unique or spec.dtype not in _NUMERIC | {"str"}
            for spec in self.specs
        )
        self._numbers = _Bounds([spec for spec in self.specs if spec.dtype in _NUMERIC])
        self._strings = [spec for spec in self.specs if spec.dtype == "str"]

    def problems(self, batch: pd.DataFrame | Columns) -> list[FieldProblem]:
        """Every problem of ``batch`` (empty when it honours the contract)."""
        if self.certainly_valid(batch):
            return []
        return self.pandera_problems(batch)

    def pandera_problems(self, batch: pd.DataFrame | Columns) -> list[FieldProblem]:
        """The problems pandera finds (the reference check; slow)."""
        from twelve.features.schemas import schema_from_dict
        from twelve.features.validation import ContractViolation, validate_frame

        if self._schema is None:
            self._schema = schema_from_dict(self.contract)
        frame = batch if isinstance(batch, pd.DataFrame) else frame_of(batch)
        try:
            validate_frame(
                frame, self._schema, max_unknown_category_share=self.max_unknown_category_share
            )
        except ContractViolation as violation:
            return [FieldProblem(p.column, p.kind, p.message) for p in violation.problems]
        return []

    def certainly_valid(self, batch: pd.DataFrame | Columns) -> bool:
        """True only when pandera would accept ``batch``; False when unsure or invalid."""
        if self._unsure:
            return False  # a pattern, a uniqueness rule, a bool or datetime column: pandera's
        if isinstance(batch, pd.DataFrame):
            if not self._frame_shape_ok(batch):
                return False
            batch = {name: batch[name].to_numpy() for name in self.names}
        elif list(batch) != self.names:
            return False
        if not self._numbers.hold(batch):
            return False
        return all(self._strings_ok(spec, batch[spec.name]) for spec in self._strings)

    def _frame_shape_ok(self, frame: pd.DataFrame) -> bool:
        if list(frame.columns) != self.names and (
            set(frame.columns) != set(self.names) or frame.columns.duplicated().any()
        ):
            return False
        # A frame's dtypes are what pandera checks (a float month, a categorical carrier).
        for name, dtype in self.dtypes.items():
            expected = "object" if dtype == "str" else dtype
            if str(frame[name].dtype) != expected:
                return False
        return True

    def _strings_ok(self, spec, values: np.ndarray) -> bool:
        if not isinstance(values, np.ndarray) or values.dtype != object:
            return False
        present = [value for value in values if value is not None]
        if len(present) != len(values) and not spec.nullable:
            return False
        if not all(type(value) is str for value in present):
            return False  # NaN, numbers, pd.NA: pandera says what they are
        allowed = self._categories.get(spec.name)
        if allowed is not None and present:
            unknown = sum(value not in allowed for value in present)
            return unknown / len(present) <= self.max_unknown_category_share
        return True


_NUMERIC = {"float64", "int64"}
_DTYPE_CHARS = {"float64": np.dtype(np.float64).char, "int64": np.dtype(np.int64).char}


class _Bounds:
    """The numeric columns' rules as vectors.

    Every column of a batch is checked in a few numpy operations (one matrix), not a few per
    column: the gate's cost barely grows with columns.
    """

    def __init__(self, specs: list) -> None:
        self.names = [spec.name for spec in specs]
        self.chars = [_DTYPE_CHARS[spec.dtype] for spec in specs]
        self.low = np.array([-np.inf if s.min_value is None else s.min_value for s in specs])
        self.high = np.array([np.inf if s.max_value is None else s.max_value for s in specs])
        self.strict = np.array([bool(s.exclusive_min) for s in specs])
        self.required = np.array([not s.nullable for s in specs])

    def hold(self, batch: Mapping[str, np.ndarray]) -> bool:
        """Whether every numeric column has its dtype, no forbidden gap and no value outside."""
        if not self.names:
            return True
        arrays = [batch[name] for name in self.names]
        for values, char in zip(arrays, self.chars, strict=True):
            if not isinstance(values, np.ndarray) or values.dtype.char != char:
                return False
        matrix = np.column_stack(arrays).astype(np.float64, copy=False)
        missing = np.isnan(matrix)
        if (missing & self.required).any():
            return False
        # NaN compares False both ways: a (nullable) gap is never out of bounds.
        below = (matrix < self.low) | ((matrix == self.low) & self.strict)
        return not (below | (matrix > self.high)).any()
