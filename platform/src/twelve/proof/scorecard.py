"""The audit's verdicts: one row per factor (pass / warn / fail, with its evidence), and the card.

Kept apart from the rules and the gathering so that the CLI, the HTML page and the tests read one
shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"
FACTORS = (
    (1, "versioning", "Versioning of code and data"),
    (2, "features", "Explicit feature dependencies"),
    (3, "config", "Descriptive code, config apart"),
    (4, "reproducibility", "Reproducible training"),
    (5, "testing", "Testing"),
    (6, "drift", "Drift and continuous training"),
    (7, "tracking", "Experiment tracking"),
    (8, "reports", "Experiments in pipelines (a report per data version)"),
    (9, "skew", "Training-serving skew"),
    (10, "comparability", "Comparability"),
    (11, "monitoring", "Monitoring"),
    (12, "deployability", "Deployability"),
)
# Where to look next when a factor is not a pass: the command or store that holds its evidence.
NEXT_STEPS = {
    "versioning": "`dvc push` from the machine that made the data; `git fetch` for the commit",
    "features": "rebuild the bento from the champion (`twelve run`), check `feast apply`",
    "config": "the champion's manifest.json in MLflow, and the project's TrainingConfig",
    "reproducibility": "`twelve reproduce champion --project <project>`",
    "testing": "`make test` on the champion's commit, or `twelve audit --run-tests`",
    # `make demo-drift` shows the loop in its own environment (.twelve/replay/), not this one.
    "drift": "`twelve run <project> --sensor` (the sensor evaluated once, its drift checks run), "
    "or the Dagster daemon running the `drift_retraining` sensor (`make ui`)",
    "tracking": "the champion's run in the MLflow UI (`make mlflow-ui`)",
    "reports": "the training-set profile and report assets in the Dagster UI",
    "skew": "`twelve serve <project> --check` (serves the holdout), or real traffic",
    "comparability": "the leaderboard asset, and each pipeline's holdout_md5 tag",
    "monitoring": "`twelve serve <project> --check` (serves the holdout), or real traffic",
    "deployability": "the bento asset (`twelve run`), and `bentoml list`",
}


@dataclass(frozen=True)
class Verdict:
    """What a rule returns: a status and the evidence lines that justify it."""

    status: str
    evidence: list[str]


@dataclass(frozen=True)
class Row:
    """One factor's verdict."""

    number: int
    key: str
    title: str
    status: str
    evidence: list[str]


@dataclass
class Scorecard:
    """The twelve rows of a project, and the notes of what could not be read."""

    project: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    page: str = ""  # the HTML page, once written

    @property
    def failed(self) -> list[Row]:
        """The failing rows."""
        return [row for row in self.rows if row.status == FAIL]

    @property
    def warned(self) -> list[Row]:
        """The rows with a warning."""
        return [row for row in self.rows if row.status == WARN]

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        return {status: sum(r.status == status for r in self.rows) for status in (PASS, WARN, FAIL)}

    def next_steps(self) -> list[str]:
        """Where to look next, one line per factor that is not a pass (failures first)."""
        rows = self.failed + self.warned
        return [
            f"{row.number}. {row.key}: {NEXT_STEPS[row.key].replace('<project>', self.project)}"
            for row in rows
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with a count per status."""
        return {
            "project": self.project,
            "counts": self.counts(),
            "rows": [asdict(r) for r in self.rows],
            "next": self.next_steps(),
            "notes": self.notes,
            "page": self.page,
        }

    def text(self) -> str:
        """The scorecard as text: a line per factor, its evidence below, then where to look."""
        lines = [f"twelve-factor audit of {self.project}"]
        for row in self.rows:
            lines.append(f"{row.number:>2}. [{row.status.upper():4}] {row.title}")
            lines += [f"      - {item}" for item in row.evidence]
        counts = self.counts()
        lines.append(f"{counts[PASS]} pass, {counts[WARN]} warn, {counts[FAIL]} fail")
        if self.next_steps():
            lines.append("where to look next:")
            lines += [f"  {step}" for step in self.next_steps()]
        if self.page:
            lines.append(f"evidence page: {self.page}")
        return "\n".join(lines)
