"""What the stores say about a project's champion: the plain facts ``twelve audit`` judges.

:func:`twelve.proof.gather.gather` reads them from the run state (MLflow, DVC, the Feast
registry, BentoML's store, the Dagster instance, the test records, the reproductions, the profile
and report stores); the rules of :mod:`twelve.proof.rules` judge them without touching any store,
so a test builds an ``Evidence`` by hand (or gathers one from throw-away stores) and checks a rule.

``None`` means "not read" (the source was unreachable, or there was nothing to read it for: no
champion); an empty list means "read, and nothing is there". Each ``notes`` entry says why
something could not be read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from twelve.proof.testing_evidence import RecordedTests


@dataclass(frozen=True)
class DataVersion:
    """One data version the champion was made from, and where DVC holds it."""

    name: str  # "raw flights/2013-03.parquet", "training set", "holdout"
    md5: str
    in_cache: bool
    in_remote: bool


@dataclass(frozen=True)
class Reproduction:
    """A recorded ``twelve reproduce`` of a run (a run of ``<experiment>_reproductions``)."""

    run_id: str
    verdict: str  # "match", "mismatch", "cannot run"...
    first_difference: str = ""


@dataclass(frozen=True)
class DriftCheck:
    """One materialization of the project's ``month_drift`` check."""

    month: str
    verdict: str
    timestamp: float


@dataclass(frozen=True)
class Arrival:
    """The newest arrived data version: an arrival asset's latest materialization."""

    asset: str
    month: str
    data_version: str
    timestamp: float


@dataclass(frozen=True)
class ServedProfile:
    """A whylogs profile a bento wrote of what it served (its sidecar's facts)."""

    file: str
    rows: int
    bento_tag: str
    reference_version: str
    columns: tuple[str, ...] = ()


@dataclass
class BentoFacts:
    """The bento that serves the champion, read from BentoML's store."""

    tag: str
    model_tag: str
    dockerfile: bool
    contract_columns: list[tuple[str, str]] = field(default_factory=list)  # (name, dtype)
    model_hash: str = ""  # joblib.hash of the pipeline inside the bento's model
    registered_hash: str = ""  # joblib.hash of the registered MLflow model
    image: str = ""  # the OCI image built from it (`twelve image`), from the version's tags
    image_id: str = ""


@dataclass
class Evidence:
    """Everything the rules judge, per source. See the module doc for None vs empty."""

    project: str
    registered_model: str = ""
    feature_service: str = ""
    # MLflow: the champion and its run
    champion_version: str | None = None
    run_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    trained_columns: list[tuple[str, str]] | None = None  # the MLflow model's input signature
    holdouts_by_pipeline: dict[str, str] = field(default_factory=dict)
    reproductions: list[Reproduction] | None = None
    # git
    commit_exists: bool | None = None
    # the champion's run config reloaded into the project's Config class ("" = it reloads)
    config_error: str | None = None
    # DVC
    data_versions: list[DataVersion] | None = None
    # Feast registry: the feature services it holds
    registry_services: list[str] | None = None
    # BentoML
    bento: BentoFacts | None = None
    # Dagster instance
    newest_arrival: Arrival | None = None
    drift_checks: list[DriftCheck] | None = None
    sensor_ticks: dict[str, int] | None = None  # tick status -> count
    sensor_runs: int = 0  # runs the retraining sensor launched
    # test records of the champion's commit
    tests: RecordedTests | None = None
    # profile and report stores
    training_set_profiled: bool = False
    training_set_report: bool = False
    served_profiles: list[ServedProfile] | None = None
    # serving profiles the last serving-window check found (None: it never ran)
    serving_skew_profiles: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def commit(self) -> str:
        """The champion's git commit ('' when unknown)."""
        return str(self.recorded.get("git_commit") or "")

    @property
    def recorded(self) -> dict[str, Any]:
        """The champion's manifest, empty when there is no champion (rules check that first)."""
        return self.manifest or {}

    def missing_data(self) -> list[DataVersion]:
        """The champion's data versions the DVC remote does not hold."""
        return [version for version in self.data_versions or [] if not version.in_remote]

    def unrecoverable_data(self) -> list[DataVersion]:
        """Data versions in neither the remote nor the cache: nothing can restore them."""
        return [v for v in self.data_versions or [] if not (v.in_remote or v.in_cache)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``twelve audit --json``)."""
        return asdict(self)
