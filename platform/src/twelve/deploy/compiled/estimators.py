"""The estimator written as ONNX nodes after the preprocessing graph (float64 end to end).

One writer per supported estimator (:data:`ESTIMATOR_NODES`); each reads the preprocessed matrix
:data:`FEATURES` and ends in ``probabilities`` (classifiers) or ``predictions`` (regressors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression

from twelve.deploy.compiled.model import PREDICTIONS, PROBABILITIES

FEATURES = "twelve_features"  # the preprocessed matrix handed to the estimator's nodes
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
    DummyRegressor,
)


@dataclass
class Nodes:
    """ONNX nodes and initializers appended after the preprocessing graph."""

    nodes: list
    initializers: list

    def constant(self, name: str, array: np.ndarray) -> str:
        """Add ``array`` as an initializer called ``name``; returns the name."""
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def add(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        """Add an ``op_type`` node whose output (and name) is ``output``; returns the output."""
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

    def node(
        self,
        feature: int,
        mode: int,
        split: float,
        missing_true: bool,
        members: Sequence[float] = (),
    ) -> int:
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
        attrs: dict[str, Any] = {
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
            members: Sequence[float] = (
                right if missing_left else sorted(set(left) & set(seen))
            ) or [_NEVER]
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
        values = np.asarray([c for c in categories if not math.isnan(float(c))], dtype=np.float64)
        if not np.array_equal(values, np.arange(len(values))):
            raise NotImplementedError(
                f"{name}: categorical feature {index} holds codes {values[:10].tolist()}...; "
                "compile_pipeline needs the codes 0..k-1 of the pipeline's OrdinalEncoder"
            )


def _hgb_raw(estimator, out: Nodes) -> str:
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


def _positive_to_probabilities(p1: str, out: Nodes) -> None:
    # sklearn's binary classifiers return [1 - p, p]: the same subtraction, in float64.
    one = out.constant("twelve_one", np.ones((1, 1), dtype=np.float64))
    p0 = out.add("Sub", [one, p1], "twelve_p_negative")
    out.add("Concat", [p0, p1], PROBABILITIES, axis=1)


def _hgb_classifier(estimator: HistGradientBoostingClassifier, out: Nodes) -> None:
    raw = _hgb_raw(estimator, out)
    loss = type(estimator._loss).__name__
    if loss != "HalfBinomialLoss":
        raise NotImplementedError(f"HistGradientBoostingClassifier with loss {loss}")
    _positive_to_probabilities(out.add("Sigmoid", [raw], "twelve_p_positive"), out)


def _hgb_regressor(estimator: HistGradientBoostingRegressor, out: Nodes) -> None:
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


def _random_forest(estimator: RandomForestClassifier, out: Nodes) -> None:
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


def _logistic_regression(estimator: LogisticRegression, out: Nodes) -> None:
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


def _dummy(estimator: DummyClassifier, out: Nodes) -> None:
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


def _dummy_regressor(estimator: DummyRegressor, out: Nodes) -> None:
    """The training mean (or median, quantile, constant: all one fitted value) for every row."""
    constant = np.asarray(estimator.constant_, dtype=np.float64).reshape(-1)
    if constant.size != 1:
        raise NotImplementedError("a multi-output DummyRegressor does not compile")
    rows = out.add("Shape", [FEATURES], "twelve_dummy_rows", start=0, end=1)
    out.add("Expand", [out.constant("twelve_dummy_constant", constant), rows], PREDICTIONS)


ESTIMATOR_NODES = {
    HistGradientBoostingClassifier: _hgb_classifier,
    HistGradientBoostingRegressor: _hgb_regressor,
    RandomForestClassifier: _random_forest,
    LogisticRegression: _logistic_regression,
    DummyClassifier: _dummy,
    DummyRegressor: _dummy_regressor,
}
