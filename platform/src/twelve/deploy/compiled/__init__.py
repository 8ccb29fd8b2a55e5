"""A compiled form of a fitted model ``Pipeline``: the same predictions, microseconds per call.

Modules: :mod:`.model` runs a compiled model (numpy and onnxruntime only: what a bento
imports), :mod:`.build` compiles a pipeline (skl2onnx, with the converters of :mod:`.converters`
and :mod:`.estimators`), :mod:`.parity` compares the two. Nothing is imported here.

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
