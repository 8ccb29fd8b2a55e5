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
