"""pytest fixtures shared by the platform's and every project's tests (a pytest plugin).

Registered from the root ``conftest.py`` with ``pytest_plugins = ["twelve.testing"]``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from twelve.core.environment import OFFLINE_ENV


@dataclass
class TwelveEnv:
    """A throw-away twelve environment: a git+DVC repository, data and state roots."""

    root: Path
    repo: Path
    data_dir: Path
    home: Path
    remote: Path

    def dvc(self):
        """A DvcResource bound to this environment's repository and remote."""
        from twelve.data.versioning import DvcResource

        return DvcResource(repo_dir=str(self.repo), remote_url=str(self.remote))


@pytest.fixture
def twelve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TwelveEnv:
    """A throw-away twelve environment for one test (see ``make_twelve_env``)."""
    return make_twelve_env(tmp_path, monkeypatch)


def make_twelve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TwelveEnv:
    """Point TWELVE_HOME, TWELVE_DATA_DIR, DAGSTER_HOME and BENTOML_HOME at a temporary tree.

    The repository is a fresh ``git init`` (DVC is initialised in it on first use), so nothing a
    test writes reaches the real checkout.
    """
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = TwelveEnv(
        root=tmp_path,
        repo=repo,
        data_dir=repo / "data",
        home=tmp_path / "home",
        remote=tmp_path / "dvc-remote",
    )
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TWELVE_HOME", str(env.home))
    monkeypatch.setenv("TWELVE_DATA_DIR", str(env.data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(env.home / "dagster_home"))
    monkeypatch.setenv("BENTOML_HOME", str(env.home / "bentoml"))
    (env.home / "dagster_home").mkdir(parents=True)
    (env.home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def stores(package: str) -> SimpleNamespace:
    """A project's stores as attributes (``stores("flight_delays").mlflow``), for tests and scripts.

    The instances the project's ``defs/`` resolve (``twelve.core.resources.project_resources``),
    for the active profile and environment.
    """
    from twelve.core.project import Project
    from twelve.core.resources import project_resources

    return SimpleNamespace(**project_resources(Project.of_package(package)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (``twelve.deploy.bento_server.free_port``)."""
    from twelve.deploy.bento_server import free_port as bento_free_port

    return bento_free_port()


# ------------------------------------------------------------------------------ test evidence
# What `twelve audit` reads for factor 5 (twelve.proof.testing_evidence): per project and commit,
# the outcome of every test under projects/<name>/ and every parity check made with `parity`.
_PARITY = pytest.StashKey[list]()
_OUTCOMES = pytest.StashKey[dict]()
_HOME = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Remember where records go now: tests point TWELVE_HOME at throw-away folders later."""
    import os

    from twelve.core.paths import REPO_ROOT

    config.stash[_PARITY] = []
    config.stash[_OUTCOMES] = {}
    config.stash[_HOME] = os.environ.get("TWELVE_HOME") or str(REPO_ROOT / ".twelve")


def _project_of(path: Path) -> tuple[str, Path] | None:
    """``(name, folder)`` of the project a test file belongs to (``projects/<name>/...``)."""
    parts = path.resolve().parts
    if "projects" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("projects")
    if index + 1 >= len(parts) - 1:
        return None
    return parts[index + 1], Path(*parts[: index + 2])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record each test's outcome (a failed setup or teardown fails the test)."""
    config = _CONFIG.get("config")
    if config is None:
        return
    outcomes = config.stash[_OUTCOMES]
    decisive = report.when == "call" or report.outcome == "failed" or report.skipped
    if decisive and outcomes.get(report.nodeid) != "failed":
        outcomes[report.nodeid] = report.outcome


_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Keep the config at hand for the report hook (reports do not always carry it)."""
    _CONFIG["config"] = session.config


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the record of every project whose tests (or parity checks) ran in this session."""
    from twelve.proof.testing_evidence import RecordedTests, git_state, write_record

    config = session.config
    outcomes, parity = config.stash[_OUTCOMES], config.stash[_PARITY]
    records: dict[str, RecordedTests] = {}

    def record_of(name: str, folder: Path) -> RecordedTests:
        if name not in records:
            commit, dirty = git_state(folder)
            records[name] = RecordedTests(project=name, commit=commit, dirty=dirty)
        return records[name]

    for nodeid, outcome in outcomes.items():
        found = _project_of(Path(config.rootpath) / nodeid.split("::")[0])
        if found is not None:
            record_of(*found).outcomes[nodeid] = outcome
    for check in parity:
        record = record_of(check.project, Path(config.rootpath))
        record.parity.append(check)
        record.outcomes.setdefault(check.test, outcomes.get(check.test, "failed"))
    for record in records.values():
        if record.commit:
            write_record(Path(config.stash[_HOME]), record)


@pytest.fixture
def parity(request: pytest.FixtureRequest):
    """``parity(project, served, offline, tolerance=1e-9)``: served answers equal offline ones.

    Asserts that a served model gave the offline evaluation's answers, row by row, and records
    it as the project's parity evidence.
    """
    from twelve.proof.testing_evidence import check_parity

    def check(project: str, served, offline, tolerance: float = 1e-9):
        result = check_parity(project, request.node.nodeid, served, offline, tolerance)
        request.config.stash[_PARITY].append(result)
        return result

    return check
