"""The one promotion rule (factors 6 and 10): the gate, then champion or challenger.

A candidate scored on the versioned holdout gets an alias only through :func:`decide`:

1. **the gate**: it must beat the naive baseline and meet the required score (both on that
   holdout). A candidate that fails gets no alias, and every alias stays where it was;
2. **the promotion**: it becomes ``champion`` when there is none yet ("first champion"), or when
   it beats the current champion, scored by the evaluation on the same holdout, by at least the
   margin ("promoted"); otherwise it is ``challenger`` ("kept challenger"), also when the
   champion changed since the evaluation (the scores compared would not be the current
   champion's).

The metric's direction comes from the project: higher is better for ROC AUC (``candidate >=
champion + margin``), lower for an error such as RMSE (``candidate <= champion - margin``).
Pure functions, no MLflow or Dagster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# The registry aliases a candidate can get.
CHAMPION, CHALLENGER = "champion", "challenger"
# Names of the gate's checks: the Dagster asset checks of each model_evaluation carry them.
BEATS_BASELINE = "beats_naive_baseline"
MEETS_REQUIRED_SCORE = "meets_required_score"
FIRST_CHAMPION, PROMOTED, KEPT_CHALLENGER = "first champion", "promoted", "kept challenger"


@dataclass(frozen=True)
class Metric:
    """The metric models are ranked and gated by, and which way is better."""

    name: str
    higher_is_better: bool

    def beats(self, score: float, other: float) -> bool:
        """Strictly better than ``other`` (a NaN on either side is never better)."""
        if math.isnan(score) or math.isnan(other):
            return False
        return score > other if self.higher_is_better else score < other

    def reaches(self, score: float, required: float) -> bool:
        """At least as good as ``required`` (NaN never reaches anything)."""
        if math.isnan(score):
            return False
        return score >= required if self.higher_is_better else score <= required

    def needed_to_promote(self, champion: float, margin: float) -> float:
        """The score a challenger needs to take the champion's place."""
        return champion + margin if self.higher_is_better else champion - margin


def metric_of(problem_type: str) -> Metric:
    """The primary metric of a problem type: ROC AUC (higher is better) or RMSE (lower is)."""
    if problem_type == "classification":
        return Metric("roc_auc", higher_is_better=True)
    if problem_type == "regression":
        return Metric("rmse", higher_is_better=False)
    raise ValueError(f"problem type {problem_type!r} is not classification or regression")


def score_of(metrics: Mapping[str, float], metric: str, whose: str) -> float:
    """The ``metric`` of a set of metrics (the candidate's, the baseline's, the champion's).

    Raises:
        KeyError: the metric is missing (the message says whose metrics and what they hold).
    """
    if metric not in metrics:
        raise KeyError(f"the {whose} metrics have no '{metric}' (keys: {sorted(metrics)})")
    return float(metrics[metric])


@dataclass(frozen=True)
class GateCheck:
    """One criterion of the gate, as a Dagster asset check reports it."""

    name: str
    passed: bool
    description: str


def gate_checks(
    metric: Metric, score: float, baseline_score: float, required_score: float
) -> list[GateCheck]:
    """The gate: the candidate beats the naive baseline and meets the required score.

    Args:
        metric: the project's metric.
        score: the candidate's score on the holdout.
        baseline_score: the naive baseline's score on the same holdout.
        required_score: the configured ``required_score``.

    Returns:
        One ``GateCheck`` per criterion, in a fixed order.
    """
    beats = metric.beats(score, baseline_score)
    meets = metric.reaches(score, required_score)
    better, worse = (">", "<=") if metric.higher_is_better else ("<", ">=")
    reach, miss = (">=", "<") if metric.higher_is_better else ("<=", ">")
    return [
        GateCheck(
            BEATS_BASELINE,
            beats,
            f"{metric.name} {score:.4f} {better if beats else worse} naive baseline "
            f"{baseline_score:.4f}",
        ),
        GateCheck(
            MEETS_REQUIRED_SCORE,
            meets,
            f"{metric.name} {score:.4f} {reach if meets else miss} required {required_score:.4f}",
        ),
    ]


@dataclass(frozen=True)
class Promotion:
    """Whether a candidate gets an alias, which one, and why.

    Attributes:
        alias: ``champion``, ``challenger``, or None (refused by the gate).
        decision: ``first champion`` | ``promoted`` | ``kept challenger`` | ``refused``.
        reason: the sentence that explains the decision.
        checks: the gate's checks (empty when only the promotion step was decided).
    """

    alias: str | None
    decision: str
    reason: str
    checks: tuple[GateCheck, ...] = ()

    @property
    def passed(self) -> bool:
        """Whether the candidate passed the gate (it gets an alias)."""
        return self.alias is not None

    @property
    def reasons(self) -> list[str]:
        """One line per gate check, then the decision."""
        lines = [
            f"{'passed' if c.passed else 'FAILED'} {c.name}: {c.description}" for c in self.checks
        ]
        return [*lines, f"{self.decision}: {self.reason}"]


def decide_promotion(
    metric: Metric,
    score: float,
    champion_score: float | None,
    evaluated_against: str | None,
    current_champion: str | None,
    margin: float,
) -> Promotion:
    """The alias of a candidate that passed the gate (pure).

    Args:
        metric: the project's metric.
        score: the candidate's score on the holdout.
        champion_score: the champion's on the same holdout (None: no champion then).
        evaluated_against: the champion version the evaluation scored (None: none).
        current_champion: the version holding ``champion`` now (None: none).
        margin: the configured ``promotion_margin``, in the metric's units.
    """
    if current_champion is None:
        return Promotion(CHAMPION, FIRST_CHAMPION, "there is no champion yet")
    if evaluated_against != current_champion or champion_score is None:
        return Promotion(
            CHALLENGER,
            KEPT_CHALLENGER,
            f"the evaluation scored champion {evaluated_against or 'none'} but the champion is "
            f"now v{current_champion}: re-run model_evaluation to compare with it",
        )
    needed = metric.needed_to_promote(champion_score, margin)
    sign = "+" if metric.higher_is_better else "-"
    against = f"champion v{current_champion} {champion_score:.4f} {sign} margin {margin}"
    if metric.reaches(score, needed):
        reach = ">=" if metric.higher_is_better else "<="
        return Promotion(
            CHAMPION,
            PROMOTED,
            f"{metric.name} {score:.4f} {reach} {against} on the same holdout",
        )
    miss = "<" if metric.higher_is_better else ">"
    return Promotion(
        CHALLENGER,
        KEPT_CHALLENGER,
        f"{metric.name} {score:.4f} {miss} {against} = {needed:.4f} on the same holdout",
    )


@dataclass(frozen=True)
class Evaluated:
    """What a model evaluation measured, all on the same holdout.

    Attributes:
        score: the candidate's score.
        baseline_score: the naive baseline's score.
        required_score: the score the gate required.
        champion_score: the champion's score (None: there was no champion).
        champion_version: the champion version scored (None: none).
    """

    score: float
    baseline_score: float
    required_score: float
    champion_score: float | None = None
    champion_version: str | None = None


def decide(
    metric: Metric, evaluated: Evaluated, current_champion: str | None, margin: float
) -> Promotion:
    """The one promotion rule: the gate, then champion or challenger (pure).

    Args:
        metric: the project's metric.
        evaluated: what the evaluation measured on the holdout.
        current_champion: the version holding ``champion`` now (None: none).
        margin: the configured ``promotion_margin``.

    Returns:
        The promotion; ``alias`` is None when the gate refused the candidate (every alias then
        stays where it was).
    """
    checks = tuple(
        gate_checks(metric, evaluated.score, evaluated.baseline_score, evaluated.required_score)
    )
    if not all(check.passed for check in checks):
        return Promotion(None, "refused", "no alias given: every alias stays as it was", checks)
    promotion = decide_promotion(
        metric,
        evaluated.score,
        evaluated.champion_score,
        evaluated.champion_version,
        current_champion,
        margin,
    )
    return Promotion(promotion.alias, promotion.decision, promotion.reason, checks)
