"""The audit's rules of the served model (factors 9, 11, 12).

What the champion's bento is and what it wrote of the rows it served. Pure, like
:mod:`twelve.proof.rules`, which lists them.
"""

from __future__ import annotations

from twelve.proof.evidence import Evidence
from twelve.proof.rules_common import no_champion
from twelve.proof.scorecard import FAIL, PASS, WARN, Verdict


def _served(evidence: Evidence) -> tuple[list, Verdict | None]:
    """The champion's served profiles, or the verdict when there are none worth reading."""
    profiles = evidence.served_profiles
    if profiles is None:
        return [], Verdict(FAIL, ["the serving profile store could not be read"])
    skew = evidence.serving_skew_profiles
    if not profiles:
        if skew == 0:
            return [], Verdict(
                FAIL,
                [
                    "a serving window was judged with no serving profile: "
                    "the bento serves without profiling"
                ],
            )
        model = evidence.bento.model_tag if evidence.bento else "the champion"
        return [], Verdict(WARN, [f"never served: no profile of {model} in the serving store"])
    if not sum(p.rows for p in profiles):
        return [], Verdict(
            FAIL,
            [
                f"{len(profiles)} serving profile(s), all of 0 rows: the bento "
                "profiles nothing of what it serves"
            ],
        )
    return profiles, None


def skew(evidence: Evidence) -> Verdict:
    """What the champion's bento served was profiled against the champion's training data."""
    if missing := no_champion(evidence):
        return missing
    profiles, verdict = _served(evidence)
    if verdict:
        return verdict
    training = str(evidence.recorded.get("training_set_md5") or "")
    references = sorted({p.reference_version for p in profiles})
    lines = [f"{len(profiles)} serving profile(s) of {sum(p.rows for p in profiles)} rows"]
    if training and training in references:
        return Verdict(PASS, [*lines, f"compared with the training set's profile {training}"])
    return Verdict(
        FAIL,
        [
            *lines,
            f"their reference profile {references} is not the champion's training set "
            f"{training}: served inputs cannot be compared with what it was trained on",
        ],
    )


def monitoring(evidence: Evidence) -> Verdict:
    """The champion's bento profiled what it served (inputs and outputs)."""
    if missing := no_champion(evidence):
        return missing
    profiles, verdict = _served(evidence)
    if verdict:
        return verdict
    newest = max(profiles, key=lambda p: p.file)
    return Verdict(
        PASS,
        [
            f"{len(profiles)} profile(s) of served rows ({sum(p.rows for p in profiles)} rows) "
            f"written by {sorted({p.bento_tag for p in profiles})}",
            f"newest: {newest.file}",
        ],
    )


def deployability(evidence: Evidence) -> Verdict:
    """The champion's bento exists, with its Dockerfile, and carries the registered model."""
    if missing := no_champion(evidence):
        return missing
    bento = evidence.bento
    if bento is None:
        return Verdict(
            FAIL, [f"no bento of the champion v{evidence.champion_version}", *evidence.notes]
        )
    lines = [f"bento {bento.tag} serves {bento.model_tag}"]
    if not bento.dockerfile:
        return Verdict(FAIL, [*lines, "it has no container recipe (env/docker/Dockerfile)"])
    lines.append("with its container recipe (env/docker/Dockerfile)")
    if bento.image:
        lines.append(f"built into the image {bento.image} (id {bento.image_id[:12]})")
    else:
        lines.append("no image built from it yet (`make image`)")
    if not (bento.model_hash and bento.registered_hash):
        return Verdict(WARN, [*lines, "the model inside was not compared with the registered one"])
    if bento.model_hash != bento.registered_hash:
        return Verdict(
            FAIL,
            [
                *lines,
                f"the model inside hashes to {bento.model_hash[:12]}, the "
                f"registered one to {bento.registered_hash[:12]}",
            ],
        )
    return Verdict(
        PASS, [*lines, f"the model inside hashes to the registered one ({bento.model_hash[:12]})"]
    )
