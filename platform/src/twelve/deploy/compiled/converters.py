"""skl2onnx converters for the preprocessing steps it refuses or converts unfaithfully.

Passed per call to ``convert_sklearn`` by :func:`twelve.deploy.compiled.build.compile_pipeline`
(nothing is registered globally). Why each exists: see :mod:`twelve.deploy.compiled`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import TensorProto


def _concat_inputs(scope, operator, container) -> str:
    names = [variable.full_name for variable in operator.inputs]
    if len(names) == 1:
        return names[0]
    out = scope.get_unique_variable_name("concat")
    container.add_node("Concat", names, [out], axis=1)
    return out


def is_nan(value: Any) -> bool:
    """Whether ``value`` is a float NaN (sklearn's default ``missing_values``)."""
    return isinstance(value, float) and math.isnan(value)


def imputer_shape(operator) -> None:
    """skl2onnx shape calculator of SimpleImputer: the input's type, one column per kept feature."""
    from skl2onnx.common.data_types import StringTensorType

    imputer = operator.raw_operator
    first = operator.inputs[0]
    width = sum(variable.type.shape[1] for variable in operator.inputs)
    if not isinstance(first.type, StringTensorType):
        width = int(np.count_nonzero(~np.isnan(imputer.statistics_)))
    if imputer.add_indicator:
        width += len(imputer.indicator_.features_)
    operator.outputs[0].type = first.type.__class__([first.get_first_dimension(), width])


def imputer_convert(scope, operator, container) -> None:
    """skl2onnx converter of SimpleImputer: missing values replaced by the fitted statistics."""
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    imputer = operator.raw_operator
    source = _concat_inputs(scope, operator, container)
    out = operator.outputs[0].full_name
    if isinstance(operator.inputs[0].type, StringTensorType):
        # Missing categories were replaced by the fill value at the boundary (category_values).
        if imputer.strategy != "constant" or imputer.add_indicator:
            raise NotImplementedError(
                "a SimpleImputer on strings compiles only with strategy='constant' and no "
                f"indicator, got strategy={imputer.strategy!r}, add_indicator="
                f"{imputer.add_indicator}"
            )
        container.add_node("Identity", [source], [out])
        return
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        raise NotImplementedError("a numeric SimpleImputer compiles on float64 inputs only")
    if not is_nan(imputer.missing_values):
        raise NotImplementedError(
            f"a numeric SimpleImputer compiles with missing_values=NaN only, got "
            f"{imputer.missing_values!r}"
        )
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    kept = np.flatnonzero(~np.isnan(statistics))  # sklearn drops columns with no statistic
    values = source
    if len(kept) != len(statistics):
        values = scope.get_unique_variable_name("kept")
        kept_idx = _int64s(scope, container, "kept_idx", kept)
        container.add_node("Gather", [source, kept_idx], [values], axis=1)
    fill = scope.get_unique_variable_name("statistics")
    container.add_initializer(fill, TensorProto.DOUBLE, [len(kept)], statistics[kept].tolist())
    mask = scope.get_unique_variable_name("missing")
    container.add_node("IsNaN", [values], [mask])
    filled = scope.get_unique_variable_name("filled") if imputer.add_indicator else out
    container.add_node("Where", [mask, fill, values], [filled])
    if imputer.add_indicator:
        # The indicator covers the columns that had missing values at fit time, in that order.
        all_missing = scope.get_unique_variable_name("all_missing")
        container.add_node("IsNaN", [source], [all_missing])
        picked = scope.get_unique_variable_name("indicator_bool")
        features = imputer.indicator_.features_
        container.add_node(
            "Gather",
            [all_missing, _int64s(scope, container, "indicator_idx", features)],
            [picked],
            axis=1,
        )
        indicator = scope.get_unique_variable_name("indicator")
        container.add_node("Cast", [picked], [indicator], to=TensorProto.DOUBLE)
        container.add_node("Concat", [filled, indicator], [out], axis=1)


def one_hot_convert(scope, operator, container) -> None:
    """skl2onnx converter of OneHotEncoder: one indicator column per fitted category."""
    from skl2onnx.common.data_types import StringTensorType

    encoder = operator.raw_operator
    if not isinstance(operator.inputs[0].type, StringTensorType):
        raise NotImplementedError("a OneHotEncoder compiles on string inputs only")
    if encoder.drop_idx_ is not None:
        raise NotImplementedError("a OneHotEncoder with drop= does not compile")
    if encoder.handle_unknown == "error":
        raise NotImplementedError("a OneHotEncoder with handle_unknown='error' does not compile")
    source = _concat_inputs(scope, operator, container)
    blocks = []
    for index in range(len(encoder.categories_)):
        keys = _string_categories(encoder, index)
        infrequent = encoder.infrequent_categories_[index] if encoder._infrequent_enabled else None
        infrequent = set() if infrequent is None else set(infrequent)
        # sklearn's columns: the frequent categories in order, then one for all infrequent ones.
        frequent = [value for value in keys if value not in infrequent]
        width = len(frequent) + bool(infrequent)
        position = {value: k for k, value in enumerate(frequent)}
        slots = [position.get(value, width - 1) for value in keys]
        # An unknown category: the infrequent column if there is one (unless told to ignore),
        # else no column at all (-1 matches none of 0..width-1).
        to_infrequent = infrequent and encoder.handle_unknown in ("infrequent_if_exist", "warn")
        unknown = width - 1 if to_infrequent else -1
        column = scope.get_unique_variable_name("ohe_column")
        container.add_node(
            "Gather",
            [source, _int64s(scope, container, "ohe_idx", [index])],
            [column],
            axis=1,
        )
        slot = scope.get_unique_variable_name("ohe_slot")
        container.add_node(
            "LabelEncoder",
            [column],
            [slot],
            op_domain="ai.onnx.ml",
            op_version=2,
            keys_strings=keys,
            values_int64s=slots,
            default_int64=unknown,
        )
        hot = scope.get_unique_variable_name("ohe_hot")
        container.add_node(
            "Equal", [slot, _int64s(scope, container, "ohe_range", range(width))], [hot]
        )
        block = scope.get_unique_variable_name("ohe_block")
        container.add_node("Cast", [hot], [block], to=TensorProto.DOUBLE)
        blocks.append(block)
    container.add_node("Concat", blocks, [operator.outputs[0].full_name], axis=1)


def encoder_shape(operator) -> None:
    """skl2onnx shape calculator of the encoders: a double tensor, one row per input row."""
    from skl2onnx.common.data_types import DoubleTensorType

    encoder = operator.raw_operator
    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = DoubleTensorType([rows, len(encoder.get_feature_names_out())])


def _string_categories(encoder, index: int) -> list[str]:
    categories = list(encoder.categories_[index])
    odd = [value for value in categories if not isinstance(value, str)]
    if odd:
        raise NotImplementedError(
            f"{type(encoder).__name__} input {index} has non-string categories {odd[:5]}"
        )
    return categories


def ordinal_convert(scope, operator, container) -> None:
    """skl2onnx converter of OrdinalEncoder: each category replaced by its fitted index."""
    from skl2onnx.common.data_types import StringTensorType

    encoder = operator.raw_operator
    if not isinstance(operator.inputs[0].type, StringTensorType):
        raise NotImplementedError("an OrdinalEncoder compiles on string inputs only")
    if encoder.handle_unknown != "use_encoded_value" or is_nan(float(encoder.unknown_value)):
        raise NotImplementedError(
            "an OrdinalEncoder compiles with handle_unknown='use_encoded_value' and an integer "
            f"unknown_value, got {encoder.handle_unknown!r}, {encoder.unknown_value!r}"
        )
    source = _concat_inputs(scope, operator, container)
    codes = []
    for index in range(len(encoder.categories_)):
        keys = _string_categories(encoder, index)
        if encoder._infrequent_enabled:
            # Infrequent categories share one code (sklearn's own mapping table).
            values = encoder._default_to_infrequent_mappings[index]
        else:
            values = None
        values = np.arange(len(keys)) if values is None else np.asarray(values)
        column = scope.get_unique_variable_name("ordinal_column")
        container.add_node(
            "Gather", [source, _int64s(scope, container, "ordinal_idx", [index])], [column], axis=1
        )
        code = scope.get_unique_variable_name("ordinal_code")
        container.add_node(
            "LabelEncoder",
            [column],
            [code],
            op_domain="ai.onnx.ml",
            op_version=2,
            keys_strings=keys,
            values_int64s=[int(v) for v in values],
            default_int64=int(encoder.unknown_value),
        )
        codes.append(code)
    joined = scope.get_unique_variable_name("ordinal_codes")
    container.add_node("Concat", codes, [joined], axis=1)
    container.add_node("Cast", [joined], [operator.outputs[0].full_name], to=TensorProto.DOUBLE)


def _int64s(scope, container, seed: str, values) -> str:
    name = scope.get_unique_variable_name(seed)
    values = [int(v) for v in values]
    container.add_initializer(name, TensorProto.INT64, [len(values)], values)
    return name
