"""What every rule of the audit shares.

The worst of several statuses, and the verdict of a factor that needs a champion when there is
none.
"""

from __future__ import annotations

from twelve.proof.evidence import Evidence
from twelve.proof.scorecard import FAIL, PASS, WARN, Verdict


def worst(*statuses: str) -> str:
    """The worst of the statuses (fail over warn over pass; none is a pass)."""
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


def no_champion(evidence: Evidence) -> Verdict | None:
    """The verdict of a factor that needs a champion when there is none (else None)."""
    if evidence.run_id is None:
        return Verdict(
            FAIL,
            [
                f"no version of {evidence.registered_model or evidence.project} holds the "
                "champion alias: there is no served model to judge",
                *evidence.notes,
            ],
        )
    if evidence.manifest is None:
        return Verdict(FAIL, [f"the champion's run {evidence.run_id} has no manifest.json"])
    return None
