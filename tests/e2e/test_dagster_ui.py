"""The Dagster UI in a real browser: what a user sees after `make ui`.

Starts ``dagster dev`` on a free 127.0.0.1 port, against a throw-away twelve environment
(temporary TWELVE_HOME / TWELVE_DATA_DIR / DAGSTER_HOME and a temporary git repository for DVC),
with the repository's workspace (``infra/workspace.yaml``, every registered code location) plus a
project freshly made by ``twelve new`` in a temporary monorepo copy, and drives it with headless
Chromium through Playwright:

- every code location loads, the new project's included (what `twelve new` promises);
- the flight-delay lineage raw -> dbt -> features -> training set -> model -> evaluation -> bento
  is in the asset graph, edge by edge;
- a small asset (``raw_planes``) is materialized from the UI's button and its run succeeds.

The browser is Debian's ``chromium`` (``make install`` puts it there; Playwright never downloads
one). A missing browser is a failure, not a skip: CI must not go green without this test.
On failure a full-page screenshot lands in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from twelve.core import paths
from twelve.testing import free_port, make_twelve_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REPO_ROOT = paths.REPO_ROOT
WORKSPACE = REPO_ROOT / "infra" / "workspace.yaml"
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
# STACK-NOTES: what made Debian's chromium run headless as root in a container, offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVE_TIMEOUT_S = 120  # measured ~9-16 s on 2 cores; generous for a loaded CI machine
RUN_TIMEOUT_S = 150  # raw_planes: queued-run coordinator + one step, ~10-20 s measured
UI_TIMEOUT_MS = 30_000

# Each asset of the golden path with the parents the graph must draw into it.
GOLDEN_PATH_PARENTS = {
    "stg_flights": {"raw_flights"},  # raw -> dbt staging
    "flight_events": {"stg_flights"},  # dbt feature models
    "carrier_features": {"flight_events"},
    "feast_definitions": {"carrier_features", "plane_features", "weather_features"},  # Feast
    "training_set": {"feast_definitions", "flight_events"},
    "trained_model": {"training_set", "holdout_set"},
    "model_evaluation": {"trained_model", "holdout_set"},
    "model_alias": {"model_evaluation"},
    "bento": {"model_alias"},
}


def chromium_path() -> str:
    """Debian's chromium, or a failure that says how to install it."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "chromium not found on PATH: the UI test needs Debian's chromium "
        "(`make install` installs it; by hand: apt-get install -y chromium)"
    )


NEW_PROJECT = "churn"


def workspace_locations(workspace: Path) -> list[str]:
    """The code location names listed in a ``workspace.yaml``."""
    spec = yaml.safe_load(workspace.read_text())
    names = []
    for entry in spec["load_from"]:
        (target,) = entry.values()
        names.append(target.get("location_name") or target["module_name"])
    return names


def _wait_until_serving(url: str, process: subprocess.Popen, log_file: Path) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"dagster dev exited with {process.returncode}:\n{log_file.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(
        f"dagster dev did not serve {url} within {SERVE_TIMEOUT_S} s:\n"
        f"{log_file.read_text()[-4000:]}"
    )


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole process group (webserver, daemon, code servers), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _default_sigint() -> None:
    # Dagster maps SIGTERM onto its SIGINT handler; an inherited "ignore SIGINT" (background
    # shells) would make it deaf to both (STACK-NOTES).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def ui_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A throw-away twelve environment whose Dagster instance queues runs like `make ui`."""
    chromium_path()  # fail first, before a minute of server start-up, when there is no browser
    with pytest.MonkeyPatch.context() as monkeypatch:
        env = make_twelve_env(tmp_path_factory.mktemp("ui"), monkeypatch)
        dagster_home = Path(os.environ["DAGSTER_HOME"])
        settings = yaml.safe_load((REPO_ROOT / "infra" / "dagster.yaml").read_text()) or {}
        settings["telemetry"] = {"enabled": False}
        # No "join the community" modal over the page on a fresh instance.
        settings["nux"] = {"enabled": False}
        (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(settings))
        yield env


@pytest.fixture(scope="module")
def workspace(ui_env) -> Path:
    """``infra/workspace.yaml`` of a temporary monorepo copy in which `twelve new` made a project.

    The copy's workspace lists the repository's locations (flight_delays...) and the new one,
    registered exactly as `twelve new` registers it (``working_directory``: not installed yet).
    """
    from twelve.scaffold import generate as scaffold

    root = ui_env.root / "monorepo"
    for relative in ("infra/workspace.yaml", "feature_repo/.feastignore", "pyproject.toml"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / relative, root / relative)
    # As `twelve new` does: the dbt manifest is written now (a code location never parses dbt
    # when it loads; without the manifest the location fails to load and says so).
    options = scaffold.ProjectOptions(name=NEW_PROJECT)
    return scaffold.generate(options, root, prepare=True, lock=False).workspace


@pytest.fixture(scope="module")
def dagster_ui(ui_env, workspace) -> Iterator[str]:
    """``dagster dev`` on the workspace, on a free port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = ui_env.root / "dagster-dev.log"
    bin_dir = Path(sys.executable).parent
    command = [
        str(bin_dir / "dagster"),
        "dev",
        "-w",
        str(workspace),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
    try:
        _wait_until_serving(url, process, log_file)
        yield url
    finally:
        _stop_group(process)


@pytest.fixture(scope="module")
def browser_context(dagster_ui) -> Iterator:
    """Headless Debian chromium with a fresh profile (no Playwright browser download)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with tempfile.TemporaryDirectory(prefix="twelve-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            chromium_sandbox=False,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000},
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, request: pytest.FixtureRequest) -> Iterator:
    """A fresh tab; a full-page screenshot in test-artifacts/ when the test fails."""
    tab = browser_context.new_page()
    failed_before = request.session.testsfailed
    yield tab
    # The call phase's report is counted before teardown runs: a rise means this test failed.
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        target = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name)}.png"
        with contextlib.suppress(Exception):  # the screenshot must not hide the real failure
            tab.screenshot(path=str(target), full_page=True)
    tab.close()


def graph_node_names(tab) -> set[str]:
    """Asset names drawn as nodes of the lineage graph on the current page (full names)."""
    return set(
        tab.eval_on_selector_all(
            "[class*='AssetNode_assetName'] [data-tooltip]",
            "nodes => nodes.map(node => node.getAttribute('data-tooltip'))",
        )
    )


@pytest.fixture(scope="module")
def raw_planes_run(dagster_ui, browser_context) -> str:
    """Click "Materialize" on raw_planes' page; returns the launched run's path (``/runs/<id>``).

    Module scope so the run executes while the other tests browse the UI.
    """
    tab = browser_context.new_page()
    try:
        tab.goto(f"{dagster_ui}/assets/raw_planes")
        tab.get_by_text("Never materialized").first.wait_for()
        tab.get_by_role("button", name=re.compile(r"Materialize$")).first.click()
        # The toast "Launched run <id>" links to the run.
        run_link = tab.locator("a[href^='/runs/']").first
        run_link.wait_for()
        return str(run_link.get_attribute("href"))
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            tab.screenshot(path=str(ARTIFACTS / "raw_planes_launch.png"), full_page=True)
        raise
    finally:
        tab.close()


def test_the_materialize_button_launches_a_run(raw_planes_run):
    assert re.fullmatch(r"/runs/[0-9a-f-]{36}", raw_planes_run), raw_planes_run


def test_every_code_location_loads_with_the_new_project(dagster_ui, workspace, page):
    locations = workspace_locations(workspace)
    assert set(workspace_locations(WORKSPACE)) | {NEW_PROJECT} == set(locations)
    assert "flight_delays" in locations
    page.goto(f"{dagster_ui}/locations")
    for name in locations:
        # The per-location job/schedule/sensor counts only render for a loaded location.
        page.locator(f"a[href='/locations/{name}/jobs']").wait_for()
    loaded = page.locator("[data-tooltip='Loaded']")
    loaded.nth(len(locations) - 1).wait_for()
    assert loaded.count() == len(locations), f"{loaded.count()} of {locations} show Loaded"
    assert page.get_by_text("Failed", exact=True).count() == 0, "a code location failed to load"
    # The new project's assets are in the graph under its prefix, wired to each other.
    page.goto(
        f"{dagster_ui}/assets/{NEW_PROJECT}/model_evaluation?view=lineage&lineageScope=upstream"
    )
    page.locator("[class*='AssetNode_assetName'] [data-tooltip]").nth(1).wait_for()
    shown = graph_node_names(page)
    assert any(name.endswith("trained_model") for name in shown), shown


def test_the_asset_graph_shows_the_golden_path_lineage(dagster_ui, page):
    for child, parents in GOLDEN_PATH_PARENTS.items():
        # Upstream scope, depth 1: the graph draws the asset and its direct parents only.
        page.goto(f"{dagster_ui}/assets/{child}?view=lineage&lineageScope=upstream")
        page.locator(f"[class*='AssetNode_assetName'] [data-tooltip='{child}']").wait_for()
        for parent in parents:
            page.locator(f"[class*='AssetNode_assetName'] [data-tooltip='{parent}']").wait_for()
        shown = graph_node_names(page)
        assert parents <= shown, f"{child}: graph shows parents {shown - {child}}, want {parents}"


def test_the_run_launched_from_the_ui_succeeds_and_versions_raw_planes(
    dagster_ui, ui_env, raw_planes_run, page
):
    page.goto(f"{dagster_ui}{raw_planes_run}")
    outcome = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    outcome.wait_for(timeout=RUN_TIMEOUT_S * 1000)
    assert outcome.inner_text() == "Success", f"run {raw_planes_run} ended {outcome.inner_text()}"

    # The asset page now shows the materialization, with the DVC md5 as its data version.
    page.goto(f"{dagster_ui}/assets/raw_planes")
    page.get_by_text("dvc_md5").first.wait_for()
    pointer = ui_env.data_dir / "raw" / "planes.parquet.dvc"
    assert pointer.is_file(), f"the run did not version {pointer} with DVC"
    md5 = yaml.safe_load(pointer.read_text())["outs"][0]["md5"]
    assert page.get_by_text(md5).count() >= 1, f"the asset page does not show the md5 {md5}"
