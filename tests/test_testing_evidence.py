"""The evidence of factor 5: which tests of a project ran on which commit, and its parity checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twelve.proof.testing_evidence import (
    ParityCheck,
    RecordedTests,
    check_parity,
    read_record,
    record_path,
    write_record,
)


def test_a_parity_check_names_the_worst_row_and_refuses_nothing_compared():
    check = check_parity("demo", "t::x", [0.1, 0.2, 0.3], [0.1, 0.2 + 1e-12, 0.3], 1e-9)
    assert (check.rows, check.max_abs_difference <= 1e-9) == (3, True)
    with pytest.raises(AssertionError, match=r"row 1: served 0\.25, offline 0\.2 "):
        check_parity("demo", "t::x", [0.1, 0.25], [0.1, 0.2], 1e-9)
    with pytest.raises(AssertionError, match="parity of nothing proves nothing"):
        check_parity("demo", "t::x", [], [], 1e-9)
    with pytest.raises(AssertionError, match="answered 1 rows, the offline evaluation 2"):
        check_parity("demo", "t::x", [0.1], [0.1, 0.2], 1e-9)


def test_records_of_the_same_commit_merge_and_only_passing_parity_counts(tmp_path):
    first = RecordedTests("demo", "c" * 40, False, {"a": "passed", "p": "failed"})
    first.parity.append(ParityCheck("demo", "p", 10, 0.0, 1e-9))
    write_record(tmp_path, first)
    second = RecordedTests("demo", "c" * 40, False, {"b": "passed"})
    write_record(tmp_path, second)
    merged = read_record(record_path(tmp_path, "demo", "c" * 40))
    assert merged.outcomes == {"a": "passed", "b": "passed", "p": "failed"}
    assert merged.failed == ["p"]
    assert merged.passed == 2
    assert merged.passing_parity() == []  # its test failed: no evidence


PROJECT_TEST = """
def test_plain():
    assert 1 + 1 == 2


def test_served_equals_offline(parity):
    parity("demo", [0.1, 0.2], [0.1, 0.2])


def test_served_differs(parity):
    parity("demo", [0.1, 0.3], [0.1, 0.2])
"""


def test_a_session_writes_the_record_of_each_project_it_tested(tmp_path):
    """A real pytest session with the plugin, in a git repository of a project."""
    repo = tmp_path / "repo"
    tests = repo / "projects" / "demo" / "tests"
    tests.mkdir(parents=True)
    (repo / "conftest.py").write_text('pytest_plugins = ["twelve.testing"]\n')
    (tests / "test_demo.py").write_text(PROJECT_TEST)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "demo"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "projects"],
        cwd=repo,
        env={**os.environ, "TWELVE_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stdout  # one test fails on purpose
    saved = json.loads(record_path(home, "demo", commit.strip()).read_text())
    assert saved["commit"] == commit.strip()
    assert saved["dirty"] is False
    assert saved["outcomes"] == {
        "projects/demo/tests/test_demo.py::test_plain": "passed",
        "projects/demo/tests/test_demo.py::test_served_equals_offline": "passed",
        "projects/demo/tests/test_demo.py::test_served_differs": "failed",
    }
    record = read_record(Path(record_path(home, "demo", commit.strip())))
    assert [check.test for check in record.passing_parity()] == [
        "projects/demo/tests/test_demo.py::test_served_equals_offline"
    ]
