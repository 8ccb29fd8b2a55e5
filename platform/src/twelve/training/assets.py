"""The training block's assets (factors 4, 7 and 10): thin decorators over the steps.

``holdout_set`` -> per pipeline ``trained_model<suffix>`` -> ``model_evaluation<suffix>``
(blocking gate checks) -> ``model_alias<suffix>``; the ``leaderboard`` after every evaluation.
Every key carries the project's asset prefix; every asset is tagged with its role (and its
pipeline), by which jobs and the retraining sensor find them in any project. The work is in
``train_step``, ``evaluation_step``, ``alias_step`` and ``leaderboard_step``, imported when an
asset runs: building the definitions loads neither scikit-learn nor matplotlib.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.

import dagster as dg

from twelve.core import tags
from twelve.core.config import config_annotation
from twelve.data.versioning import DvcResource
from twelve.training import promotion
from twelve.training.block import (
    HOLDOUT_SET,
    LEADERBOARD,
    MODEL_ALIAS,
    MODEL_EVALUATION,
    TRAINED_MODEL,
    TRAINING_SET,
    TrainingBlock,
)
from twelve.training.config import (
    EvaluationConfig,
    HoldoutConfig,
    PipelineSpec,
    PromotionConfig,
    TrainingConfig,
)
from twelve.training.tracking import MlflowResource


def _role(role: str, spec: PipelineSpec | None = None) -> dict[str, str]:
    found = tags.role(role)
    return found if spec is None else {**found, tags.PIPELINE: spec.name}


def gate_check_specs(block: TrainingBlock, spec: PipelineSpec) -> list[dg.AssetCheckSpec]:
    """The two blocking checks of a pipeline's evaluation."""
    key, metric = block.key(MODEL_EVALUATION, spec), block.metric.name
    return [
        dg.AssetCheckSpec(
            promotion.BEATS_BASELINE,
            asset=key,
            blocking=True,
            description=f"The candidate's {metric} beats the naive baseline's.",
        ),
        dg.AssetCheckSpec(
            promotion.MEETS_REQUIRED_SCORE,
            asset=key,
            blocking=True,
            description=f"The candidate's {metric} meets the configured required_score.",
        ),
    ]


def holdout_asset(block: TrainingBlock, config_class: type[HoldoutConfig]) -> dg.AssetsDefinition:
    """``holdout_set``: the training set's rows of the holdout month, versioned with DVC."""
    project = block.project
    period, label = project.contract.period.name, project.contract.label.name

    @dg.asset(
        key=block.key(HOLDOUT_SET),
        deps=[block.key(TRAINING_SET)],
        group_name=block.group,
        code_version="1",
        kinds={"parquet", "dvc"},
        tags=_role(tags.HOLDOUT),
    )
    @config_annotation(config_class)
    def holdout_set(
        context: dg.AssetExecutionContext, config: HoldoutConfig, dvc: DvcResource
    ) -> dg.MaterializeResult:
        """The rows of the training set in the holdout month.

        The one data set every model is scored on.

        Written to `training/holdout.parquet` and versioned with DVC; its md5 is the data
        version, goes into every run manifest, and lets the evaluation read back exactly this
        version even after the file has been replaced.
        """
        from twelve.core.files import write_parquet
        from twelve.training import inputs
        from twelve.training.modeling import rows_of_months

        frame = inputs.read_parquet(project.training_set_path(), "the training set")
        holdout = rows_of_months(frame, [config.month], column=period)
        path = write_parquet(holdout, project.holdout_path())
        md5 = inputs.track(dvc, path)
        labels = block.scoring.labels(holdout, label)
        context.log.info("holdout %s: %d rows, md5 %s", config.month, len(holdout), md5)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(md5),
            metadata={
                "dvc_md5": md5,
                "month": config.month,
                "rows": len(holdout),
                "label_mean": round(float(labels.mean()), 4),
                "path": dg.MetadataValue.path(str(path)),
            },
        )

    return holdout_set


def _who(block: TrainingBlock, spec: PipelineSpec) -> str:
    return f"'{spec.name}' pipeline ({spec.estimator}, registered model `{spec.registered_model}`)"


def model_asset(
    block: TrainingBlock, spec: PipelineSpec, config_class: type[TrainingConfig]
) -> dg.AssetsDefinition:
    """``trained_model<suffix>``: the pipeline fitted, tracked in MLflow, registered."""

    @dg.asset(
        key=block.key(TRAINED_MODEL, spec),
        deps=[block.key(TRAINING_SET), block.key(HOLDOUT_SET)],
        group_name=block.group,
        code_version="1",
        kinds={"scikitlearn", "mlflow"},
        tags=_role(tags.TRAINED_MODEL, spec),
        description=f"""The model of the {_who(block, spec)}: a scikit-learn Pipeline (imputation,
encoding, scaling where needed, then the configured estimator) fitted on the training months,
registered in MLflow.

Every run is tracked automatically: params, holdout metrics ({block.metric.name} first), plots
and feature importance, the holdout predictions (for the leaderboard and `twelve reproduce`), the
training set and the holdout as MLflow datasets (digest = DVC md5), the model with its signature
and an input example, and the run manifest (git commit and dirty flag, DVC md5 of every raw
input, training-set and holdout hashes, feature service, config hash, uv.lock hash, Dagster run
id) as `twelve.*` tags and `manifest.json`. Every data version is in the DVC cache and remote
before the model is registered, so any run can be reproduced from its manifest. If anything
fails after the version was created, the version is deleted and the run marked failed.""",
    )
    @config_annotation(config_class)
    def trained_model(
        context: dg.AssetExecutionContext,
        config: TrainingConfig,
        mlflow: MlflowResource,
        dvc: DvcResource,
    ) -> dg.MaterializeResult:
        from twelve.training import train_step

        return train_step.train(context, config, mlflow, dvc, block, spec)

    return trained_model


def evaluation_asset(
    block: TrainingBlock, spec: PipelineSpec, config_class: type[EvaluationConfig]
) -> dg.AssetsDefinition:
    """``model_evaluation<suffix>``: the newest version, the baseline and the champion scored."""
    baseline = (
        f"the `{block.baseline_column}` column" if block.baseline_column else "the label mean"
    )
    direction = "at least" if block.metric.higher_is_better else "at most"

    @dg.asset(
        key=block.key(MODEL_EVALUATION, spec),
        deps=[block.key(TRAINED_MODEL, spec), block.key(HOLDOUT_SET)],
        group_name=block.group,
        code_version="1",
        kinds={"mlflow"},
        tags=_role(tags.MODEL_EVALUATION, spec),
        check_specs=gate_check_specs(block, spec),
        description=f"""The newest model version of the {_who(block, spec)} scored on the
versioned holdout, next to the naive baseline and the current champion scored on the same holdout.

The version is loaded back from the MLflow registry (what will be served is what is evaluated).
Blocking checks: its {block.metric.name} must beat the naive baseline ({baseline}) and be
{direction} the configured `required_score`; if either fails,
`{block.key(MODEL_ALIAS, spec).to_user_string()}` does not run and every alias stays where it
was. The outcome is also recorded on the model version (`twelve.gate`) and its run.""",
    )
    @config_annotation(config_class)
    def model_evaluation(
        context: dg.AssetExecutionContext,
        config: EvaluationConfig,
        mlflow: MlflowResource,
        dvc: DvcResource,
    ) -> dg.MaterializeResult:
        from twelve.training import evaluation_step

        return evaluation_step.evaluate(context, config, mlflow, dvc, block, spec)

    return model_evaluation


def alias_asset(
    block: TrainingBlock, spec: PipelineSpec, config_class: type[PromotionConfig]
) -> dg.AssetsDefinition:
    """``model_alias<suffix>``: champion or challenger in the registry, by the promotion rule."""
    better = "higher" if block.metric.higher_is_better else "lower"

    @dg.asset(
        key=block.key(MODEL_ALIAS, spec),
        deps=[block.key(MODEL_EVALUATION, spec)],
        group_name=block.group,
        code_version="1",
        kinds={"mlflow"},
        tags=_role(tags.MODEL_ALIAS, spec),
        description=f"""The gate's outcome in the registry for the {_who(block, spec)}: the
evaluated version becomes `champion` when there is none yet, or when its {block.metric.name}
({better} is better) beats the current champion's, both scored on the same holdout, by the
configured `promotion_margin`; otherwise `challenger`.

Runs only when the evaluation's blocking checks passed; the decision is made again from the
evaluation's measurements (so running this asset alone cannot promote a refused model), and a
refused model leaves every alias as it was. The decision, the scores and the margin are in the
metadata and in the version's tags (`twelve.promotion`, `twelve.promotion_reason`).""",
    )
    @config_annotation(config_class)
    def model_alias(
        context: dg.AssetExecutionContext, config: PromotionConfig, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        from twelve.training import alias_step

        return alias_step.alias(context, config, mlflow, block, spec)

    return model_alias


def leaderboard_asset(block: TrainingBlock) -> dg.AssetsDefinition:
    """``leaderboard``: every run of the project ranked per holdout version."""
    metric = block.metric.name

    @dg.asset(
        key=block.key(LEADERBOARD),
        deps=[block.key(MODEL_EVALUATION, spec) for spec in block.pipelines],
        group_name=block.group,
        code_version="1",
        kinds={"mlflow", "html"},
        description=f"""Leaderboard: every training run of the project, ranked by {metric} only
against runs scored on the same holdout version (the current holdout first; runs on another
holdout shown apart).

Each row carries the run's data and code versions (training-set md5, git commit, config hash).
The self-contained HTML report is written under TWELVE_HOME/reports/leaderboard/ and logged to
MLflow (experiment `<experiment>_leaderboard`).""",
    )
    def leaderboard(
        context: dg.AssetExecutionContext, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        from twelve.training import leaderboard_step

        return leaderboard_step.rank(context, mlflow, block)

    return leaderboard
