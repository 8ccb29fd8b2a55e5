"""A request's model input as *columns*: name -> numpy array in the contract's dtype.

The hot path of a served model never builds a data frame: validated request rows become one
array per column (what the compiled model, the contract gate and the monitor read), typed as the
training set is (:func:`typed_columns`): ``int64`` for whole numbers, ``float64`` with NaN for
gaps, object arrays of ``str`` with None for missing text. A frame is built only off the hot path
(pandera's slow check, the background profiler): :func:`frame_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

Columns = dict[str, np.ndarray]

# Contract dtypes -> the numpy dtype a column is held in ("str" and others: objects).
_NUMPY = {"float64": np.float64, "int64": np.int64, "bool": np.bool_}


def column_array(values: Sequence[Any], dtype: str) -> np.ndarray:
    """One column in its contract dtype (None -> NaN for floats; text stays objects).

    Raises:
        ValueError / TypeError: a value that does not fit the dtype (numpy names it).
    """
    kind = _NUMPY.get(dtype)
    if kind is None:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    return np.asarray(values, dtype=kind)


def typed_columns(
    values: Mapping[str, Sequence[Any]], dtypes: Mapping[str, str], order: Iterable[str]
) -> Columns:
    """Columns in ``order``, each typed by ``dtypes`` (the contract's).

    Args:
        values: column name -> values (lists, arrays).
        dtypes: column name -> contract dtype.
        order: the columns to keep, in the model's order.

    Raises:
        KeyError: a column of ``order`` is missing (named).
    """
    out: Columns = {}
    for name in order:
        if name not in values:
            raise KeyError(f"the model input lacks column {name!r}")
        out[name] = column_array(values[name], dtypes.get(name, "str"))
    return out


def rows_to_columns(rows: Sequence[Any], names: Sequence[str]) -> dict[str, list[Any]]:
    """Attribute lists of validated request rows (pydantic models): name -> one value per row."""
    return {name: [getattr(row, name) for row in rows] for name in names}


def concat(batches: Sequence[Columns]) -> Columns:
    """Several requests' columns as one batch (same columns, rows one after the other)."""
    if len(batches) == 1:
        return batches[0]
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


def frame_of(columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The data frame of columns, dtypes kept (pandera's check, the profiler, tests)."""
    return pd.DataFrame(dict(columns), copy=False)


def row_count(columns: Mapping[str, Sequence[Any]]) -> int:
    """Rows of a columns mapping (0 when it has no column)."""
    return len(next(iter(columns.values()))) if columns else 0
