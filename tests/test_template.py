"""The project template behind `twelve new` (cookiecutter-data-science / MLOps Stacks style).

Each valid option set is baked once (module scope) into a temporary monorepo root that has what
`twelve new` touches: ``infra/workspace.yaml``, ``feature_repo/.feastignore`` and the root
``pyproject.toml`` (ruff settings the generated project extends); the root is then committed to a
git repository with the monorepo's ``.gitignore`` and ``uv.lock`` (a training run's manifest names
both). Then: the exact file set, no template syntax left, ruff clean, registered in the workspace,
the generated project's own tests pass in a fresh interpreter (its golden path on the sample data:
MLflow run, gate, alias, bento, parity), and `twelve audit` of that run fails no factor. Invalid
inputs are refused with a clear message and leave nothing behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from twelve.cli.commands import new as new_command
from twelve.cli.main import UsageError
from twelve.core.paths import REPO_ROOT
from twelve.scaffold import generate as scaffold
from twelve.scaffold import registration

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Bake:
    name: str
    problem_type: str
    entity_keys: str


BAKES = [
    Bake("churn", "classification", "customer_id"),
    # The longest name allowed (32 characters) and several keys: lines must still fit in 100.
    Bake("weekly_demand_forecast_by_store1", "regression", "store_id,product_id"),
]


def expected_files(name: str) -> set[str]:
    """Every file `twelve new NAME` writes (besides dbt's target/ and logs/), repo-relative.

    A project is configuration and what is truly its own: its raw reader (``ingest.py``), its
    contract, its dbt models, Feast definitions, bento mapping and the blocks' YAML.
    """
    package = f"projects/{name}/src/{name}"
    blocks = (
        "resources", "raw", "dbt", "features", "training", "deployment", "data_reports",
        "continuous_training", "jobs",
    )  # fmt: skip
    return {
        f"projects/{name}/pyproject.toml",
        f"projects/{name}/README.md",
        f"projects/{name}/.pre-commit-config.yaml",
        f"{package}/__init__.py",
        f"{package}/contract.py",
        f"{package}/definitions.py",
        f"{package}/ingest.py",
        f"{package}/defs/__init__.py",
        *(f"{package}/defs/{block}/defs.yaml" for block in blocks),
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
        f"projects/{name}/tests/test_ingest.py",
        f"feature_repo/{name}/feature_store.yaml",
        f"feature_repo/{name}/{name}_features.py",
        f"bentos/{name}/bentofile.yaml",
        f"bentos/{name}/serving.yaml",
        f"bentos/{name}/service.py",
        f".github/workflows/{name}.yml",
    }


def make_monorepo(root: Path) -> Path:
    """A temporary monorepo root with the shared files `twelve new` reads or appends to."""
    for relative in (
        "pyproject.toml",
        "infra/workspace.yaml",
        "infra/dagster.yaml",
        "feature_repo/.feastignore",
        ".gitignore",
    ):
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
    parts = (f"projects/{name}", f"feature_repo/{name}", f"bentos/{name}", ".github/workflows")
    for part in parts:
        for path in (root / part).rglob("*"):
            relative = path.relative_to(root).as_posix()
            # dbt's own output of the manifest step, and caches of the tools run on the bake.
            if path.is_file() and not any(
                marker in relative
                for marker in ("/dbt/target/", "/dbt/logs/", "__pycache__", ".ruff_cache")
            ):
                files.add(relative)
    return files


@dataclass
class Baked:
    """A project made by `twelve new` in a committed monorepo, and its own tests running."""

    bake: Bake
    root: Path
    tests: subprocess.Popen
    basetemp: Path
    output: Path


def _bake(bake: Bake, tmp_path_factory) -> Baked:
    """`twelve new` with one option set, committed; then its own tests started in the background.

    The tests run in a fresh interpreter, like a developer right after `twelve new` (the package
    is not installed), under a known ``--basetemp`` so that the stores their golden path filled
    can be audited afterwards. Both bakes' tests run while the static checks do.
    """
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
    # A checkout as after `git commit`: a training run records the commit and the uv.lock hash.
    shutil.copyfile(REPO_ROOT / "uv.lock", root / "uv.lock")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "twelve new"], check=True)
    basetemp = tmp_path_factory.mktemp(f"tests-{bake.name}")
    output = basetemp.parent / f"tests-{bake.name}.log"
    command = [
        str(BIN / "pytest"), "-p", "twelve.testing", "-p", "no:cacheprovider", "-q",
        f"--basetemp={basetemp}", f"projects/{bake.name}",
    ]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with output.open("w") as out:
        tests = subprocess.Popen(
            command, cwd=root, env=environment, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    return Baked(bake, root, tests, basetemp, output)


@pytest.fixture(scope="module")
def bakes(tmp_path_factory) -> Iterator[dict[str, Baked]]:
    """Every bake, made up front so that their own tests run side by side."""
    made = {bake.name: _bake(bake, tmp_path_factory) for bake in BAKES}
    yield made
    for baked in made.values():
        if baked.tests.poll() is None:
            baked.tests.kill()
            baked.tests.wait()


@pytest.fixture(scope="module", params=BAKES, ids=[bake.name for bake in BAKES])
def baked(request, bakes) -> tuple[Bake, Path]:
    """The template baked with one option set, with its dbt manifest prepared."""
    made = bakes[request.param.name]
    return made.bake, made.root


@pytest.mark.slow
def test_the_exact_file_set_is_generated(baked):
    bake, root = baked
    assert generated_files(root, bake.name) == expected_files(bake.name)
    assert (root / f"projects/{bake.name}/dbt/target/manifest.json").is_file()


@pytest.mark.slow
def test_the_bento_image_installs_what_the_serving_runtime_needs(baked):
    """The generated bentofile pins every package flight_delays' bento image installs (the
    compiled model's onnxruntime included), at the versions of this venv.
    """
    bake, root = baked

    def pins(path: Path) -> dict[str, str]:
        packages = yaml.safe_load(path.read_text())["python"]["packages"]
        return dict(package.split("==") for package in packages)

    generated = pins(root / f"bentos/{bake.name}/bentofile.yaml")
    assert generated.items() >= pins(REPO_ROOT / "bentos/flight_delay/bentofile.yaml").items()


@pytest.mark.slow
def test_no_template_syntax_is_left(baked):
    bake, root = baked
    for relative in generated_files(root, bake.name):
        text = (root / relative).read_text()
        assert "cookiecutter" not in text, relative
        # dbt's own Jinja ({{ ref(...) }}, {{ env_var(...) }}) is meant to stay in the dbt files,
        # GitHub's expressions (${{ github.ref }}) in the workflow.
        if "/dbt/" not in relative and not relative.startswith(".github/"):
            assert "{{" not in text, relative
            assert "{%" not in text, relative


@pytest.mark.slow
def test_the_generated_code_is_ruff_clean(baked):
    bake, root = baked
    parts = [f"projects/{bake.name}", f"feature_repo/{bake.name}", f"bentos/{bake.name}"]
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
    assert registration.feastignore_line(bake.name) in ignored
    # Its log lines reach the Dagster UI, next to the platform's and flight_delays'.
    loggers = registration.managed_loggers(root / "infra/dagster.yaml")
    assert loggers == [*registration.managed_loggers(REPO_ROOT / "infra/dagster.yaml"), bake.name]


@pytest.mark.slow
def test_the_ci_workflow_is_valid_and_runs_lint_tests_and_the_strict_audit(baked):
    """The rendered workflow passes GitHub's schema (offline) and gates on what the issue asks."""
    from test_repo_meta import validate_workflow

    bake, root = baked
    path = root / f".github/workflows/{bake.name}.yml"
    completed = validate_workflow(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    workflow = yaml.safe_load(path.read_text())
    (job,) = workflow["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    assert any(f"pytest projects/{bake.name}/tests" in run for run in runs)
    assert any(f"projects/{bake.name}/.pre-commit-config.yaml" in run for run in runs)
    # The audit reads evidence: every step that makes some runs before it, in this order.
    order = [
        f"pytest projects/{bake.name}/tests",
        f"twelve run {bake.name} --sensor",
        f"twelve serve {bake.name} --check",
        f"twelve reproduce champion --project {bake.name}",
        f"twelve audit {bake.name} --strict",
    ]
    positions = [next(i for i, run in enumerate(runs) if step in run) for step in order]
    assert positions == sorted(positions), runs
    assert f"projects/{bake.name}/**" in workflow[True]["pull_request"]["paths"]


@pytest.mark.slow
def test_the_projects_pre_commit_hooks_run_offline_on_its_files(baked, tmp_path):
    """The rendered hooks are valid, pass on the generated files and catch a dirty one."""
    from test_repo_meta import pre_commit

    bake, root = baked
    config = f"projects/{bake.name}/.pre-commit-config.yaml"
    if not (root / ".venv").exists():  # the hooks run the locked tools from the root's .venv
        (root / ".venv").symlink_to(BIN.parent, target_is_directory=True)
        with (root / ".git/info/exclude").open("a") as exclude:
            exclude.write(".venv\n")  # a link: `.venv/` in .gitignore misses it
    assert pre_commit(root, "validate-config", config).returncode == 0
    clean = pre_commit(root, "run", "--config", config, "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "ruff format" in clean.stdout
    assert "Passed" in clean.stdout
    dirty = root / f"projects/{bake.name}/src/{bake.name}/scratch.py"
    dirty.write_text("x=1   \n")
    subprocess.run(["git", "-C", str(root), "add", str(dirty)], check=True)
    try:
        fixed = pre_commit(root, "run", "--config", config, "--files", str(dirty))
        assert fixed.returncode == 1, fixed.stdout
        assert dirty.read_text() == "x = 1\n"
    finally:
        subprocess.run(["git", "-C", str(root), "rm", "-q", "-f", str(dirty)], check=True)


@pytest.fixture(scope="module")
def project_tests(baked, bakes) -> tuple[subprocess.CompletedProcess, Path]:
    """The generated project's own tests (golden path included), waited for: how they ended."""
    bake, _ = baked
    made = bakes[bake.name]
    code = made.tests.wait(timeout=900)
    completed = subprocess.CompletedProcess(made.tests.args, code, made.output.read_text(), "")
    return completed, made.basetemp


@pytest.mark.slow
def test_the_generated_project_passes_its_own_tests(project_tests):
    completed, _ = project_tests
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert " passed" in completed.stdout
    assert " failed" not in completed.stdout
    assert " skipped" not in completed.stdout
    assert " deselected" not in completed.stdout


@pytest.mark.slow
def test_twelve_audit_of_the_run_project_fails_no_factor(baked, project_tests):
    """`twelve audit NAME` on the stores of the project's golden-path run: exit 0, no FAIL row."""
    bake, root = baked
    completed, basetemp = project_tests
    assert completed.returncode == 0, completed.stdout[-3000:]
    # The golden-path test's environment (twelve.testing.make_twelve_env under its mktemp).
    (golden,) = basetemp.glob("golden[0-9]*")
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment |= {
        "TWELVE_HOME": str(golden / "home"),
        "TWELVE_DATA_DIR": str(golden / "repo" / "data"),
        "DAGSTER_HOME": str(golden / "home" / "dagster_home"),
    }
    audited = subprocess.run(
        [str(BIN / "twelve"), "audit", f"projects/{bake.name}", "--json"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    card = json.loads(audited.stdout)
    statuses = {row["key"]: row["status"] for row in card["rows"]}
    assert audited.returncode == 0, audited.stdout
    assert "fail" not in statuses.values(), audited.stdout
    # What the golden path itself makes is judged from its evidence in the stores and passes;
    # reproduction, drift checks and served traffic are not part of it (they may warn).
    for factor in ("features", "config", "tracking", "reports", "comparability", "deployability"):
        assert statuses[factor] == "pass", audited.stdout
    evidence = {row["key"]: " ".join(row["evidence"]) for row in card["rows"]}
    assert "hashes to the registered one" in evidence["deployability"]
    assert f"bento {bake.name}:" in evidence["deployability"]
    assert "profile and HTML report stored" in evidence["reports"]


@pytest.mark.slow
def test_rebuilding_the_features_from_the_same_raw_data_gives_the_same_bytes(
    baked, project_tests, tmp_path
):
    """Each feature file is rebuilt by dbt byte for byte: what `twelve reproduce` compares by md5.

    DuckDB aggregates in parallel threads; a model whose result depends on their order (a sum of
    doubles, rows without a total order) writes a different file on some builds.
    """
    import hashlib

    bake, root = baked
    completed, basetemp = project_tests
    assert completed.returncode == 0, completed.stdout[-3000:]
    (golden,) = basetemp.glob("golden[0-9]*")
    built = golden / "repo" / "data" / bake.name
    recorded = {
        path.name: hashlib.md5(path.read_bytes()).hexdigest()
        for path in sorted((built / "features").glob("*.parquet"))
    }
    assert set(recorded) == {"entity_features.parquet", "label_events.parquet"}
    data = tmp_path / "data"
    shutil.copytree(built / "raw", data / bake.name / "raw")
    (data / bake.name / "features").mkdir()  # dbt-duckdb writes files, not folders
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment |= {"TWELVE_HOME": str(tmp_path / "home"), "TWELVE_DATA_DIR": str(data)}
    (tmp_path / "home").mkdir()
    project_dir = root / "projects" / bake.name / "dbt"
    for build in range(4):
        subprocess.run(
            [str(BIN / "dbt"), "build", "--quiet", "--project-dir", str(project_dir),
             "--profiles-dir", str(project_dir), "--target-path", str(tmp_path / "target"),
             "--log-path", str(tmp_path / "logs")],
            env=environment, check=True, timeout=300,
        )  # fmt: skip
        rebuilt = {
            name: hashlib.md5((data / bake.name / "features" / name).read_bytes()).hexdigest()
            for name in recorded
        }
        assert rebuilt == recorded, f"build {build + 1} differs from the golden path's files"


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


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``root``: what `git status` would compare."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def _fail(step: str):
    def broken(*_args, **_kwargs):
        raise RuntimeError(f"{step} broke on purpose")

    return broken


@pytest.mark.parametrize(
    ("step", "target"),
    [
        ("writing the project", "ignore_in_shared_feature_repo"),
        ("dbt parse", "prepare_dbt"),
        ("uv lock", "update_lock"),
    ],
)
def test_a_failure_at_any_step_puts_every_file_back(tmp_path, monkeypatch, step, target):
    root = make_monorepo(tmp_path)
    (root / "uv.lock").write_text("the lock file as committed\n")
    before = _tree(root)
    real = getattr(scaffold, target)

    def half_done_then_broken(*args, **kwargs):
        # The step writes before it fails, as `uv lock` or a full disk would.
        if target == "update_lock":
            (root / "uv.lock").write_text("half rewritten")
        elif target != "prepare_dbt":
            real(*args, **kwargs)
        raise RuntimeError(f"{step} broke on purpose")

    monkeypatch.setattr(scaffold, target, half_done_then_broken)
    with pytest.raises(scaffold.ScaffoldStepError, match=f"{step} failed: {step} broke"):
        scaffold.generate(scaffold.ProjectOptions(name="churn"), root)
    assert _tree(root) == before


def test_a_real_write_error_puts_every_file_back(tmp_path):
    """A write the OS refuses (`.feastignore` is a folder): nothing is left, not even bentos/."""
    root = make_monorepo(tmp_path)
    (root / "feature_repo/.feastignore").unlink()
    (root / "feature_repo/.feastignore").mkdir()
    before = _tree(root)
    with pytest.raises(scaffold.ScaffoldStepError, match="writing the project failed"):
        scaffold.generate(scaffold.ProjectOptions(name="churn"), root, prepare=False)
    assert _tree(root) == before
    assert not (root / "bentos").exists()


def test_the_command_says_which_step_failed_and_what_to_do(tmp_path, monkeypatch, caplog):
    root = make_monorepo(tmp_path)
    monkeypatch.setenv("TWELVE_HOME", str(root / ".twelve"))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".twelve" / "dagster_home"))
    (root / "uv.lock").write_text("lock\n")
    monkeypatch.setattr(scaffold, "update_lock", _fail("uv lock"))
    before = {k: v for k, v in _tree(root).items() if not k.startswith(".twelve")}
    code = run_new(["churn", "--root", str(root), "--skip-dbt-parse"])
    assert code == 1
    text = caplog.text
    assert "uv lock failed: uv lock broke on purpose" in text
    assert "nothing was left behind" in text
    assert "--skip-lock" in text  # what to do
    after = {k: v for k, v in _tree(root).items() if not k.startswith(".twelve")}
    assert after == before


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
    assert registration.register_location(workspace, "churn") is True
    assert registration.register_location(workspace, "churn") is False
    text = workspace.read_text()
    assert text.startswith(original)
    assert text.count("location_name: churn") == 1
    assert registration.registered_locations(workspace) == ["flight_delays", "churn"]


def test_twelve_new_is_a_command_of_the_cli():
    from twelve.cli.main import build_parser

    args = build_parser().parse_args(["new", "churn"])
    assert args.func is new_command.cmd_new
    assert (args.problem_type, args.entity_keys, args.sample_rows) == (
        "classification",
        "customer_id",
        2000,
    )


def _locked_versions(lock: str) -> dict[str, str]:
    import tomllib

    return {package["name"]: package["version"] for package in tomllib.loads(lock)["package"]}


@pytest.mark.slow
def test_the_new_member_is_added_to_the_lock_file_with_an_empty_uv_cache(tmp_path, monkeypatch):
    """`make install` syncs with --locked: the lock must list the project, every pin kept.

    With an empty uv cache, as on a fresh machine (a cache filled by `uv sync` has no registry
    metadata: `uv lock --offline` failed there).
    """
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
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-uv-cache"))
    before = _locked_versions((REPO_ROOT / "uv.lock").read_text())
    assert scaffold.update_lock(tmp_path) is True
    lock = (tmp_path / "uv.lock").read_text()
    assert 'name = "churn"' in lock
    assert 'source = { editable = "projects/churn" }' in lock
    after = _locked_versions(lock)
    assert {name: after.get(name) for name in before} == before  # nothing re-resolved
    assert set(after) - set(before) == {"churn"}
    assert scaffold.update_lock(tmp_path / "projects") is False  # no uv.lock there: nothing to do


# ------------------------------------------------------- platform pieces a generated project uses
def test_a_regressor_is_built_with_the_same_preprocessing_as_the_classifiers():
    import numpy as np
    import pandas as pd

    from twelve.training import modeling

    assert "hist_gradient_boosting_regressor" not in modeling.ESTIMATORS  # classifiers only
    frame = pd.DataFrame({"x": np.arange(200.0), "gaps": [np.nan, 1.0] * 100})
    pipeline = modeling.build_pipeline(
        ["x", "gaps"], [], "hist_gradient_boosting_regressor", {"max_iter": 30}, seed=0
    ).fit(frame, frame["x"] * 2)
    assert [step for step, _ in pipeline.steps] == ["preprocess", "estimator"]
    assert np.corrcoef(pipeline.predict(frame), frame["x"])[0, 1] > 0.99


def test_a_bento_finds_its_projects_feature_repo_relative_to_its_own_folder(tmp_path):
    from twelve.serving import runtime as serving

    repo = tmp_path / "feature_repo" / "churn"
    repo.mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        "project: churn\nprovider: local\nregistry: ../../.twelve/r.db\n"
        "online_store:\n  type: sqlite\n  path: ../../.twelve/o.db\n"
    )
    service = tmp_path / "bentos" / "churn"
    service.mkdir(parents=True)
    (service / "serving.yaml").write_text(
        "feature_repo: ../../feature_repo/churn\nfeature_service: churn_v1\n"
    )
    config = serving.resolve_serving_config(service, tmp_path / "home")
    assert config["feature_store"]["project"] == "churn"
    online = Path(config["feature_store"]["online_store"]["path"])
    assert online == (tmp_path / "home").resolve() / serving.ONLINE_STORE_FILE
    (service / "serving.yaml").write_text("feature_repo: feature_repo/churn\nfeature_service: x\n")
    with pytest.raises(serving.ServingConfigError, match="does not exist"):
        serving.resolve_serving_config(service, tmp_path / "home")  # from the monorepo root


def _run(run_id: str, **metrics: float):
    from twelve.training.leaderboard import RunRecord

    return RunRecord(
        run_id=run_id, run_name=run_id, pipeline="main", estimator="e", started_ms=1,
        metrics=metrics, holdout_md5="h" * 32, training_set_md5="t", git_commit="c",
        git_dirty=False, config_hash="f", feature_service="s",
    )  # fmt: skip


def test_the_leaderboard_ranks_regression_runs_by_error_and_adds_only_present_columns():
    from twelve.training import leaderboard

    board = leaderboard.build([_run("worse", rmse=2.0), _run("best", rmse=0.5)], experiment="e",
                              metric="rmse")  # fmt: skip
    assert [entry.run.run_id for entry in board.groups[0].entries] == ["best", "worse"]
    assert "rmse" in leaderboard.text_table(board)
    assert "rmse" in leaderboard.render_html(board)
    # A classification board keeps exactly its columns.
    classic = leaderboard.build([_run("a", roc_auc=0.7)], experiment="e")
    assert "rmse" not in leaderboard.text_table(classic)
    assert "rmse" not in leaderboard.render_html(classic)


def test_the_runner_runs_a_project_without_a_partitioned_job():
    """A generated project has one unpartitioned job: `twelve run` materializes it, stale-only."""
    import dagster as dg

    from twelve.cli.runner import run_golden_path

    @dg.asset(code_version="1")
    def source():
        return dg.MaterializeResult(data_version=dg.DataVersion("same content"))

    @dg.asset(code_version="1", deps=[source])
    def derived():
        return None

    defs = dg.Definitions(
        assets=[source, derived],
        jobs=[dg.define_asset_job("golden_path", selection=dg.AssetSelection.all())],
    )
    instance = dg.DagsterInstance.ephemeral()
    kwargs = {"partitioned_job": None, "partitions": [], "main_job": "golden_path"}
    first = run_golden_path(defs, instance, **kwargs)
    assert [[key.to_user_string() for key in step.assets] for step in first.steps] == [
        ["source"],
        ["derived"],
    ]
    again = run_golden_path(defs, instance, **kwargs)
    assert again.skipped == ["derived"]  # the source re-ran with the same value: nothing stale
