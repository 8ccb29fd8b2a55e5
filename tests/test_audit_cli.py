"""`twelve audit`: exit codes, --json, --strict, the HTML page, and the commands' wiring."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.audit_support import good_evidence
from twelve.cli.commands import audit as audit_command
from twelve.proof import audit, audit_page, rules
from twelve.proof.scorecard import FAIL, WARN

FAKE_PROJECT = Path(__file__).parent / "fixtures" / "audit" / "fake" / "projects" / "demo"


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    audit_command.register(parser.add_subparsers())
    args = parser.parse_args(["audit", *argv])
    return args.func(args)


def test_a_project_never_trained_fails_with_json_and_a_page(twelve_env, capsys):
    code = _run(str(FAKE_PROJECT), "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["project"] == "demo"
    assert len(data["rows"]) == 12
    by_key = {row["key"]: row for row in data["rows"]}
    assert by_key["tracking"]["status"] == FAIL
    assert "holds the champion alias" in by_key["tracking"]["evidence"][0]
    assert data["next"][0].startswith("1. versioning")
    page = Path(data["page"])
    assert page == twelve_env.home / "audit" / "demo.html"
    assert page.is_file()


def test_an_unknown_project_cannot_be_audited():
    from twelve.cli.main import UsageError

    with pytest.raises(UsageError, match="no project"):
        _run("no_such_project")


def test_a_folder_that_is_not_a_project_cannot_be_audited(tmp_path):
    with pytest.raises(audit.CannotAudit, match=r"\[tool\.twelve\]"):
        audit.audit(tmp_path)


@pytest.mark.parametrize(("strict", "expected"), [(False, 0), (True, 1)])
def test_strict_turns_a_warning_into_a_failing_exit_code(monkeypatch, twelve_env, strict, expected):
    evidence = good_evidence()
    evidence.reproductions = []  # never reproduced: a warning
    card = rules.score(evidence)
    assert card.warned
    assert not card.failed
    monkeypatch.setattr(audit, "audit", lambda project_dir: card)
    assert _run(str(FAKE_PROJECT), *(["--strict"] if strict else [])) == expected


def test_the_text_names_the_evidence_and_where_to_look_next():
    evidence = good_evidence()
    evidence.reproductions = []
    text = rules.score(evidence).text()
    assert " 4. [WARN] Reproducible training" in text
    assert "never reproduced: `twelve reproduce run1`" in text
    hint = f"`twelve reproduce champion --project {evidence.project}`"
    assert f"where to look next:\n  4. reproducibility: {hint}" in text


def test_the_page_is_self_contained_and_shows_every_factor(tmp_path):
    evidence = good_evidence()
    evidence.bento.model_hash = "<script>"  # evidence is escaped, never markup
    card = rules.score(evidence)
    path = audit_page.write_page(card, tmp_path)
    page = path.read_text()
    assert path == tmp_path / "audit" / "demo.html"
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert page.count('<tr id="') == 12
    assert f'<span class="status {FAIL}">FAIL</span>' in page  # deployability
    assert WARN in page


def test_run_tests_targets_the_project_tests_and_the_parity_tests_naming_it():
    from twelve.core import paths

    targets = audit_command.test_targets(
        paths.REPO_ROOT / "projects" / "flight_delays", paths.REPO_ROOT
    )
    assert targets[0].endswith("projects/flight_delays/tests")
    assert any(t.endswith("tests/test_serving_bento.py") for t in targets)
