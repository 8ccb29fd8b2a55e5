"""The twelve CLI: exit codes scripts can rely on and errors that say what to do."""

import pytest

from twelve import cli


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
