"""The project template behind `twelve new` (cookiecutter-data-science / MLOps Stacks style).

Each valid option set is baked once (module scope) into a temporary monorepo root that has what
`twelve new` touches: ``infra/workspace.yaml``, ``feature_repo/.feastignore`` and the root
``pyproject.toml`` (ruff settings the generated project extends). Then: the exact file set, no
template syntax left, ruff clean, registered in the workspace, and the generated project's own
tests pass in a fresh interpreter (the golden path on its sample data for one option). Invalid
inputs are refused with a clear message and leave nothing behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from twelve import scaffold
from twelve.cli import UsageError
from twelve.commands import new as new_command
from twelve.paths import REPO_ROOT

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Bake:
    name: str
    problem_type: str
    entity_keys: str
    run_slow_tests: bool  # the golden path (~30 s) runs for one option only


BAKES = [
    Bake("churn", "classification", "customer_id", run_slow_tests=True),
    # The longest name allowed (32 characters) and several keys: lines must still fit in 100.
    Bake("weekly_demand_forecast_by_store1", "regression", "store_id,product_id", False),
]


def expected_files(name: str) -> set[str]:
    """Every file `twelve new NAME` writes (besides dbt's target/ and logs/), repo-relative."""
    package = f"projects/{name}/src/{name}"
    return {
        f"projects/{name}/pyproject.toml",
        f"projects/{name}/README.md",
        f"projects/{name}/conf/training.yaml",
        f"{package}/__init__.py",
        f"{package}/config.py",
        f"{package}/contract.py",
        f"{package}/dbt_project.py",
        f"{package}/definitions.py",
        f"{package}/modeling.py",
        f"{package}/paths.py",
        f"{package}/resources.py",
        f"{package}/sample_data.py",
        f"{package}/defs/__init__.py",
        f"{package}/defs/dbt.py",
        f"{package}/defs/features.py",
        f"{package}/defs/raw.py",
        f"{package}/defs/training.py",
        f"projects/{name}/dbt/dbt_project.yml",
        f"projects/{name}/dbt/profiles.yml",
        f"projects/{name}/dbt/models/staging/_sources.yml",
        f"projects/{name}/dbt/models/staging/_staging.yml",
        f"projects/{name}/dbt/models/staging/stg_events.sql",
        f"projects/{name}/dbt/models/features/_features.yml",
        f"projects/{name}/dbt/models/features/entity_features.sql",
        f"projects/{name}/dbt/models/features/label_events.sql",
        f"projects/{name}/tests/conftest.py",
        f"projects/{name}/tests/test_contract.py",
        f"projects/{name}/tests/test_definitions.py",
        f"projects/{name}/tests/test_golden_path.py",
        f"projects/{name}/tests/test_modeling.py",
        f"projects/{name}/tests/test_sample_data.py",
        f"feature_repo/{name}/feature_store.yaml",
        f"feature_repo/{name}/{name}_features.py",
        f"bentos/{name}/README.md",
    }


def make_monorepo(root: Path) -> Path:
    """A temporary monorepo root with the shared files `twelve new` reads or appends to."""
    for relative in ("pyproject.toml", "infra/workspace.yaml", "feature_repo/.feastignore"):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / relative, target)
    return root


def run_new(argv: list[str]) -> int:
    """``twelve new ...`` through the command's own parser and handler."""
    parser = argparse.ArgumentParser(prog="twelve")
    new_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["new", *argv])
    return args.func(args)


def generated_files(root: Path, name: str) -> set[str]:
    files = set()
    for part in (f"projects/{name}", f"feature_repo/{name}", f"bentos/{name}"):
        for path in (root / part).rglob("*"):
            relative = path.relative_to(root).as_posix()
            # dbt's own output of the manifest step, and caches of the tools run on the bake.
            if path.is_file() and not any(
                marker in relative
                for marker in ("/dbt/target/", "/dbt/logs/", "__pycache__", ".ruff_cache")
            ):
                files.add(relative)
    return files


@pytest.fixture(scope="module", params=BAKES, ids=[bake.name for bake in BAKES])
def baked(request, tmp_path_factory) -> tuple[Bake, Path]:
    """The template baked with one option set, with its dbt manifest prepared."""
    bake: Bake = request.param
    root = make_monorepo(tmp_path_factory.mktemp(f"bake-{bake.name}"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        # twelve new prepares the manifest with TWELVE_HOME / TWELVE_DATA_DIR: keep them temporary.
        monkeypatch.setenv("TWELVE_HOME", str(root / ".twelve"))
        monkeypatch.setenv("TWELVE_DATA_DIR", str(root / "data"))
        monkeypatch.setenv("DAGSTER_HOME", str(root / ".twelve" / "dagster_home"))
        code = run_new(
            [
                bake.name,
                "--problem-type",
                bake.problem_type,
                "--entity-keys",
                bake.entity_keys,
                "--root",
                str(root),
            ]
        )
    assert code == 0
    return bake, root


@pytest.mark.slow
def test_the_exact_file_set_is_generated(baked):
    bake, root = baked
    assert generated_files(root, bake.name) == expected_files(bake.name)
    assert (root / f"projects/{bake.name}/dbt/target/manifest.json").is_file()


@pytest.mark.slow
def test_no_template_syntax_is_left(baked):
    bake, root = baked
    for relative in generated_files(root, bake.name):
        text = (root / relative).read_text()
        assert "cookiecutter" not in text, relative
        # dbt's own Jinja ({{ ref(...) }}, {{ env_var(...) }}) is meant to stay in the dbt files.
        if "/dbt/" not in relative:
            assert "{{" not in text and "{%" not in text, relative


@pytest.mark.slow
def test_the_generated_code_is_ruff_clean(baked):
    bake, root = baked
    parts = [f"projects/{bake.name}", f"feature_repo/{bake.name}"]
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        completed = subprocess.run(
            [str(BIN / "ruff"), *command, *parts], cwd=root, capture_output=True, text=True
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.slow
def test_the_project_is_registered_next_to_the_existing_ones(baked):
    bake, root = baked
    workspace = yaml.safe_load((root / "infra/workspace.yaml").read_text())
    locations = {
        target["location_name"]: target
        for entry in workspace["load_from"]
        for target in entry.values()
    }
    assert set(locations) == {"flight_delays", bake.name}
    # Relative to infra/ (Dagster rebases python_file paths on the workspace file): the project's
    # src on sys.path, so the location loads before `uv sync`.
    entry = locations[bake.name]
    infra = root / "infra"
    assert (infra / entry["relative_path"]).resolve() == (
        root / f"projects/{bake.name}/src/{bake.name}/definitions.py"
    )
    assert (infra / entry["working_directory"]).resolve() == root / f"projects/{bake.name}/src"
    ignored = (root / "feature_repo/.feastignore").read_text()
    assert (REPO_ROOT / "feature_repo/.feastignore").read_text() in ignored
    assert scaffold.feastignore_line(bake.name) in ignored


@pytest.mark.slow
def test_the_generated_project_passes_its_own_tests(baked, tmp_path):
    bake, root = baked
    command = [
        str(BIN / "pytest"),
        "-p",
        "twelve.testing",
        "-p",
        "no:cacheprovider",
        "-q",
        f"projects/{bake.name}",
    ]
    if not bake.run_slow_tests:
        command += ["-m", "not slow"]
    # A fresh interpreter, like a developer right after `twelve new`: the package is not installed.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert " passed" in completed.stdout and " failed" not in completed.stdout


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Churn", "invalid project name"),
        ("1churn", "invalid project name"),
        ("ch", "invalid project name"),
        ("churn-risk", "invalid project name"),
        ("churn_", "invalid project name"),
        ("a" * 33, "invalid project name"),
        ("class", "shadow"),
        ("dagster", "shadow"),
        ("json", "shadow"),
        ("flight_delays", "already exists"),
    ],
)
def test_invalid_names_are_refused_and_nothing_is_written(tmp_path, name, reason):
    root = make_monorepo(tmp_path)
    (root / "projects/flight_delays").mkdir(parents=True)
    before = {path.relative_to(root) for path in root.rglob("*")}
    workspace = (root / "infra/workspace.yaml").read_text()
    with pytest.raises(UsageError, match=reason):
        run_new([name, "--root", str(root), "--skip-dbt-parse"])
    assert {path.relative_to(root) for path in root.rglob("*")} == before
    assert (root / "infra/workspace.yaml").read_text() == workspace


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("", "at least one entity key"),
        ("Customer", "invalid entity key"),
        ("customer_id,customer_id", "repeat"),
        ("label", "already has a column"),
        ("a,b,c,d", "at most 3"),
    ],
)
def test_invalid_entity_keys_are_refused(tmp_path, keys, message):
    root = make_monorepo(tmp_path)
    with pytest.raises(UsageError, match=message):
        run_new(["churn", "--entity-keys", keys, "--root", str(root), "--skip-dbt-parse"])
    assert not (root / "projects").exists()


def test_an_unknown_problem_type_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_new(["churn", "--problem-type", "ranking", "--root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'ranking'" in capsys.readouterr().err


def test_a_failure_after_rendering_removes_every_part(tmp_path, monkeypatch):
    root = make_monorepo(tmp_path)
    workspace = (root / "infra/workspace.yaml").read_text()
    feastignore = (root / "feature_repo/.feastignore").read_text()

    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(scaffold, "ignore_in_shared_feature_repo", broken)
    with pytest.raises(OSError, match="disk full"):
        scaffold.generate(scaffold.ProjectOptions(name="churn"), root)
    for part in ("projects/churn", "feature_repo/churn", "bentos/churn"):
        assert not (root / part).exists(), part
    assert (root / "infra/workspace.yaml").read_text() == workspace
    assert (root / "feature_repo/.feastignore").read_text() == feastignore


def test_cookiecutter_itself_runs_the_same_validation(tmp_path):
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"replay_dir": str(tmp_path / "replay")}))
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(scaffold.TEMPLATE_DIR),
            no_input=True,
            extra_context={"name": "Bad-Name"},
            output_dir=str(tmp_path / "out"),
            config_file=str(config),
        )
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir()), "the refused project was left behind"


def test_registration_appends_once_and_keeps_comments(tmp_path):
    workspace = tmp_path / "workspace.yaml"
    shutil.copyfile(REPO_ROOT / "infra/workspace.yaml", workspace)
    original = workspace.read_text()
    assert scaffold.register_location(workspace, "churn") is True
    assert scaffold.register_location(workspace, "churn") is False
    text = workspace.read_text()
    assert text.startswith(original)
    assert text.count("location_name: churn") == 1
    assert scaffold.registered_locations(workspace) == ["flight_delays", "churn"]


def test_twelve_new_is_a_command_of_the_cli():
    from twelve.cli import build_parser

    args = build_parser().parse_args(["new", "churn"])
    assert args.func is new_command.cmd_new
    assert (args.problem_type, args.entity_keys, args.sample_rows) == (
        "classification",
        "customer_id",
        2000,
    )


def test_the_new_member_is_added_to_the_lock_file_offline(tmp_path):
    """`make install` syncs with --locked: the lock must list the project (uv lock, offline)."""
    for relative in ("uv.lock", "pyproject.toml", "platform/pyproject.toml"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / relative, tmp_path / relative)
    for member in sorted((REPO_ROOT / "projects").glob("*/pyproject.toml")):
        target = tmp_path / member.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(member, target)
    (tmp_path / "README.md").write_text("copy\n")
    (tmp_path / "projects/churn").mkdir()
    (tmp_path / "projects/churn/pyproject.toml").write_text(
        '[project]\nname = "churn"\nversion = "0.1.0"\nrequires-python = ">=3.11,<3.12"\n'
        'dependencies = ["twelve"]\n\n[tool.uv.sources]\ntwelve = { workspace = true }\n\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    assert scaffold.update_lock(tmp_path) is True
    lock = (tmp_path / "uv.lock").read_text()
    assert 'name = "churn"' in lock and 'source = { editable = "projects/churn" }' in lock
    assert scaffold.update_lock(tmp_path / "projects") is False  # no uv.lock there: nothing to do
