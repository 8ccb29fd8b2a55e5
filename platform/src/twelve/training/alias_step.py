"""The work of a pipeline's ``model_alias`` asset: the promotion rule applied in the registry.

The decision is made again from the evaluation's measurements (``twelve.training.promotion``),
so materializing this asset alone cannot promote a model the gate refused; a refused model
leaves every alias as it was. The decision and its reason are tagged on the model version
(``twelve.promotion``, ``twelve.promotion_reason``).
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from twelve.training import inputs, promotion
from twelve.training.block import MODEL_EVALUATION, TrainingBlock
from twelve.training.config import PipelineSpec, PromotionConfig
from twelve.training.tracking import MlflowResource

# What the evaluation must have recorded for the rule to be applied.
_NEEDED = ("registered_model", "model_version", "metric", "required_score", "candidate_metrics",
           "baseline_metrics", "champion_version")  # fmt: skip


def _json(value: Any) -> dict[str, float]:
    return value if isinstance(value, dict) else json.loads(value)


def evaluated_from(metadata: dict[str, Any], metric: str) -> promotion.Evaluated:
    """The evaluation's measurements, at full precision, from its metadata (pure)."""
    champion = metadata.get("champion_metrics")
    version = str(metadata.get("champion_version", "none"))
    return promotion.Evaluated(
        score=promotion.score_of(_json(metadata["candidate_metrics"]), metric, "candidate"),
        baseline_score=promotion.score_of(_json(metadata["baseline_metrics"]), metric, "baseline"),
        required_score=float(metadata["required_score"]),
        champion_score=(
            None if champion is None else promotion.score_of(_json(champion), metric, "champion")
        ),
        champion_version=None if version == "none" else version,
    )


def alias(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    mlflow: MlflowResource,
    block: TrainingBlock,
    spec: PipelineSpec,
) -> dg.MaterializeResult:
    """Give the evaluated version ``champion`` or ``challenger``, or refuse it."""
    key = block.key(MODEL_EVALUATION, spec)
    evaluated = inputs.latest_metadata(context, key)
    for name in _NEEDED:
        inputs.fact(evaluated, name, key)
    name, version = evaluated["registered_model"], str(evaluated["model_version"])
    before = mlflow.aliases_of(name)
    held = sorted(alias for alias, holder in before.items() if str(holder) == version)
    if held:
        context.log.info("%s v%s already holds %s: nothing to change", name, version, held)
        return dg.MaterializeResult(
            metadata={
                "registered_model": name,
                "model_version": version,
                "alias": ", ".join(held),
                "changed": False,
                "aliases": dg.MetadataValue.json(before),
            }
        )
    metric = block.metric
    measured = evaluated_from(evaluated, metric.name)
    current = before.get(promotion.CHAMPION)
    decision = promotion.decide(
        metric, measured, None if current is None else str(current), config.promotion_margin
    )
    if not decision.passed:
        raise dg.Failure(
            description=f"{name} v{version} gets no alias:\n" + "\n".join(decision.reasons)
        )
    assert decision.alias is not None  # a passed decision names its alias
    mlflow.set_alias(name, decision.alias, version)
    client = mlflow.client()
    client.set_model_version_tag(name, version, "twelve.promotion", decision.decision)
    client.set_model_version_tag(name, version, "twelve.promotion_reason", decision.reason)
    after = mlflow.aliases_of(name)
    context.log.info(
        "%s v%s is now %s (%s: %s)", name, version, decision.alias, decision.decision,
        decision.reason,
    )  # fmt: skip
    return dg.MaterializeResult(
        metadata=_metadata(name, version, metric.name, measured, decision, config)
        | {
            "champion_before": "none" if current is None else str(current),
            "aliases_before": dg.MetadataValue.json(before),
            "aliases": dg.MetadataValue.json(after),
        }
    )


def _metadata(
    name: str,
    version: str,
    metric: str,
    measured: promotion.Evaluated,
    decision: promotion.Promotion,
    config: PromotionConfig,
) -> dict[str, Any]:
    return {
        "registered_model": name,
        "model_version": version,
        "alias": decision.alias,
        "changed": True,
        "decision": decision.decision,
        "metric": metric,
        "score": round(measured.score, 4),
        "baseline_score": round(measured.baseline_score, 4),
        "required_score": measured.required_score,
        # Only when there was a champion: a numeric series in the UI stays numeric.
        **(
            {"champion_score": round(measured.champion_score, 4)}
            if measured.champion_score is not None
            else {}
        ),
        "champion_version": measured.champion_version or "none",
        "promotion_margin": config.promotion_margin,
        "reasons": dg.MetadataValue.md("\n".join(f"- {line}" for line in decision.reasons)),
    }
