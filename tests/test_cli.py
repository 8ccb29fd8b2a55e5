"""The twelve CLI: exit codes scripts can rely on and errors that say what to do."""

import pytest

from twelve.cli import main as cli


def test_an_unknown_project_is_a_usage_error_that_names_it(twelve_env, caplog):
    assert cli.main(["run", "no_such_project"]) == cli.EXIT_USAGE
    assert "no_such_project" in caplog.text


def test_months_that_match_no_partition_exit_with_the_usage_code(twelve_env):
    assert cli.main(["run", "flight_delays", "--months", "1999-01"]) == cli.EXIT_USAGE


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "run" in capsys.readouterr().out


def test_a_missing_run_config_file_is_a_usage_error_naming_it(twelve_env, caplog):
    code = cli.main(["run", "flight_delays", "--run-config", "nowhere/runs.yaml"])
    assert code == cli.EXIT_USAGE
    assert "nowhere/runs.yaml" in caplog.text


def test_a_run_config_without_an_ops_mapping_is_refused(twelve_env, tmp_path, caplog):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ops: [holdout_set]\n")
    assert cli.main(["run", "flight_delays", "--run-config", str(bad)]) == cli.EXIT_USAGE
    assert "ops" in caplog.text


TINY_PROJECT = '''
import dagster as dg


@dg.asset
def source() -> int:
    """A root asset."""
    return 1


@dg.asset
def derived(source: int) -> int:
    """Downstream of source."""
    return source + 1


defs = dg.Definitions(
    assets=[source, derived], jobs=[dg.define_asset_job("golden_path", selection="*")]
)
'''


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    """A project with one unpartitioned golden path and no partitioned job (as `twelve new`)."""
    package = tmp_path / "pkgs" / "tiny_project"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "definitions.py").write_text(TINY_PROJECT)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    return "tiny_project"


def test_a_project_without_a_partitioned_job_runs_its_golden_path(twelve_env, tiny_project):
    import dagster as dg

    assert cli.main(["run", tiny_project]) == cli.EXIT_OK
    instance = dg.DagsterInstance.get()
    assert instance.get_latest_materialization_event(dg.AssetKey("derived")) is not None
    # Nothing changed: the second run re-ingests the root only and skips the rest.
    assert cli.main(["run", tiny_project]) == cli.EXIT_OK


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--months", "2013-01"], "has no partitioned job 'monthly_arrival'"),
        (["--main-job", "nope"], "has no job 'nope'"),
    ],
)
def test_bad_jobs_of_a_project_are_usage_errors(twelve_env, tiny_project, caplog, argv, message):
    assert cli.main(["run", tiny_project, *argv]) == cli.EXIT_USAGE
    assert message in caplog.text


def test_version_prints_the_installed_distribution_version_and_exits_zero():
    """`twelve --version` (the installed console script) answers what a bug report needs."""
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    from twelve.core.paths import REPO_ROOT

    declared = tomllib.loads((REPO_ROOT / "platform/pyproject.toml").read_text())["project"]
    script = Path(sys.executable).parent / "twelve"
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"twelve {declared['version']}\n"
