"""Compile a fitted pipeline into an ONNX model (bytes) that predicts what the pipeline predicts.

Done once, when a bento is built (:mod:`twelve.deploy.bento`); the bento serves the result with
:class:`twelve.deploy.compiled.model.CompiledModel` after :mod:`.parity` has checked it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import onnx
import pandas as pd
from onnx import TensorProto, helper
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

from twelve.deploy.compiled import converters
from twelve.deploy.compiled.estimators import (
    ESTIMATOR_NODES,
    FEATURES,
    SUPPORTED_ESTIMATORS,
    Nodes,
)
from twelve.deploy.compiled.model import METADATA_KEY, PREDICTIONS, PROBABILITIES

logger = logging.getLogger(__name__)

OPSETS = {"": 21, "ai.onnx.ml": 5}  # TreeEnsemble with BRANCH_MEMBER needs ai.onnx.ml 5


def _split_pipeline(pipeline: Pipeline) -> tuple[ColumnTransformer, Any]:
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise TypeError(
            "compile_pipeline takes the Pipeline of twelve.modeling.build_pipeline "
            f"(preprocess, estimator), got {pipeline!r}"
        )
    preprocess, estimator = pipeline.steps[0][1], pipeline.steps[-1][1]
    if not isinstance(preprocess, ColumnTransformer):
        raise TypeError(f"the first step must be a ColumnTransformer, got {type(preprocess)!r}")
    if type(estimator) not in ESTIMATOR_NODES:
        raise NotImplementedError(
            f"estimator '{type(estimator).__name__}' cannot be compiled; supported: "
            f"{sorted(cls.__name__ for cls in SUPPORTED_ESTIMATORS)}"
        )
    check_is_fitted(pipeline)  # the graph is made of fitted values
    if is_classifier(estimator) and len(estimator.classes_) != 2:
        raise NotImplementedError(
            f"estimator '{type(estimator).__name__}' has {len(estimator.classes_)} classes; "
            "only binary classifiers are compiled"
        )
    return preprocess, estimator


def _missing_markers(preprocess: ColumnTransformer, strings: Sequence[str]) -> dict[str, str]:
    """The value each string column's imputers fill None and NaN with (the boundary uses it).

    Raises:
        NotImplementedError: a string column whose missing values are not imputed by a
            constant for both None and NaN first (the column named).
    """
    markers: dict[str, str] = {}
    for _, transformer, columns in preprocess.transformers_:
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
        fills, covered = set(), set()
        for _, step in steps:
            if not isinstance(step, SimpleImputer):
                break
            fills.add(step.fill_value)
            covered.add(
                "nan" if converters.is_nan(step.missing_values) else repr(step.missing_values)
            )
        for column in columns:
            if column not in strings:
                continue
            if (
                covered != {"nan", "None"}
                or len(fills) != 1
                or not isinstance(next(iter(fills)), str)
            ):
                raise NotImplementedError(
                    f"string column '{column}': compile_pipeline needs its missing values (None "
                    "and NaN) imputed with one constant string before encoding"
                )
            markers[column] = next(iter(fills))
    return markers


def _input_kinds(example: pd.DataFrame, columns: Sequence[str]) -> dict[str, str]:
    missing = [column for column in columns if column not in example.columns]
    if missing:
        raise KeyError(f"the example lacks the pipeline's column(s) {missing}")
    kinds = {}
    for column in columns:
        dtype = example[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            kinds[column] = "numeric"
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            kinds[column] = "string"
        else:
            raise TypeError(f"column '{column}' has dtype {dtype}: neither numeric nor string")
    return kinds


def compile_pipeline(pipeline: Pipeline, example: pd.DataFrame) -> bytes:
    """Compile a fitted pipeline into an ONNX model (bytes) that predicts the same values.

    Args:
        pipeline: a fitted pipeline of :func:`twelve.modeling.build_pipeline`.
        example: rows of the pipeline's input (the columns' dtypes decide the ONNX input types:
            object/string columns are strings, numeric ones float64).

    Returns:
        The serialized ONNX model; load it with :meth:`CompiledModel.from_bytes`.

    Raises:
        TypeError: not a (ColumnTransformer, estimator) pipeline, or a column of unusable dtype.
        NotImplementedError: an estimator or a step that cannot be compiled (named).
        KeyError: the example lacks some of the pipeline's columns.
    """
    started = time.perf_counter()
    preprocess, estimator = _split_pipeline(pipeline)
    columns = [str(column) for column in preprocess.feature_names_in_]
    reserved = [c for c in columns if c in (PROBABILITIES, PREDICTIONS) or c.startswith("twelve_")]
    if reserved:
        raise ValueError(f"column name(s) {reserved} are reserved for the compiled graph")
    kinds = _input_kinds(example, columns)
    strings = [column for column in columns if kinds[column] == "string"]
    markers = _missing_markers(preprocess, strings)
    model = _preprocessing_graph(preprocess, columns, kinds)
    output = _append_estimator(model, estimator)
    metadata = {
        "columns": columns,
        "kinds": kinds,
        "missing": markers,
        "output": output,
        "classes": [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
        if is_classifier(estimator)
        else None,
        "estimator": type(estimator).__name__,
    }
    helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata)})
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    logger.info(
        "compiled %s pipeline: %d columns, %d ONNX nodes, %.0f kB in %.2f s",
        metadata["estimator"],
        len(columns),
        len(model.graph.node),
        len(data) / 1024,
        time.perf_counter() - started,
    )
    return data


def _preprocessing_graph(preprocess: ColumnTransformer, columns: list[str], kinds: dict) -> Any:
    """The ColumnTransformer as an ONNX model (skl2onnx, with our converters), float64 out."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    tensor_types = {"string": StringTensorType, "numeric": DoubleTensorType}
    initial_types = [(column, tensor_types[kinds[column]]([None, 1])) for column in columns]
    model = convert_sklearn(
        preprocess,
        initial_types=initial_types,
        target_opset=OPSETS,
        custom_conversion_functions={
            SimpleImputer: converters.imputer_convert,
            OneHotEncoder: converters.one_hot_convert,
            OrdinalEncoder: converters.ordinal_convert,
        },
        custom_shape_calculators={
            SimpleImputer: converters.imputer_shape,
            OneHotEncoder: converters.encoder_shape,
            OrdinalEncoder: converters.encoder_shape,
        },
    )
    (preprocessed,) = model.graph.output
    if preprocessed.type.tensor_type.elem_type != TensorProto.DOUBLE:
        raise NotImplementedError("the preprocessing did not produce float64 features")
    return model


def _append_estimator(model: Any, estimator: Any) -> str:
    """The estimator's nodes after the preprocessing; the name of the model's one output."""
    graph = model.graph
    (preprocessed,) = graph.output
    tail = Nodes([], [])
    tail.add("Identity", [preprocessed.name], FEATURES)
    ESTIMATOR_NODES[type(estimator)](estimator, tail)
    graph.node.extend(tail.nodes)
    graph.initializer.extend(tail.initializers)
    del graph.output[:]
    if is_classifier(estimator):
        output = helper.make_tensor_value_info(PROBABILITIES, TensorProto.DOUBLE, [None, 2])
    else:
        output = helper.make_tensor_value_info(PREDICTIONS, TensorProto.DOUBLE, [None])
    graph.output.append(output)
    # skl2onnx declares the lowest opsets its own nodes need; ours need ai.onnx.ml 5.
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in OPSETS.items())
    return output.name
