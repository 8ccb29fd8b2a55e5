"""What the retraining sensor reads (pure): new data versions and evidence for retraining.

The evidence is in the monthly checks' and the serving window's metadata.

The metadata names are the writers' (``month_drift``: ``verdict``, ``drift_event``,
``drifted_features``, ``scores``, ``p_values``, ``reference_version``; ``month_performance``:
``verdict``, ``performance_event``, ``metric``, ``score``, ``required_score``, ``model``;
``serving_skew``: ``verdict``, ``skew_event``, ``serving_window``, ``model_version``, ...).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

TAG_PREFIX = "twelve/"


@dataclass(frozen=True)
class DataVersionSeen:
    """A new data version of a month of an arriving raw source."""

    storage_id: int
    partition: str
    data_version: str


@dataclass(frozen=True)
class Finding:
    """A result of ``month_drift``, ``month_performance`` or ``serving_skew``."""

    storage_id: int
    partition: str
    metadata: dict[str, Any]

    @property
    def month(self) -> str:
        """The month it concerns (its metadata's, else its partition's)."""
        return str(self.metadata.get("month", self.partition[:7]))


@dataclass(frozen=True)
class Evidence:
    """Why a retraining is wanted: one event of one kind, with what shows it."""

    kind: str  # "drift" | "performance" | "serving_drift"
    event: str
    window: str  # the month, or the serving window
    month: str  # the labelled month it concerns ('' for serving evidence)
    features: list[str]
    scores: dict[str, float]
    p_values: dict[str, float]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the cursor while it waits)."""
        return asdict(self)


def drift_evidence(finding: Finding) -> Evidence | None:
    """The evidence of a ``month_drift`` result, None unless its verdict is ``drift``."""
    metadata = finding.metadata
    if metadata.get("verdict") != "drift":
        return None
    return Evidence(
        kind="drift",
        event=f"drift:{metadata['drift_event']}",
        window=finding.month,
        month=finding.month,
        features=list(metadata.get("drifted_features") or []),
        scores=dict(metadata.get("scores") or {}),
        p_values=dict(metadata.get("p_values") or {}),
        detail=f"reference {metadata.get('reference_version', '')}",
    )


def performance_evidence(finding: Finding) -> Evidence | None:
    """The evidence of a ``month_performance`` result, None unless its verdict is ``below``."""
    metadata = finding.metadata
    if metadata.get("verdict") != "below":
        return None
    metric, score = str(metadata["metric"]), float(metadata["score"])
    return Evidence(
        kind="performance",
        event=f"performance:{metadata['performance_event']}",
        window=finding.month,
        month=finding.month,
        features=[],
        scores={metric: score},
        p_values={},
        detail=(
            f"{metadata.get('model', 'the champion')} {metric} {metadata['score']} worse than "
            f"the required {metadata.get('required_score')}"
        ),
    )


def serving_evidence(finding: Finding) -> Evidence | None:
    """The evidence of a ``serving_skew`` window, None unless its verdict is ``drift``."""
    metadata = finding.metadata
    if metadata.get("verdict") != "drift" or "skew_event" not in metadata:
        return None
    return Evidence(
        kind="serving_drift",
        event=f"serving:{metadata['skew_event']}",
        window=str(metadata.get("serving_window", "")),
        month="",
        features=list(metadata.get("drifted_features") or []),
        scores=dict(metadata.get("scores") or {}),
        p_values=dict(metadata.get("p_values") or {}),
        detail=f"served model {metadata.get('model_version', '')}",
    )


def _tag_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def evidence_tags(evidence: list[Evidence], pending: dict[str, str]) -> dict[str, str]:
    """The run tags of a retraining: why it was started (all values are strings).

    The first drift evidence (else the first of any kind) gives the ``drift_*`` tags; every
    piece is listed in ``twelve/evidence``.
    """
    lead = next((e for e in evidence if e.kind == "drift"), evidence[0])
    kinds = sorted({e.kind for e in evidence})
    return {
        f"{TAG_PREFIX}trigger": ",".join(kinds),
        f"{TAG_PREFIX}events": ",".join(e.event for e in evidence),
        f"{TAG_PREFIX}drift_event": lead.event,
        f"{TAG_PREFIX}drift_window": lead.window,
        f"{TAG_PREFIX}drift_features": ",".join(lead.features),
        f"{TAG_PREFIX}drift_scores": _tag_json(lead.scores),
        f"{TAG_PREFIX}drift_p_values": _tag_json(lead.p_values),
        f"{TAG_PREFIX}drift_reference": lead.detail,
        f"{TAG_PREFIX}evidence": _tag_json([e.to_dict() for e in evidence]),
        f"{TAG_PREFIX}new_data_versions": _tag_json(pending),
    }
