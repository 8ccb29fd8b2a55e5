"""What a user of the repository expects around the code: a CI workflow GitHub accepts and git
hooks that run offline. Both are checked here with the locked tools, without network: every
subprocess gets a dead proxy, so a download attempt fails instead of passing by luck.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
PRE_COMMIT_CONFIG = REPO / ".pre-commit-config.yaml"
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "commit.gpgsign=false"]


def offline_env(**extra: str) -> dict[str, str]:
    """The environment with every HTTP(S) request (requests, git, pip) sent to a closed port."""
    dead = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "ALL_PROXY": dead}
    env.update({key.lower(): value for key, value in env.items() if key.endswith("_PROXY")})
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    return {**env, **extra}


# ------------------------------------------------------------------- the GitHub Actions workflow
def validate_workflow(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema against its vendored GitHub workflow schema, then its timeout rule."""
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        completed = subprocess.run(
            [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=offline_env(),
        )
        if completed.returncode != 0:
            return completed
    return completed


def test_the_ci_workflow_is_valid_against_githubs_schema_offline():
    completed = validate_workflow(WORKFLOW)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "validation done" in completed.stdout


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda w: w["jobs"]["test"].pop("runs-on"), "runs-on"),
        (lambda w: w["jobs"]["test"].update({"timeout-minutes": "ninety"}), "ninety"),
        (lambda w: w["jobs"]["test"]["steps"].append({"name": "nothing to do"}), "steps"),
        (lambda w: w["jobs"]["test"].pop("timeout-minutes"), "timeout-minutes"),
    ],
    ids=["no-runner", "timeout-not-a-number", "step-without-run-or-uses", "no-timeout"],
)
def test_a_broken_workflow_fails_the_validation(tmp_path, breakage, expected):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    breakage(workflow)
    broken = tmp_path / "ci.yml"
    # PyYAML reads the key `on` as True: write it back under its name.
    workflow = {("on" if key is True else key): value for key, value in workflow.items()}
    broken.write_text(yaml.safe_dump(workflow, sort_keys=False))
    completed = validate_workflow(broken)
    assert completed.returncode != 0
    assert expected in completed.stdout + completed.stderr


def test_ci_runs_the_same_script_as_the_gate_within_its_budget():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["test"]
    assert job["runs-on"].startswith("ubuntu")
    assert job["timeout-minutes"] == 90
    assert "3.11" in job["container"]["image"]
    assert "github.ref" in workflow["concurrency"]["group"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "bash .ci/run" in runs
    installs = next(run for run in runs if "apt-get install" in run)
    for package in ("chromium", "postgresql", "redis-server", "podman", "runc", "debootstrap"):
        assert package in installs.split()
    (cache,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/cache")]
    assert cache["with"]["path"] == job["env"]["UV_CACHE_DIR"]
    assert "hashFiles('uv.lock')" in cache["with"]["key"]


# ---------------------------------------------------------------------------- pre-commit hooks
def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "pre-commit"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        env=offline_env(PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home")),
    )


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *GIT_ID, *args], capture_output=True, text=True, check=True
    ).stdout


def make_repo(repo: Path) -> None:
    """A git repository with this config, whose `.venv` is the locked one (the hooks' tools)."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")
    (repo / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    (repo / ".git" / "info" / "exclude").write_text(".venv\n")  # a link: `.venv/` misses it
    shutil.copyfile(PRE_COMMIT_CONFIG, repo / ".pre-commit-config.yaml")


def test_the_pre_commit_config_is_valid():
    completed = pre_commit(REPO, "validate-config", str(PRE_COMMIT_CONFIG))
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_hooks_fix_whitespace_and_formatting_offline(tmp_path):
    repo = tmp_path / "repo"
    make_repo(repo)
    (repo / "notes.txt").write_text("trailing spaces   \nand a tab\t\n")
    (repo / "no_newline.yaml").write_text("key: value")
    (repo / "module.py").write_text("x=1\n")
    (repo / "README.md").write_text("a hard line break  \nkept\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "dirty files")

    first = pre_commit(repo, "run", "--all-files")
    assert first.returncode == 1, first.stdout + first.stderr  # files were modified
    assert (repo / "notes.txt").read_text() == "trailing spaces\nand a tab\n"
    assert (repo / "no_newline.yaml").read_text() == "key: value\n"
    assert (repo / "module.py").read_text() == "x = 1\n"
    assert (repo / "README.md").read_text() == "a hard line break  \nkept\n"
    git(repo, "add", "-A")
    second = pre_commit(repo, "run", "--all-files")
    assert second.returncode == 0, second.stdout + second.stderr


@pytest.mark.parametrize(
    ("name", "content", "hook"),
    [
        ("broken.yaml", "key: [unclosed\n", "check yaml"),
        ("broken.toml", "key = = 1\n", "check toml"),
        ("merge.txt", "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n", "merge conflict"),
    ],
)
def test_the_hooks_refuse_broken_files(tmp_path, name, content, hook):
    repo = tmp_path / "repo"
    make_repo(repo)
    (repo / name).write_text(content)
    git(repo, "add", "-A")
    # check-merge-conflict looks only while a merge is in progress (as git marks one).
    (repo / ".git" / "MERGE_HEAD").write_text("0" * 40 + "\n")
    (repo / ".git" / "MERGE_MSG").write_text("Merge branch 'branch'\n")
    completed = pre_commit(repo, "run", "--files", name)
    assert completed.returncode == 1
    failed = [line for line in completed.stdout.splitlines() if line.endswith("Failed")]
    assert len(failed) == 1, completed.stdout
    assert hook in failed[0], completed.stdout


def test_the_tree_passes_its_own_hooks(tmp_path):
    """A copy of the tree (tracked and new files, as `git add -A` would stage them) is clean."""
    repo = tmp_path / "tree"
    make_repo(repo)
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = REPO / relative
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the work tree
        target = repo / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "the tree")

    completed = pre_commit(repo, "run", "--all-files")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert git(repo, "status", "--porcelain") == ""
