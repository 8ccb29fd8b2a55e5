"""Training and evaluation (factors 4, 10): a model per training-set version, a blocking gate."""

import json

import dagster as dg
import joblib
import pandas as pd

from {{ cookiecutter.name }} import modeling
from {{ cookiecutter.name }}.config import EvaluationConfig, TrainingConfig
from {{ cookiecutter.name }}.paths import (
    ASSET_PREFIX,
    asset_key,
    models_dir,
    training_set_path,
)


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("training_set")],
    group_name="training",
    kinds={"scikitlearn"},
    code_version="1",
)
def trained_model(
    context: dg.AssetExecutionContext, config: TrainingConfig
) -> dg.MaterializeResult:
    """A gradient-boosting model fitted on the older events of the training set.

    Saved in this project's models folder under TWELVE_HOME, with its config and scores.
    """
    frame = pd.read_parquet(training_set_path())
    train, holdout = modeling.split_by_time(frame, config.holdout_share)
    model = modeling.fit(
        train,
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        random_state=config.random_state,
    )
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    facts = {
        "metric": modeling.METRIC,
        "holdout_score": modeling.score(model, holdout),
        "baseline_score": modeling.baseline_score(train, holdout),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "config": config.model_dump(),
    }
    (folder / "model.json").write_text(json.dumps(facts, indent=2))
    context.log.info("trained model: %s", facts)
    metadata = {key: value for key, value in facts.items() if key != "config"}
    metadata["config"] = dg.MetadataValue.json(facts["config"])
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("trained_model")],
    group_name="training",
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec("beats_baseline", asset=asset_key("model_evaluation"), blocking=True)
    ],
)
def model_evaluation(config: EvaluationConfig) -> dg.MaterializeResult:
    """The model's holdout score against the feature-blind baseline (a blocking check)."""
    facts = json.loads((models_dir() / "model.json").read_text())
    passed = modeling.beats_baseline(
        facts["holdout_score"], facts["baseline_score"], config.min_margin_over_baseline
    )
    return dg.MaterializeResult(
        metadata={k: facts[k] for k in ("metric", "holdout_score", "baseline_score")},
        check_results=[
            dg.AssetCheckResult(
                check_name="beats_baseline",
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"margin": config.min_margin_over_baseline},
            )
        ],
    )


def defs() -> dg.Definitions:
    """Training and evaluation assets."""
    return dg.Definitions(assets=[trained_model, model_evaluation])
