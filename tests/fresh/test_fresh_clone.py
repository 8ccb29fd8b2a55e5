"""A newcomer's first hour, for real: a fresh clone, an empty uv cache, a fresh HOME.

What a user runs, the way they run it, with none of this machine's warm state: ``git clone`` of
the committed tree into a new folder, ``HOME`` and ``UV_CACHE_DIR`` pointing at new empty
folders, no ``TWELVE_*`` / ``DAGSTER_HOME`` / ``BENTOML_HOME`` / virtualenv from the caller. Then:

1. ``make demo`` (install from ``uv.lock`` into a new ``.venv``, the golden path on real data);
2. ``dvc status -c`` lists nothing missing; with the DVC cache deleted, the champion's training
   set is restored by its md5 from the remote;
3. ``twelve reproduce`` of the champion's run exits 0;
4. ``make serve`` serves the champion's bento (it says which) and ``/readyz`` answers 200;
   ``make image`` builds its OCI image and records it on the champion's version;
5. a ``twelve new`` that fails (``uv lock`` cannot resolve) leaves ``git status`` clean;
6. ``twelve new parcel_returns``, ``make install``, then every step of the CI workflow it writes
   (hooks, tests, golden path and sensor, served check, reproduction, ``twelve audit --strict``)
   succeed.

Slow by nature (about 10 minutes on 2 cores, downloads included): marked ``fresh``, run by
``make test-fresh``, which ``.ci/run`` calls after ``make test``. Each step's output is in
``<tmp>/logs/<step>.log``; a failure shows its tail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from twelve.core.paths import REPO_ROOT

pytestmark = [pytest.mark.fresh, pytest.mark.slow]

# Variables of the caller's environment that would leak its state into the newcomer's.
LEAKY = ("TWELVE_", "DAGSTER_", "BENTOML_", "UV_", "VIRTUAL_ENV", "PYTHONPATH", "MLFLOW_")


@dataclass
class Newcomer:
    """A fresh clone and the environment its commands run in."""

    clone: Path
    env: dict[str, str]
    logs: Path
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, step: str, command: list[str], timeout: float, check: bool = True, **env):
        """Run ``command`` in the clone; its output goes to ``logs/<step>.log``."""
        log = self.logs / f"{step}.log"
        started = time.perf_counter()
        with log.open("w") as out:
            done = subprocess.run(
                command,
                cwd=self.clone,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        self.seconds[step] = time.perf_counter() - started
        if check and done.returncode != 0:
            tail = log.read_text()[-5000:]
            pytest.fail(f"`{' '.join(command)}` exited {done.returncode}:\n{tail}")
        return done.returncode, log.read_text()

    def python(self, step: str, code: str) -> str:
        """Run Python code with the clone's own interpreter; returns its stdout's last line."""
        _, output = self.run(step, [str(self.clone / ".venv/bin/python"), "-c", code], 600)
        return output.strip().splitlines()[-1]


def _clean_env(home: Path, uv_cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY)}
    # The caller's venv is not on the newcomer's PATH.
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in part + "/"
    )
    env.update({"HOME": str(home), "UV_CACHE_DIR": str(uv_cache)})
    return env


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> Newcomer:
    """A clone of the committed tree after ``make demo``, in a fresh HOME and uv cache."""
    root = tmp_path_factory.mktemp("fresh")
    for folder in ("home", "uv-cache", "logs"):
        (root / folder).mkdir()
    clone = root / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    user = Newcomer(clone, _clean_env(root / "home", root / "uv-cache"), root / "logs")
    user.run("make-demo", ["make", "demo"], timeout=2400)
    print(f"\nmake demo on a fresh clone: {user.seconds['make-demo']:.0f} s")
    return user


def test_every_data_version_is_stored_and_the_training_set_restores_by_md5(newcomer):
    _, status = newcomer.run("dvc-status", [".venv/bin/dvc", "status", "-c"], 300)
    assert "missing" not in status, status
    facts = json.loads(
        newcomer.python(
            "champion",
            "import json; from twelve.training.tracking import MlflowResource as M; "
            "c = M().client(); v = c.get_model_version_by_alias('flight_delays', 'champion'); "
            "t = c.get_run(v.run_id).data.tags; "
            "print(json.dumps({'run': v.run_id, 'md5': t['twelve.training_set_md5']}))",
        )
    )
    import shutil

    shutil.rmtree(newcomer.clone / ".dvc" / "cache")
    restored_md5 = newcomer.python(
        "restore",
        "import hashlib; from twelve.data.versioning import DvcResource; "
        f"print(hashlib.md5(DvcResource().read_version('{facts['md5']}')).hexdigest())",
    )
    assert restored_md5 == facts["md5"]


def test_twelve_reproduce_of_the_champion_matches(newcomer):
    run_id = newcomer.python(
        "champion-run",
        "from twelve.training.tracking import MlflowResource as M; "
        "print(M().client().get_model_version_by_alias('flight_delays', 'champion').run_id)",
    )
    code, output = newcomer.run(
        "reproduce", [".venv/bin/twelve", "reproduce", run_id], 1800, check=False
    )
    print(f"\ntwelve reproduce of the champion: {newcomer.seconds['reproduce']:.0f} s")
    assert code == 0, output[-5000:]
    assert "MATCH" in output


def test_make_serve_serves_the_champions_bento(newcomer):
    from twelve.deploy.bento_server import free_port

    port = free_port()
    log = newcomer.logs / "make-serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["make", "serve", f"SERVE_ARGS=--port {port}"],
            cwd=newcomer.clone,
            env=newcomer.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline, ready = time.monotonic() + 180, False
        while time.monotonic() < deadline and server.poll() is None and not ready:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = r.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert ready, f"/readyz never answered 200:\n{log.read_text()[-4000:]}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    text = log.read_text()
    assert "the version holding 'champion'" in text, text[-3000:]


def test_make_image_builds_the_champions_image_and_records_it(newcomer):
    _, output = newcomer.run("make-image", ["make", "image"], 2400)
    facts = json.loads(
        newcomer.python(
            "image-tags",
            "import json; from twelve.training.tracking import MlflowResource as M; "
            "v = M().client().get_model_version_by_alias('flight_delays', 'champion'); "
            "print(json.dumps(v.tags))",
        )
    )
    image = f"localhost/{facts['bento_tag']}"
    print(f"\nmake image on a fresh clone: {newcomer.seconds['make-image']:.0f} s ({image})")
    assert f"image {image}\n" in output, output[-3000:]
    assert facts["twelve.image"] == image
    assert f"id {facts['twelve.image_id'][:12]}," in output


def test_a_failing_twelve_new_leaves_git_status_clean(newcomer):
    code, output = newcomer.run(
        "new-failing",
        [".venv/bin/twelve", "new", "broken_project"],
        600,
        check=False,
        # No cache and no network for uv: the lock step cannot resolve the new member.
        UV_OFFLINE="1",
        UV_NO_CACHE="1",
    )
    assert code == 1, output
    assert "uv lock failed" in output
    assert "nothing was left behind" in output
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=newcomer.clone, capture_output=True, text=True
    ).stdout
    assert status == "", status


def test_a_new_projects_ci_workflow_passes_step_by_step(newcomer):
    """``twelve new``, ``make install``, a commit, then every step of the CI workflow it wrote
    (after its install step), as GitHub would run them: hooks, tests, golden path with the
    sensor, the served check, the reproduction of the champion and ``twelve audit --strict``.
    """
    import yaml

    newcomer.run("new", [".venv/bin/twelve", "new", "parcel_returns"], 900)
    newcomer.run("install-new", ["make", "install"], 900)
    git = ["git", "-c", "user.name=newcomer", "-c", "user.email=newcomer@localhost"]
    newcomer.run("commit-new", [*git, "add", "-A"], 60)
    newcomer.run("commit-new", [*git, "commit", "-q", "-m", "parcel_returns"], 60)
    workflow = yaml.safe_load((newcomer.clone / ".github/workflows/parcel_returns.yml").read_text())
    (job,) = workflow["jobs"].values()
    names = [step.get("name", "") for step in job["steps"]]
    steps = job["steps"][names.index("Install (.venv from uv.lock, the dbt manifests)") + 1 :]
    timings = []
    for number, step in enumerate(steps, start=1):
        key = f"ci-{number}"
        code, output = newcomer.run(key, ["bash", "-e", "-c", step["run"]], 1800, check=False)
        timings.append(f"{step['name']}: {newcomer.seconds[key]:.0f} s")
        assert code == 0, f"CI step {step['name']!r} exited {code}:\n{output[-5000:]}"
    print("\nthe generated CI workflow on a fresh clone:\n  " + "\n  ".join(timings))
    assert any("reproduce champion" in step["run"] for step in steps)
    assert steps[-1]["run"].endswith("--strict")
