"""Comparing a reproduction with its record (pure): one row per fact, and the report.

Tolerance: data hashes and the config hash must be equal; metrics may differ by at most
``METRIC_TOLERANCE`` (absolute); predictions by at most ``PREDICTION_TOLERANCE`` per row (the
fingerprint, a SHA-256 of the float64 bytes, says whether they are bit-identical, which they are
on the same machine and lock file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METRIC_TOLERANCE = 1e-6
PREDICTION_TOLERANCE = 1e-6
# Metrics a run logs that measure the machine, not the model: never compared.
TIMING_METRICS = frozenset({"fit_seconds"})
# Metrics the evaluation step logs onto the training run afterwards (the gate's baseline and the
# champion of that moment, `twelve.training.evaluation_step`): not the training's output, and the
# reproduction re-runs the training only. Never compared.
EVALUATION_PREFIX = "eval_"
# Manifest entries that must be equal (the reproduced run's own ids, time stamps differ).
COMPARED_MANIFEST_KEYS = (
    "git_commit",
    "training_set_md5",
    "holdout_md5",
    "raw_inputs",
    "feature_service",
    "config_hash",
    "uv_lock_sha256",
)
REPRODUCES_TAG = "twelve.reproduces"
VERDICT_TAG = "twelve.reproduction_verdict"
MATCH, DIFFERS, CANNOT_RUN = "match", "differs", "cannot run"


class ReproductionError(RuntimeError):
    """The run cannot be reproduced at all (no such run, no manifest): a usage problem."""


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side comparison."""

    name: str
    recorded: str
    reproduced: str
    matches: bool
    note: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a reproduction, as it is printed: what, its verdict, how long it took."""

    name: str
    verdict: str  # "ok" | "DIFF" | "FAILED" | "SKIPPED"
    seconds: float
    detail: str = ""

    def line(self) -> str:
        """``<name>: <verdict> in <s> s (<detail>)``."""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.name}: {self.verdict} in {self.seconds:.1f} s{detail}"


@dataclass
class Outcome:
    """Everything a reproduction found: blocking problems, the comparison, the steps, the time.

    ``problems`` are facts that differ (exit 1); ``blockers`` facts that stop a reproduction
    before anything can be compared (a data version stored nowhere, a commit not in the
    repository: exit 2).
    """

    run_id: str
    problems: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    reproduced_run_id: str = ""
    logged_run_id: str = ""

    @property
    def matched(self) -> bool:
        """True only when nothing differs: no problem and every row matches."""
        return (
            not self.problems
            and not self.blockers
            and bool(self.rows)
            and all(row.matches for row in self.rows)
        )

    @property
    def verdict(self) -> str:
        """``match``, ``differs`` or ``cannot run``."""
        if self.blockers:
            return CANNOT_RUN
        return MATCH if self.matched else DIFFERS

    def differing(self) -> list[str]:
        """What differs or blocks, one clear sentence each (the first is the first found)."""
        return [*self.blockers, *self.problems] + [
            f"{row.name}: recorded {row.recorded}, reproduced {row.reproduced}"
            + (f" ({row.note})" if row.note else "")
            for row in self.rows
            if not row.matches
        ]


# -------------------------------------------------------------------------------- pure checks
def environment_note(recorded: Mapping[str, Any], current_lock_sha256: str) -> str | None:
    """How the environment differs from the run's, and how to get the run's (pure).

    Args:
        recorded: the run's manifest.
        current_lock_sha256: SHA-256 of the ``uv.lock`` the running environment was synced from.

    Returns:
        A sentence, or None when the lock files are the same.
    """
    recorded_lock = recorded.get("uv_lock_sha256")
    if recorded_lock == current_lock_sha256:
        return None
    commit = str(recorded.get("git_commit", "COMMIT"))[:12]
    return (
        f"the installed environment differs from the run's: uv.lock sha256 {recorded_lock} "
        f"recorded, {current_lock_sha256} installed; get the run's with `git checkout {commit} "
        "&& uv sync --locked --all-packages`, or pass --isolated-env to build it in a temporary "
        "venv from the run's uv.lock"
    )


def check_manifest(recorded: Mapping[str, Any]) -> list[str]:
    """Manifest entries missing for a reproduction (pure): each is named."""
    needed = ("git_commit", "training_set_md5", "holdout_md5", "raw_inputs", "config")
    return [f"the run manifest has no '{key}'" for key in needed if not recorded.get(key)]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, dict):
        return f"{len(value)} file(s)"
    text = str(value)
    # Hashes longer than an md5 (commit, lock file) are shown by their first 16 characters.
    return text[:16] + "..." if len(text) > 32 else text


def compare_manifests(recorded: Mapping[str, Any], reproduced: Mapping[str, Any]) -> list[Row]:
    """One row per compared manifest entry; raw inputs differing are named file by file (pure)."""
    rows = []
    for key in COMPARED_MANIFEST_KEYS:
        before, after = recorded.get(key), reproduced.get(key)
        note = ""
        if key == "raw_inputs" and before != after:
            before, after = before or {}, after or {}
            names = sorted(
                name for name in set(before) | set(after) if before.get(name) != after.get(name)
            )
            note = "differing: " + ", ".join(names)
        rows.append(Row(key, _fmt(before), _fmt(after), before == after, note))
    return rows


def compare_metrics(
    recorded: Mapping[str, float],
    reproduced: Mapping[str, float],
    names: Sequence[str] | None = None,
    tolerance: float = METRIC_TOLERANCE,
) -> list[Row]:
    """One row per metric the original run recorded: equal within ``tolerance`` (pure).

    Timings and the evaluation step's metrics (logged later, not re-run) are left out.
    """
    rows = []
    compared = {m for m in recorded if not m.startswith(EVALUATION_PREFIX)} - TIMING_METRICS
    for name in names if names is not None else sorted(compared):
        if name not in recorded:
            continue
        before = float(recorded[name])
        if name not in reproduced:
            rows.append(Row(name, _fmt(before), "missing", False, "not logged by the reproduction"))
            continue
        after = float(reproduced[name])
        delta = abs(after - before)
        rows.append(
            Row(
                name,
                _fmt(before),
                _fmt(after),
                bool(delta <= tolerance),
                "" if delta == 0 else f"|delta| {delta:.2e}, tolerance {tolerance:.0e}",
            )
        )
    return rows


def fingerprint(proba) -> str:
    """SHA-256 of predicted probabilities as little-endian float64 (bit-identical or not)."""
    values = np.ascontiguousarray(np.asarray(proba, dtype="<f8"))
    return hashlib.sha256(values.tobytes()).hexdigest()


def compare_predictions(recorded, reproduced, tolerance: float = PREDICTION_TOLERANCE) -> Row:
    """The two models' holdout predictions: fingerprints, and the largest difference (pure)."""
    before, after = np.asarray(recorded, dtype="float64"), np.asarray(reproduced, dtype="float64")
    if before.shape != after.shape:
        return Row(
            "holdout predictions",
            f"{before.shape[0]} rows",
            f"{after.shape[0]} rows",
            False,
            "not the same number of holdout rows",
        )
    worst = float(np.max(np.abs(before - after))) if len(before) else 0.0
    same = fingerprint(before) == fingerprint(after)
    note = "bit-identical" if same else f"max |delta p| {worst:.2e}, tolerance {tolerance:.0e}"
    return Row(
        "holdout predictions",
        fingerprint(before)[:16],
        fingerprint(after)[:16],
        same or worst <= tolerance,
        note,
    )


def format_report(outcome: Outcome) -> str:
    """The side-by-side report a user reads (pure)."""
    lines = [f"reproduction of run {outcome.run_id}"]
    lines += [f"  {step.line()}" for step in outcome.steps]
    if outcome.rows:
        width = max(len(row.name) for row in outcome.rows)
        cell = max(12, *(len(row.recorded) for row in outcome.rows))
        lines.append(f"  {'':{width}}  {'recorded':{cell}}  reproduced")
        for row in outcome.rows:
            mark = "ok  " if row.matches else "DIFF"
            note = f"  ({row.note})" if row.note else ""
            lines.append(
                f"  {row.name:{width}}  {row.recorded:{cell}}  {row.reproduced}  {mark}{note}"
            )
    for warning in outcome.warnings:
        lines.append(f"  warning: {warning}")
    if outcome.seconds:
        lines.append(
            "  time: "
            + ", ".join(f"{name} {value:.1f} s" for name, value in outcome.seconds.items())
        )
    if outcome.matched:
        lines.append(
            f"MATCH: rebuilt from raw data, the training set and holdout have their recorded md5, "
            f"metrics within {METRIC_TOLERANCE:.0e}, predictions within "
            f"{PREDICTION_TOLERANCE:.0e}, the config identical"
        )
    elif outcome.blockers:
        lines.append("CANNOT RUN:")
        lines += [f"  - {sentence}" for sentence in outcome.blockers]
    else:
        first, *others = outcome.differing()
        lines.append(f"MISMATCH: {first}")
        lines += [f"  - {sentence}" for sentence in others]
    return "\n".join(lines)
