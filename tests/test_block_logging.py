"""What the library's blocks log reaches the run's event log (the Dagster UI), on an instance set up
like ``infra/dagster.yaml`` (``python_logs.managed_python_loggers``): a month arrives in a second
project, and the data report's own log line is in the run's logs.
"""

import dagster as dg
import pytest
import shop_project
import yaml

from twelve.core.jobs import MONTHLY_ARRIVAL
from twelve.core.paths import REPO_ROOT

pytestmark = pytest.mark.slow


def _python_logs(without: str | None = None) -> dict:
    settings = yaml.safe_load((REPO_ROOT / "infra" / "dagster.yaml").read_text())["python_logs"]
    loggers = [name for name in settings["managed_python_loggers"] if name != without]
    return {**settings, "managed_python_loggers": loggers}


def _arrival_messages(tmp_path, monkeypatch, python_logs: dict) -> list[str]:
    from twelve import testing

    testing.make_twelve_env(tmp_path / "env", monkeypatch)
    defs = shop_project.build_defs(shop_project.write_project(tmp_path))
    with dg.instance_for_test(overrides={"python_logs": python_logs}) as instance:
        result = defs.resolve_job_def(MONTHLY_ARRIVAL).execute_in_process(
            instance=instance, partition_key="2024-01-01"
        )
        assert result.success
        return [record.user_message for record in instance.all_logs(result.run_id)]


def test_a_library_blocks_log_line_is_in_the_runs_event_log(tmp_path, monkeypatch):
    messages = _arrival_messages(tmp_path, monkeypatch, _python_logs())

    # twelve.monitoring.reports (a plain Python logger) says what it wrote for the new month.
    assert any(m.startswith("documented shop__raw_orders@") for m in messages), messages


def test_without_the_setting_the_line_is_lost(tmp_path, monkeypatch):
    messages = _arrival_messages(tmp_path, monkeypatch, _python_logs(without="twelve"))

    assert not any(m.startswith("documented shop__raw_orders@") for m in messages)
    # The block's own context.log line is there either way: the run did document the month.
    assert any(m.startswith("profiled shop__raw_orders@") for m in messages)
