"""Evidence that a project's tests ran, on which commit, and that its served model was right.

That is, it gave the offline answers: what ``twelve audit`` reads for factor 5 instead of test
file names.

The pytest plugin (``twelve.testing``) records, per project and per commit, every test of the
project (under ``projects/<name>/``) with its outcome, and every parity check made with the
``parity`` fixture: the rows a served model scored, compared with the offline evaluation's
answers, and the largest difference. ``make test`` writes the record to
``<TWELVE_HOME>/test-records/<project>/<commit>.json``; ``twelve audit --run-tests`` runs the
project's tests to write it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = "test-records"


@dataclass(frozen=True)
class ParityCheck:
    """One comparison of a served model's answers with the offline evaluation's."""

    project: str
    test: str
    rows: int
    max_abs_difference: float
    tolerance: float


@dataclass
class RecordedTests:
    """The tests of one project on one commit, and their parity checks."""

    project: str
    commit: str
    dirty: bool
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> passed/failed/skipped
    parity: list[ParityCheck] = field(default_factory=list)

    @property
    def passed(self) -> int:
        """Tests that passed."""
        return sum(outcome == "passed" for outcome in self.outcomes.values())

    @property
    def failed(self) -> list[str]:
        """Tests that failed (ids)."""
        return sorted(test for test, outcome in self.outcomes.items() if outcome == "failed")

    def passing_parity(self) -> list[ParityCheck]:
        """Parity checks of tests that passed, over at least one row."""
        return [
            check
            for check in self.parity
            if check.rows > 0 and self.outcomes.get(check.test) == "passed"
        ]


def check_parity(
    project: str, test: str, served: Sequence[float], offline: Sequence[float], tolerance: float
) -> ParityCheck:
    """Compare served and offline answers row by row (pure): the evidence, or an error.

    Raises:
        AssertionError: different row counts, no row, or a difference above ``tolerance``
            (the worst row named).
    """
    served_values = np.asarray(served, dtype="float64")
    offline_values = np.asarray(offline, dtype="float64")
    if served_values.shape != offline_values.shape:
        raise AssertionError(
            f"the served model answered {served_values.shape[0]} rows, the offline evaluation "
            f"{offline_values.shape[0]}"
        )
    if not len(served_values):
        raise AssertionError("no row was compared: parity of nothing proves nothing")
    differences = np.abs(served_values - offline_values)
    worst = int(np.argmax(differences))
    if differences[worst] > tolerance:
        raise AssertionError(
            f"row {worst}: served {float(served_values[worst])!r}, offline "
            f"{float(offline_values[worst])!r} "
            f"(|difference| {differences[worst]:.3g} > tolerance {tolerance:.0e})"
        )
    return ParityCheck(project, test, len(served_values), float(differences[worst]), tolerance)


def git_state(folder: Path) -> tuple[str, bool]:
    """The commit checked out at ``folder`` and whether the work tree has changes ('' if none)."""
    head = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        return "", False
    from twelve.training.manifest import code_changes

    status = subprocess.run(
        ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
    )
    # Dirty as a training run's manifest says it (the same rule: twelve.training.manifest).
    return head.stdout.strip(), bool(code_changes(status.stdout))


def record_path(home: Path, project: str, commit: str) -> Path:
    """``<home>/test-records/<project>/<commit>.json``."""
    return home / FOLDER / project / f"{commit}.json"


def write_record(home: Path, record: RecordedTests) -> Path:
    """Write (or merge into) the record of a project and commit; returns its path.

    Outcomes and parity checks of an earlier session on the same commit are kept unless this
    session ran the same tests again.
    """
    path = record_path(home, record.project, record.commit)
    earlier = read_record(path)
    if earlier is not None:
        record.outcomes = {**earlier.outcomes, **record.outcomes}
        tests = {check.test for check in record.parity}
        record.parity = [c for c in earlier.parity if c.test not in tests] + record.parity
        record.dirty = record.dirty or earlier.dirty
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def read_record(path: Path) -> RecordedTests | None:
    """A record, or None when there is none."""
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    parity = [ParityCheck(**check) for check in data.pop("parity", [])]
    return RecordedTests(**data, parity=parity)
