"""pytest fixtures shared by the platform's and every project's tests (a pytest plugin).

Registered from the root ``conftest.py`` with ``pytest_plugins = ["twelve.testing"]``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (``twelve.deploy.bento_server.free_port``)."""
    from twelve.deploy.bento_server import free_port as bento_free_port

    return bento_free_port()
