"""A compiled form of a fitted model ``Pipeline``: the same predictions, microseconds per call.

The served model is the scikit-learn ``Pipeline`` of :func:`twelve.modeling.build_pipeline`.
Calling it costs about 10 ms whatever the number of rows (pandas and per-step validation in the
``ColumnTransformer``, then the estimator): per-call overhead, not model work. This module turns
the *fitted* pipeline, at build time, into an ONNX graph run by onnxruntime with one thread, fed
plain column lists, and checks that it answers what the pipeline answers.

Design, and why:

- **float64 from end to end.** The booster compares float64 values with float64 thresholds and
  logistic regression sums in float64; a float32 graph (skl2onnx's default) flips rows that lie
  near a threshold. Every column enters as a (rows, 1) tensor: strings or float64.
- **skl2onnx for the plumbing, our converters where it is wrong or missing.** skl2onnx converts
  the ``ColumnTransformer`` and the ``StandardScaler`` exactly. The other pieces are not
  converted by it, or not faithfully, and get a converter here, passed per call (nothing is
  registered globally):

  * ``SimpleImputer`` on strings: skl2onnx refuses ``missing_values=None``/``NaN`` ("implemented
    when the missing values are string"), and a string tensor cannot hold None or NaN anyway.
    Missing categories are therefore normalized at the model's boundary by one small function,
    :func:`category_values`, to the imputers' own fill value (``modeling.MISSING_CATEGORY``);
    inside the graph the imputers are then the identity. sklearn's imputers map None and NaN to
    that same value, so the two agree by construction (and the parity tests feed both markers).
  * ``SimpleImputer`` on numbers: skl2onnx ignores ``add_indicator`` (the output would lose the
    missing-indicator columns) and its ``Imputer`` node works in float32. Ours fills with the
    fitted statistics and appends the indicators, in float64.
  * ``OrdinalEncoder`` with infrequent categories (``max_categories``): skl2onnx 1.20 writes a
    malformed ``LabelEncoder`` (fewer keys than values). ``OneHotEncoder`` with infrequent
    categories on a multi-column input: refused. Ours map each string with sklearn's own tables
    (infrequent -> the shared code or column; unknown -> ``unknown_value``, or the infrequent
    column when there is one, else no column), as sklearn does.
  * ``HistGradientBoosting*`` with ``categorical_features``: skl2onnx writes every split as
    ``x <= threshold`` and drops the categorical (bitset) splits, so the booster converts but
    answers wrongly (on real flights: probabilities off by up to 0.65, 127 of 2,000 labels
    flipped). Ours writes the trees as an ``ai.onnx.ml`` ``TreeEnsemble`` (opset 5), whose
    ``BRANCH_MEMBER`` nodes express set membership, and reproduces sklearn's rules for negative
    (unknown, -1) and never-seen category codes and for NaN.
  * ``RandomForestClassifier``: sklearn's trees read ``float32(x)`` and compare it with float64
    thresholds. Fed float64, skl2onnx's forest does not round ``x`` and was off by up to 0.1 on
    real flights; fed float32 it is close (5e-8) but the graph is float64. Ours casts ``x`` to
    float32 and back, then compares in float64: sklearn's own test, exactly.
  * ``DummyClassifier`` (the ``constant`` baseline) has no skl2onnx converter: ours emits its
    class priors.

  ``LogisticRegression`` is written here too (a MatMul, an Add and a Sigmoid in float64), so that
  every estimator ends in the same output: ``probabilities`` (rows x classes) for classifiers,
  ``predictions`` (rows) for regressors.
- **build_pipeline is left as it is.** Every piece converts as fitted, so models already trained
  and registered compile without retraining, and training keeps the exact same semantics.
- **Parity is checked, not assumed.** :func:`require_parity` compares the pipeline and the
  compiled model on real rows and fails naming the worst row; compile at build time, check there,
  and serve the compiled model only when it passed.

Only binary classifiers (the platform's thresholded models) and single-output regressors are
compiled; anything else is refused with the estimator named.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

logger = logging.getLogger(__name__)

OPSETS = {"": 21, "ai.onnx.ml": 5}  # TreeEnsemble with BRANCH_MEMBER needs ai.onnx.ml 5
FEATURES = "twelve_features"  # the preprocessed matrix handed to the estimator's nodes
PROBABILITIES = "probabilities"
PREDICTIONS = "predictions"
_METADATA_KEY = "twelve.compiled"
# ai.onnx.ml TreeEnsemble node modes and aggregate functions (ONNX operator spec).
_BRANCH_LEQ, _BRANCH_MEMBER = 0, 6
_AGGREGATE_SUM = 1
# A membership value no input can take: category codes are integers >= -1.
_NEVER = -0.5
SUPPORTED_ESTIMATORS = (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    LogisticRegression,
    DummyClassifier,
)


class ParityError(AssertionError):
    """The compiled model does not answer what the pipeline answers (the message names a row)."""


@dataclass(frozen=True)
class Parity:
    """How closely a compiled model reproduces its pipeline on some rows.

    Attributes:
        rows: rows compared.
        max_abs_diff: largest absolute difference over all rows and outputs (every class's
            probability for a classifier, the prediction for a regressor).
        worst_row: position (0-based) of the row with that difference.
        expected: the pipeline's value at the worst row (probability of the positive class, or
            the prediction).
        actual: the compiled model's value there.
        label_mismatches: rows whose label at the threshold differs (always 0 for a regressor).
        first_mismatch: position of the first such row, None when there is none.
        threshold: the threshold the labels were taken at (None for a regressor).
    """

    rows: int
    max_abs_diff: float
    worst_row: int
    expected: float
    actual: float
    label_mismatches: int
    first_mismatch: int | None
    threshold: float | None


def category_values(column: str, values: Sequence, missing: str) -> np.ndarray:
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


def numeric_values(column: str, values: Sequence) -> np.ndarray:
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


# --- converters plugged into skl2onnx ------------------------------------------------------------


def _concat_inputs(scope, operator, container) -> str:
    names = [variable.full_name for variable in operator.inputs]
    if len(names) == 1:
        return names[0]
    out = scope.get_unique_variable_name("concat")
    container.add_node("Concat", names, [out], axis=1)
    return out


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _imputer_shape(operator) -> None:
    from skl2onnx.common.data_types import StringTensorType

    imputer = operator.raw_operator
    first = operator.inputs[0]
    width = sum(variable.type.shape[1] for variable in operator.inputs)
    if not isinstance(first.type, StringTensorType):
        width = int(np.count_nonzero(~np.isnan(imputer.statistics_)))
    if imputer.add_indicator:
        width += len(imputer.indicator_.features_)
    operator.outputs[0].type = first.type.__class__([first.get_first_dimension(), width])


def _imputer_convert(scope, operator, container) -> None:
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
    if not _is_nan(imputer.missing_values):
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


def _one_hot_convert(scope, operator, container) -> None:
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


def _encoder_shape(operator) -> None:
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


def _ordinal_convert(scope, operator, container) -> None:
    from skl2onnx.common.data_types import StringTensorType

    encoder = operator.raw_operator
    if not isinstance(operator.inputs[0].type, StringTensorType):
        raise NotImplementedError("an OrdinalEncoder compiles on string inputs only")
    if encoder.handle_unknown != "use_encoded_value" or _is_nan(float(encoder.unknown_value)):
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


# --- the estimator, written as ONNX nodes after the preprocessing --------------------------------


@dataclass
class _Nodes:
    """ONNX nodes and initializers appended after the preprocessing graph."""

    nodes: list
    initializers: list

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def add(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output


@dataclass
class _Ensemble:
    """Trees in the layout of ai.onnx.ml ``TreeEnsemble`` (opset 5), built node by node."""

    roots: list
    features: list
    modes: list
    splits: list
    true_ids: list
    true_leafs: list
    false_ids: list
    false_leafs: list
    missing_true: list
    members: list
    leaf_weights: list

    @classmethod
    def empty(cls) -> _Ensemble:
        return cls(*([] for _ in range(11)))

    def leaf(self, weight: float) -> int:
        self.leaf_weights.append(float(weight))
        return len(self.leaf_weights) - 1

    def node(self, feature: int, mode: int, split: float, missing_true: bool, members=()) -> int:
        self.features.append(int(feature))
        self.modes.append(mode)
        self.splits.append(float(split))
        self.missing_true.append(int(missing_true))
        if mode == _BRANCH_MEMBER:
            self.members.extend([*(float(m) for m in members), math.nan])
        for column in (self.true_ids, self.true_leafs, self.false_ids, self.false_leafs):
            column.append(0)
        return len(self.features) - 1

    def link(self, node: int, branch: bool, child: tuple[bool, int]) -> None:
        is_leaf, index = child
        if branch:
            self.true_ids[node], self.true_leafs[node] = index, int(is_leaf)
        else:
            self.false_ids[node], self.false_leafs[node] = index, int(is_leaf)

    def add_root(self, root: tuple[bool, int]) -> None:
        """Record a finished tree; a single-leaf tree gets a branch whose two sides are it."""
        if root[0]:  # TreeEnsemble trees start at a node, not at a leaf
            node = self.node(0, _BRANCH_LEQ, 0.0, True)
            self.link(node, True, root)
            self.link(node, False, root)
            root = (False, node)
        self.roots.append(root[1])

    def onnx_node(self, source: str, output: str) -> onnx.NodeProto:
        attrs = {
            "n_targets": 1,
            "aggregate_function": _AGGREGATE_SUM,
            "post_transform": 0,
            "tree_roots": self.roots,
            "nodes_featureids": self.features,
            "nodes_modes": numpy_helper.from_array(np.array(self.modes, dtype=np.uint8)),
            "nodes_splits": numpy_helper.from_array(np.array(self.splits, dtype=np.float64)),
            "nodes_truenodeids": self.true_ids,
            "nodes_trueleafs": self.true_leafs,
            "nodes_falsenodeids": self.false_ids,
            "nodes_falseleafs": self.false_leafs,
            "nodes_missing_value_tracks_true": self.missing_true,
            "leaf_targetids": [0] * len(self.leaf_weights),
            "leaf_weights": numpy_helper.from_array(np.array(self.leaf_weights, dtype=np.float64)),
        }
        if self.members:
            attrs["membership_values"] = numpy_helper.from_array(
                np.array(self.members, dtype=np.float64)
            )
        return helper.make_node(
            "TreeEnsemble", [source], [output], name=output, domain="ai.onnx.ml", **attrs
        )


def _add_hgb_tree(ensemble: _Ensemble, predictor, known: np.ndarray, f_idx_map) -> None:
    """One ``TreePredictor`` of a HistGradientBoosting model, categorical splits included.

    sklearn's rule at a categorical node (``_predictor.pyx``): NaN, a negative code (an unknown
    category encoded -1) or a category never seen in training follow the missing direction; a
    code in the node's left bitset goes left; any other known code goes right. So the node
    becomes a set membership whose *true* side is never the missing direction: the left set when
    missing goes right, the right set (known minus left) when missing goes left.
    """
    nodes = predictor.nodes
    raw_bitsets = predictor.raw_left_cat_bitsets

    def visit(index: int) -> tuple[bool, int]:
        node = nodes[index]
        if node["is_leaf"]:
            return (True, ensemble.leaf(node["value"]))
        feature = int(node["feature_idx"])
        missing_left = bool(node["missing_go_to_left"])
        if node["is_categorical"]:
            left = _bitset_members(raw_bitsets[node["bitset_idx"]])
            seen = _bitset_members(known[f_idx_map[feature]])
            right = sorted(set(seen) - set(left))
            members = (right if missing_left else sorted(set(left) & set(seen))) or [_NEVER]
            me = ensemble.node(feature, _BRANCH_MEMBER, 0.0, False, members)
            true_child, false_child = (
                (node["right"], node["left"]) if missing_left else (node["left"], node["right"])
            )
        else:
            me = ensemble.node(feature, _BRANCH_LEQ, node["num_threshold"], missing_left)
            true_child, false_child = node["left"], node["right"]
        ensemble.link(me, True, visit(int(true_child)))
        ensemble.link(me, False, visit(int(false_child)))
        return (False, me)

    ensemble.add_root(visit(0))


def _bitset_members(bitset: np.ndarray) -> list[int]:
    words = np.asarray(bitset, dtype=np.uint32)
    return [
        32 * word + bit for word in range(len(words)) for bit in range(32) if words[word] >> bit & 1
    ]


def _check_hgb_recoding(estimator) -> None:
    """Refuse a booster whose own categorical re-encoding is not the identity.

    Given ``categorical_features``, sklearn's booster re-encodes those columns with an internal
    ``OrdinalEncoder`` (unknown -> NaN) and moves them first. On the pipeline's codes
    (0..k-1, every one seen at fit, categorical columns already first) that is the identity,
    and a code it does not know (-1, or beyond k) becomes NaN, which the trees send the missing
    way, as they do for a code they do not know. Anything else would need the re-encoding in the
    graph, so it is refused rather than compiled wrongly.
    """
    name = type(estimator).__name__
    recoder = estimator._preprocessor
    if recoder is None:
        return
    mask = np.asarray(estimator.is_categorical_, dtype=bool)
    if mask.any() and not (mask[: mask.sum()].all() and not mask[mask.sum() :].any()):
        raise NotImplementedError(f"{name}: the categorical features must be the first columns")
    encoder = recoder.named_transformers_["encoder"]
    for index, categories in enumerate(encoder.categories_):
        values = np.asarray([c for c in categories if not _is_nan(float(c))], dtype=np.float64)
        if not np.array_equal(values, np.arange(len(values))):
            raise NotImplementedError(
                f"{name}: categorical feature {index} holds codes {values[:10].tolist()}...; "
                "compile_pipeline needs the codes 0..k-1 of the pipeline's OrdinalEncoder"
            )


def _hgb_raw(estimator, out: _Nodes) -> str:
    _check_hgb_recoding(estimator)
    if estimator.n_trees_per_iteration_ != 1:
        raise NotImplementedError(
            f"{type(estimator).__name__} with {estimator.n_trees_per_iteration_} trees per "
            "iteration (multi-class) does not compile: binary or regression only"
        )
    known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    ensemble = _Ensemble.empty()
    for (predictor,) in estimator._predictors:
        _add_hgb_tree(ensemble, predictor, known, f_idx_map)
    out.nodes.append(ensemble.onnx_node(FEATURES, "twelve_hgb_sum"))
    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(1, 1)
    return out.add(
        "Add", ["twelve_hgb_sum", out.constant("twelve_hgb_baseline", baseline)], "twelve_hgb_raw"
    )


def _positive_to_probabilities(p1: str, out: _Nodes) -> None:
    # sklearn's binary classifiers return [1 - p, p]: the same subtraction, in float64.
    one = out.constant("twelve_one", np.ones((1, 1), dtype=np.float64))
    p0 = out.add("Sub", [one, p1], "twelve_p_negative")
    out.add("Concat", [p0, p1], PROBABILITIES, axis=1)


def _hgb_classifier(estimator: HistGradientBoostingClassifier, out: _Nodes) -> None:
    raw = _hgb_raw(estimator, out)
    loss = type(estimator._loss).__name__
    if loss != "HalfBinomialLoss":
        raise NotImplementedError(f"HistGradientBoostingClassifier with loss {loss}")
    _positive_to_probabilities(out.add("Sigmoid", [raw], "twelve_p_positive"), out)


def _hgb_regressor(estimator: HistGradientBoostingRegressor, out: _Nodes) -> None:
    raw = _hgb_raw(estimator, out)
    link = type(estimator._loss.link).__name__
    if link == "IdentityLink":
        value = raw
    elif link == "LogLink":  # poisson, gamma
        value = out.add("Exp", [raw], "twelve_hgb_exp")
    else:
        raise NotImplementedError(f"HistGradientBoostingRegressor with link {link}")
    out.add(
        "Reshape", [value, out.constant("twelve_flat", np.array([-1], dtype=np.int64))], PREDICTIONS
    )


def _random_forest(estimator: RandomForestClassifier, out: _Nodes) -> None:
    if estimator.n_outputs_ != 1:
        raise NotImplementedError("a multi-output RandomForestClassifier does not compile")
    weight = 1.0 / len(estimator.estimators_)
    ensemble = _Ensemble.empty()
    for tree in estimator.estimators_:
        t = tree.tree_
        proba = t.value[:, 0, :]
        totals = proba.sum(axis=1)
        totals[totals == 0.0] = 1.0
        positive = proba[:, 1] / totals * weight

        def visit(index: int, t=t, positive=positive) -> tuple[bool, int]:
            if t.children_left[index] == -1:
                return (True, ensemble.leaf(positive[index]))
            me = ensemble.node(
                t.feature[index], _BRANCH_LEQ, t.threshold[index], bool(t.missing_go_to_left[index])
            )
            ensemble.link(me, True, visit(int(t.children_left[index])))
            ensemble.link(me, False, visit(int(t.children_right[index])))
            return (False, me)

        ensemble.add_root(visit(0))
    # sklearn's trees read float32: round x as they do, then compare in float64.
    as_float = out.add("Cast", [FEATURES], "twelve_rf_float32", to=TensorProto.FLOAT)
    as_double = out.add("Cast", [as_float], "twelve_rf_rounded", to=TensorProto.DOUBLE)
    out.nodes.append(ensemble.onnx_node(as_double, "twelve_p_positive"))
    _positive_to_probabilities("twelve_p_positive", out)


def _logistic_regression(estimator: LogisticRegression, out: _Nodes) -> None:
    if estimator.coef_.shape[0] != 1:
        raise NotImplementedError("a multi-class LogisticRegression does not compile")
    coef = np.asarray(estimator.coef_, dtype=np.float64).T  # (features, 1) for a binary model
    intercept = np.asarray(estimator.intercept_, dtype=np.float64).reshape(1, -1)
    product = out.add(
        "MatMul", [FEATURES, out.constant("twelve_lr_coef", coef)], "twelve_lr_product"
    )
    decision = out.add(
        "Add", [product, out.constant("twelve_lr_intercept", intercept)], "twelve_lr_decision"
    )
    _positive_to_probabilities(out.add("Sigmoid", [decision], "twelve_p_positive"), out)


def _dummy(estimator: DummyClassifier, out: _Nodes) -> None:
    if estimator.strategy != "prior":
        raise NotImplementedError(
            f"DummyClassifier with strategy={estimator.strategy!r} does not compile (prior only)"
        )
    if estimator.n_outputs_ != 1:
        raise NotImplementedError("a multi-output DummyClassifier does not compile")
    prior = np.asarray(estimator.class_prior_, dtype=np.float64).reshape(1, -1)
    rows = out.add("Shape", [FEATURES], "twelve_dummy_shape", start=0, end=1)
    width = out.constant("twelve_dummy_width", np.array([prior.shape[1]], dtype=np.int64))
    shape = out.add("Concat", [rows, width], "twelve_dummy_out", axis=0)
    out.add("Expand", [out.constant("twelve_dummy_prior", prior), shape], PROBABILITIES)


_ESTIMATOR_NODES = {
    HistGradientBoostingClassifier: _hgb_classifier,
    HistGradientBoostingRegressor: _hgb_regressor,
    RandomForestClassifier: _random_forest,
    LogisticRegression: _logistic_regression,
    DummyClassifier: _dummy,
}


# --- compile ------------------------------------------------------------------------------------


def _split_pipeline(pipeline: Pipeline) -> tuple[ColumnTransformer, Any]:
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise TypeError(
            "compile_pipeline takes the Pipeline of twelve.modeling.build_pipeline "
            f"(preprocess, estimator), got {pipeline!r}"
        )
    preprocess, estimator = pipeline.steps[0][1], pipeline.steps[-1][1]
    if not isinstance(preprocess, ColumnTransformer):
        raise TypeError(f"the first step must be a ColumnTransformer, got {type(preprocess)!r}")
    if type(estimator) not in _ESTIMATOR_NODES:
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
            covered.add("nan" if _is_nan(step.missing_values) else repr(step.missing_values))
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
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    started = time.perf_counter()
    preprocess, estimator = _split_pipeline(pipeline)
    columns = [str(column) for column in preprocess.feature_names_in_]
    reserved = [c for c in columns if c in (PROBABILITIES, PREDICTIONS) or c.startswith("twelve_")]
    if reserved:
        raise ValueError(f"column name(s) {reserved} are reserved for the compiled graph")
    kinds = _input_kinds(example, columns)
    strings = [column for column in columns if kinds[column] == "string"]
    markers = _missing_markers(preprocess, strings)
    tensor_types = {"string": StringTensorType, "numeric": DoubleTensorType}
    initial_types = [(column, tensor_types[kinds[column]]([None, 1])) for column in columns]
    model = convert_sklearn(
        preprocess,
        initial_types=initial_types,
        target_opset=OPSETS,
        custom_conversion_functions={
            SimpleImputer: _imputer_convert,
            OneHotEncoder: _one_hot_convert,
            OrdinalEncoder: _ordinal_convert,
        },
        custom_shape_calculators={
            SimpleImputer: _imputer_shape,
            OneHotEncoder: _encoder_shape,
            OrdinalEncoder: _encoder_shape,
        },
    )
    graph = model.graph
    (preprocessed,) = graph.output
    if preprocessed.type.tensor_type.elem_type != TensorProto.DOUBLE:
        raise NotImplementedError("the preprocessing did not produce float64 features")
    tail = _Nodes([], [])
    tail.add("Identity", [preprocessed.name], FEATURES)
    _ESTIMATOR_NODES[type(estimator)](estimator, tail)
    graph.node.extend(tail.nodes)
    graph.initializer.extend(tail.initializers)
    del graph.output[:]
    classifier = is_classifier(estimator)
    if classifier:
        output = helper.make_tensor_value_info(PROBABILITIES, TensorProto.DOUBLE, [None, 2])
    else:
        output = helper.make_tensor_value_info(PREDICTIONS, TensorProto.DOUBLE, [None])
    graph.output.append(output)
    # skl2onnx declares the lowest opsets its own nodes need; ours need ai.onnx.ml 5.
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in OPSETS.items())
    metadata = {
        "columns": columns,
        "kinds": kinds,
        "missing": markers,
        "output": output.name,
        "classes": [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
        if classifier
        else None,
        "estimator": type(estimator).__name__,
    }
    helper.set_model_props(model, {_METADATA_KEY: json.dumps(metadata)})
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    logger.info(
        "compiled %s pipeline: %d columns, %d ONNX nodes, %.0f kB in %.2f s",
        metadata["estimator"],
        len(columns),
        len(graph.node),
        len(data) / 1024,
        time.perf_counter() - started,
    )
    return data


# --- run ----------------------------------------------------------------------------------------


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
        if _METADATA_KEY not in props:
            raise ValueError("not a model made by twelve.compiled.compile_pipeline")
        meta = json.loads(props[_METADATA_KEY])
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

    def _feeds(self, columns: Mapping[str, Sequence]) -> dict[str, np.ndarray]:
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

    def _run(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        return self._session.run([self._output], self._feeds(columns))[0]

    def predict_proba(self, columns: Mapping[str, Sequence]) -> np.ndarray:
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

    def predict(self, columns: Mapping[str, Sequence]) -> np.ndarray:
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


# --- parity -------------------------------------------------------------------------------------


def check_parity(
    pipeline: Pipeline, compiled: CompiledModel, frame: pd.DataFrame, threshold: float = 0.5
) -> Parity:
    """Compare the pipeline and its compiled form on every row of ``frame``.

    Args:
        pipeline: the fitted pipeline.
        compiled: its compiled form.
        frame: the pipeline's input rows (as the pipeline is called on them).
        threshold: a row is labelled positive when its probability is >= this (classifiers).

    Returns:
        The largest absolute difference, where it is, and the label disagreements.

    Raises:
        ValueError: an empty frame, or a classifier and a regressor compared.
    """
    if len(frame) == 0:
        raise ValueError("check_parity needs at least one row")
    if compiled.is_classifier != hasattr(pipeline, "predict_proba"):
        raise ValueError(
            f"the pipeline and the compiled {compiled.estimator} are not the same kind of model"
        )
    if compiled.is_classifier:
        expected = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
        actual = compiled.predict_proba_frame(frame)
        positive_expected, positive_actual = expected[:, 1], actual[:, 1]
    else:
        expected = np.asarray(pipeline.predict(frame), dtype=np.float64).reshape(-1, 1)
        actual = compiled.predict_frame(frame).reshape(-1, 1)
        positive_expected, positive_actual = expected[:, 0], actual[:, 0]
    if expected.shape != actual.shape:
        raise ValueError(f"shapes differ: pipeline {expected.shape}, compiled {actual.shape}")
    diff = np.abs(expected - actual)
    # NaN on one side only is the worst difference there is.
    diff[np.isnan(expected) != np.isnan(actual)] = np.inf
    diff[np.isnan(expected) & np.isnan(actual)] = 0.0
    worst = int(np.argmax(diff.max(axis=1)))
    mismatches: np.ndarray = np.array([], dtype=np.int64)
    if compiled.is_classifier:
        mismatches = np.flatnonzero(
            (positive_expected >= threshold) != (positive_actual >= threshold)
        )
    return Parity(
        rows=len(frame),
        max_abs_diff=float(diff.max()),
        worst_row=worst,
        expected=float(positive_expected[worst]),
        actual=float(positive_actual[worst]),
        label_mismatches=len(mismatches),
        first_mismatch=int(mismatches[0]) if len(mismatches) else None,
        threshold=threshold if compiled.is_classifier else None,
    )


def require_parity(
    pipeline: Pipeline,
    compiled: CompiledModel,
    frame: pd.DataFrame,
    threshold: float = 0.5,
    tolerance: float = 1e-5,
) -> Parity:
    """:func:`check_parity`, failing when the compiled model strays from the pipeline.

    Args:
        pipeline: the fitted pipeline.
        compiled: its compiled form.
        frame: the pipeline's input rows.
        threshold: the decision threshold of the labels.
        tolerance: the largest absolute difference of a probability (or prediction) accepted.

    Returns:
        The parity, when within tolerance and every label agrees.

    Raises:
        ParityError: a difference above ``tolerance`` or a label that differs; the message
            names the row and both values.
    """
    parity = check_parity(pipeline, compiled, frame, threshold)
    if parity.max_abs_diff > tolerance:
        raise ParityError(
            f"compiled {compiled.estimator} differs from the pipeline by "
            f"{parity.max_abs_diff:.3g} (> {tolerance:g}) at row {parity.worst_row}: pipeline "
            f"{parity.expected!r}, compiled {parity.actual!r} ({parity.rows} rows compared)"
        )
    if parity.label_mismatches:
        row = parity.first_mismatch
        check = check_parity(pipeline, compiled, frame.iloc[[row]], threshold)
        raise ParityError(
            f"compiled {compiled.estimator} labels {parity.label_mismatches} of {parity.rows} "
            f"rows differently at threshold {threshold}; first at row {row}: pipeline "
            f"{check.expected!r}, compiled {check.actual!r}"
        )
    return parity
