"""The serving image, built and run as Kubernetes would (``make test-container``, in .ci/run).

A January model's bento over a real feature store (as in the serving tests) is built into an
OCI image with podman on the base image bootstrapped here from Debian bookworm: once with every
layer built, once more by ``twelve image`` (the champion's bento, found through MLflow) with its
layers cached. The
image then runs with a read-only root filesystem, the feature store mounted as its TWELVE_HOME and
the token from the environment: ``/readyz`` turns ready, ``/predict`` answers real February
flights with the same predictions as ``bentoml serve`` of the same bento, and SIGTERM stops it
with exit 0 after it profiled every row it served. Each test prints its figures: image size,
build times, time to ready, latency inside and outside the container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from bento_support import (
    bento_homes,
    build_served_bento,
    raw_holdout_flights,
    request_body,
    start_server,
    stop_server,
)

from twelve.deploy import container
from twelve.deploy.bento_server import free_port

pytestmark = [pytest.mark.container, pytest.mark.slow]

TOKEN = "container-token"
LATENCY_REQUESTS = 300


@pytest.fixture(scope="module")
def bento(tmp_path_factory):
    root = tmp_path_factory.mktemp("container")
    with bento_homes(root) as home:
        built, registered, _ = build_served_bento(root, home)
        yield root, home, built, registered


@pytest.fixture(scope="module")
def images(bento):
    """The image built (cold on a fresh machine), then again by `twelve image`, from the cache.

    `twelve image` finds the bento as a user's would: through the champion's version in the
    MLflow store under TWELVE_HOME (here the test's store, linked there).
    """
    root, home, built, _ = bento
    base = container.ensure_base_image()
    # Cold: this bento's image and the layers only it used removed first (a fresh machine).
    container.remove_image(container.image_name(built.tag))
    cold = container.build_image(built.tag, home / "bentoml")
    assert not (home / "mlflow").exists(), "the test's MLflow store is linked there"
    (home / "mlflow").symlink_to(root / "mlflow")
    started = time.perf_counter()
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "twelve"), "image", "flight_delays"],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    cached_seconds = time.perf_counter() - started
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    base_how = f"bootstrapped in {base.seconds:.0f} s" if base.built else "already there"
    print(
        f"\nimage {cold.name}: {cold.size_bytes / 1e6:.0f} MB (base {base.name} {base_how}); "
        f"first build {cold.seconds:.0f} s ({cold.cache_summary}), again with `twelve image` "
        f"{cached_seconds:.0f} s (process included)"
    )
    yield cold, cli.stdout
    # The tests leave no image behind (each run's bento has a new tag): the next run builds cold.
    assert container.remove_image(cold.name)
    assert container.image_facts(cold.name) is None


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/predict", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def _latency_ms(url: str, body: dict) -> tuple[float, float]:
    """p50 and p99 of one-flight /predict requests, one at a time, after a warm-up."""
    for _ in range(30):
        _post(url, body)
    times = []
    for _ in range(LATENCY_REQUESTS):
        started = time.perf_counter()
        _post(url, body)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _container_home(root: Path, home: Path) -> Path:
    """The feature store files in a folder the image's user (uid 1034) may write profiles to."""
    target = root / "container-home"
    target.mkdir()
    for name in ("feast_registry.db", "feast_online_store.db"):
        shutil.copy2(home / name, target / name)
        os.chmod(target / name, 0o666)
    os.chmod(target, 0o777)
    return target


def test_the_cli_names_the_image_and_how_to_run_and_ship_it(bento, images):
    _, _, built, _ = bento
    cold, output = images
    name = f"localhost/{built.tag}"
    assert cold.name == name
    assert output.startswith(f"image {name}\n")
    assert f"id {cold.image_id[:12]}" in output
    # The second build of the same bento took its layers from the cache of the first.
    assert re.search(rf"\(\d+ of {cold.steps} steps from the layer cache; base ", output), output
    assert "podman run --rm --network host --read-only" in output
    assert "kubectl set image deployment/" in output


def test_the_image_answers_like_bentoml_serve_and_stops_cleanly_on_sigterm(bento, images):
    root, home, built, registered = bento
    image, _ = images
    flights = raw_holdout_flights(40)
    body, one = request_body(flights), request_body(flights.head(1))

    process, url, _, outside_ready = start_server(
        built.tag, home, root, {"TWELVE_SERVING_TOKEN": TOKEN}
    )
    try:
        outside = _post(url, body)
        outside_ms = _latency_ms(url, one)
    finally:
        stop_server(process)

    served_home = _container_home(root, home)
    port = free_port()
    with container.running(
        image.name, port, home=served_home, env={"TWELVE_SERVING_TOKEN": TOKEN}
    ) as running:
        inside = _post(running.url, body)
        inside_ms = _latency_ms(running.url, one)
    print(
        f"\nready after `podman run` {running.ready_seconds:.1f} s (bentoml serve "
        f"{outside_ready:.1f} s); /predict 1 flight, {LATENCY_REQUESTS} requests one at a time: "
        f"p50/p99 {inside_ms[0]:.2f}/{inside_ms[1]:.2f} ms in the container, "
        f"{outside_ms[0]:.2f}/{outside_ms[1]:.2f} ms with bentoml serve "
        f"(ratio p50 {inside_ms[0] / outside_ms[0]:.2f}); SIGTERM to exit "
        f"{running.stop_seconds:.1f} s"
    )

    expected = [row["probability"] for row in outside["predictions"]]
    assert [row["probability"] for row in inside["predictions"]] == pytest.approx(
        expected, rel=1e-9, abs=1e-12
    )
    assert [row["label"] for row in inside["predictions"]] == [
        row["label"] for row in outside["predictions"]
    ]
    assert inside["bento_tag"] == built.tag
    assert inside["model_version"] == registered.ref.version
    # The features came from the mounted store: planes known to it are not flagged unknown.
    assert sum(not row["unknown_entities"] for row in inside["predictions"]) > 30
    # SIGTERM: a clean exit, after the last profile of every row it served was written.
    assert running.exit_code == 0, running.exit_code
    sidecars = [
        json.loads(path.read_text()) for path in (served_home / "serving_profiles").glob("*/*.json")
    ]
    assert sum(sidecar["requests"] for sidecar in sidecars) == 1 + 30 + LATENCY_REQUESTS


def test_twelve_image_records_the_image_on_the_champions_version(bento, images):
    _, _, _, registered = bento
    image, _ = images
    ref = registered.ref
    tags = registered.client.get_model_version(ref.registered_model, ref.version).tags
    assert tags[container.IMAGE_KEY] == image.name
    assert tags[container.IMAGE_ID_KEY] == image.image_id
