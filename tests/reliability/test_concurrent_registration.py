"""Concurrent registrations: two processes registering versions of one model at the same time
never overwrite each other's version (each version keeps the run it came from).
"""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

PER_PROCESS = 4
REGISTER = textwrap.dedent(
    """
    import json, sys
    import mlflow
    from twelve.training.tracking import MlflowResource

    resource = MlflowResource(experiment="concurrency")
    made = []
    for i in range({n}):
        with resource.start_run(run_name=f"{{sys.argv[1]}}-{{i}}") as run:
            mlflow.log_dict({{"writer": sys.argv[1], "i": i}}, "note.json")
            version = resource.client().create_model_version(
                "concurrent", source=f"{{run.info.artifact_uri}}/note.json", run_id=run.info.run_id
            )
            made.append([version.version, run.info.run_id])
    print(json.dumps(made))
    """
).format(n=PER_PROCESS)


def test_two_writers_get_distinct_versions_that_keep_their_runs(twelve_env):
    from twelve.training.tracking import MlflowResource

    resource = MlflowResource(experiment="concurrency")
    resource.experiment_id()  # the store and the registered model exist before the race
    resource.client().create_registered_model("concurrent")
    started = time.perf_counter()
    writers = [
        subprocess.Popen([sys.executable, "-c", REGISTER, name], env=os.environ.copy(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]  # fmt: skip
    outputs = [writer.communicate(timeout=300) for writer in writers]
    seconds = time.perf_counter() - started
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err[-2000:]
    made = [tuple(pair) for out, _ in outputs for pair in json.loads(out.strip().splitlines()[-1])]

    client = MlflowResource(experiment="concurrency").client()
    stored = {v.version: v.run_id for v in client.search_model_versions("name = 'concurrent'")}
    print(f"\n{len(made)} registrations from 2 processes in {seconds:.1f} s: {sorted(stored)}")
    assert len({version for version, _ in made}) == 2 * PER_PROCESS, "a version number was reused"
    assert {version: run for version, run in made} == stored
