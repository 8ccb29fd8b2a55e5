"""Run a compiled pipeline: an onnxruntime session fed plain column lists (what a bento imports).

Only numpy, pandas and onnxruntime: the serving runtime loads a compiled model with this module
and nothing of skl2onnx or scikit-learn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pandas as pd

PROBABILITIES = "probabilities"
PREDICTIONS = "predictions"
METADATA_KEY = "twelve.compiled"


def category_values(column: str, values: Sequence[Any] | np.ndarray, missing: str) -> np.ndarray:
    """One string column as the compiled model reads it: missing values become ``missing``.

    The pipeline's imputers turn None and NaN into their fill value; a string tensor can hold
    neither, so the boundary does the same replacement before the graph (where the imputers are
    then the identity). Applied identically by every caller of :class:`CompiledModel`.

    Args:
        column: the column's name (for the error message).
        values: the column's values: strings, None, NaN or ``pd.NA``.
        missing: the fill value of the pipeline's imputers for this column.

    Returns:
        A (rows, 1) object array of strings.

    Raises:
        TypeError: a value that is neither a string nor missing (the column and value named).
    """
    out = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            out.append(missing)
        else:
            raise TypeError(
                f"categorical column '{column}' holds {value!r} ({type(value).__name__}); "
                "expected a string or a missing value"
            )
    return np.array(out, dtype=object).reshape(-1, 1)


def numeric_values(column: str, values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """One numeric column as the compiled model reads it: float64, None -> NaN.

    Args:
        column: the column's name (for the error message).
        values: numbers, None or NaN.

    Returns:
        A (rows, 1) float64 array.

    Raises:
        ValueError: a value that is not a number (the column named).
    """
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError) as error:
        raise ValueError(f"numeric column '{column}' is not numeric: {error}") from error


class CompiledModel:
    """A compiled pipeline in an onnxruntime session (one thread), fed plain column lists."""

    def __init__(self, data: bytes) -> None:
        """Load a model made by :func:`compile_pipeline`.

        Args:
            data: the ONNX bytes.

        Raises:
            ValueError: the bytes are not a model made by :func:`compile_pipeline`.
        """
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
        props = self._session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ValueError("not a model made by twelve.deploy.compiled.build.compile_pipeline")
        meta = json.loads(props[METADATA_KEY])
        self.columns: list[str] = meta["columns"]
        self.estimator: str = meta["estimator"]
        self.classes: list | None = meta["classes"]
        self._output: str = meta["output"]
        self._strings = [
            (c, meta["missing"][c]) for c in self.columns if meta["kinds"][c] == "string"
        ]
        self._numbers = [c for c in self.columns if meta["kinds"][c] == "numeric"]

    @classmethod
    def from_bytes(cls, data: bytes) -> CompiledModel:
        """The compiled model from the bytes :func:`compile_pipeline` returned."""
        return cls(data)

    @classmethod
    def load(cls, path: str | Path) -> CompiledModel:
        """The compiled model from an ``.onnx`` file."""
        return cls(Path(path).read_bytes())

    @property
    def is_classifier(self) -> bool:
        """True for a classifier (``predict_proba``), False for a regressor (``predict``)."""
        return self.classes is not None

    def _feeds(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, np.ndarray]:
        absent = [column for column in self.columns if column not in columns]
        if absent:
            raise KeyError(f"column(s) {absent} are missing from the model input")
        feeds = {name: numeric_values(name, columns[name]) for name in self._numbers}
        for name, missing in self._strings:
            feeds[name] = category_values(name, columns[name], missing)
        lengths = {name: len(array) for name, array in feeds.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns have different lengths: {lengths}")
        return feeds

    def _run(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        return self._session.run([self._output], self._feeds(columns))[0]

    def predict_proba(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Class probabilities, as the pipeline's ``predict_proba``.

        Args:
            columns: column name -> values (lists or arrays, one value per row); strings may be
                None or NaN for missing, numbers None or NaN.

        Returns:
            A (rows, 2) float64 array, columns in the order of ``classes``.

        Raises:
            TypeError: the model is a regressor.
            KeyError: a column is missing; ValueError/TypeError: a value of the wrong kind.
        """
        if not self.is_classifier:
            raise TypeError(f"the compiled {self.estimator} is a regressor: call predict")
        return self._run(columns)

    def predict(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Predicted values of a regressor, as the pipeline's ``predict``.

        Args:
            columns: column name -> values, as for :meth:`predict_proba`.

        Returns:
            A (rows,) float64 array.

        Raises:
            TypeError: the model is a classifier (call ``predict_proba``).
        """
        if self.is_classifier:
            raise TypeError(f"the compiled {self.estimator} is a classifier: call predict_proba")
        return self._run(columns)

    def predict_proba_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_proba` on a data frame (a convenience, not the fast path)."""
        return self.predict_proba(_frame_columns(frame, self.columns))

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`predict` on a data frame (a convenience, not the fast path)."""
        return self.predict(_frame_columns(frame, self.columns))


def _frame_columns(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, np.ndarray]:
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise KeyError(f"column(s) {absent} are missing from the frame")
    out = {}
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype):
            out[column] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[column] = series.to_numpy(dtype=object)
    return out
