"""The serving image's pure parts: its name, the Debian mirror, podman's settings, refusals.

The image itself is built and run by ``tests/container`` (``make test-container``).
"""

import pytest

from twelve.core.paths import REPO_ROOT
from twelve.deploy import container

DEB822 = """Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_the_image_is_named_after_the_bento_tag():
    assert container.image_name("flight_delay:v3-abc") == "localhost/flight_delay:v3-abc"
    with pytest.raises(container.ContainerError, match="not a bento tag"):
        container.image_name("flight_delay")


@pytest.mark.parametrize(
    ("sources", "mirror"),
    [
        ({"debian.sources": DEB822}, "http://mirror.example/debian"),
        ({"debian.sources": DEB822.replace("Types: deb\nURIs: http://mirror.example/debian\n",
                                           "Types: deb\nEnabled: no\nURIs: http://old/debian\n")},
         container.DEFAULT_MIRROR),
        ({"sources.list": "deb [arch=amd64] http://lists.example/debian/ bookworm main\n"},
         "http://lists.example/debian"),
        ({"sources.list": "deb http://sec.example/debian-security bookworm-security main\n"},
         container.DEFAULT_MIRROR),
        ({"other.list": "deb http://archive.ubuntu.com/ubuntu noble main\n"},
         container.DEFAULT_MIRROR),
        ({}, container.DEFAULT_MIRROR),
    ],
)  # fmt: skip
def test_the_base_image_is_bootstrapped_from_the_mirror_apt_uses(sources, mirror):
    assert container.debian_mirror(sources) == mirror


def test_podman_runs_with_the_repositorys_settings_unless_the_machine_has_its_own():
    env = container.podman_env({"PATH": "/usr/bin"})
    assert env["CONTAINERS_CONF"] == str(REPO_ROOT / "infra" / "containers" / "containers.conf")
    assert env["BUILDAH_ISOLATION"] == "chroot"
    assert container.podman_env({"CONTAINERS_CONF": "/etc/mine.conf"})["CONTAINERS_CONF"] == (
        "/etc/mine.conf"
    )
    settings = (REPO_ROOT / "infra" / "containers" / "containers.conf").read_text()
    for line in ('runtime = "runc"', 'cgroup_manager = "cgroupfs"', "default_ulimits = []"):
        assert line in settings


def test_a_missing_podman_is_named_with_how_to_install_it(monkeypatch):
    monkeypatch.setattr(container.shutil, "which", lambda name: None)
    with pytest.raises(container.ContainerError, match="apt-get install podman"):
        container.podman_binary()


def test_a_bento_that_does_not_start_from_the_base_image_is_refused(tmp_path):
    bento = tmp_path / "bentos" / "flight_delay" / "v1"
    (bento / "env" / "docker").mkdir(parents=True)
    (bento / "bento.yaml").write_text("name: flight_delay\n")
    (bento / "env" / "docker" / "Dockerfile").write_text("FROM python:3.11-slim AS base\n")
    with pytest.raises(container.ContainerError, match=r"starts from python:3\.11-slim") as error:
        container.build_image("flight_delay:v1", tmp_path)
    assert f"base_image: {container.BASE_IMAGE}" in str(error.value)


def test_a_missing_bento_is_named(tmp_path):
    with pytest.raises(container.ContainerError, match="bento flight_delay:v9 is not in"):
        container.build_image("flight_delay:v9", tmp_path)


def test_every_bentofile_starts_from_the_base_image():
    from twelve.deploy.image import read_bentofile

    template = REPO_ROOT / "platform/src/twelve/scaffold/template/{{cookiecutter.name}}/bento"
    assert f"base_image: {container.BASE_IMAGE}" in (template / "bentofile.yaml").read_text()
    for service_dir in sorted((REPO_ROOT / "bentos").iterdir()):
        docker = read_bentofile(service_dir).get("docker") or {}
        assert docker.get("base_image") == container.BASE_IMAGE, service_dir


def test_the_bento_block_builds_the_champions_image_only_when_asked(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from twelve.deploy.assets import BentoConfig, build_champion_image

    def version(number: str, alias: str):
        ref = SimpleNamespace(aliases=[alias], registered_model="m", version=number)
        return ref, SimpleNamespace(tag=f"svc:v{number}"), None

    built = [version("4", "challenger"), version("3", "champion")]
    base = container.BaseImage(container.BASE_IMAGE, "b" * 64, built=False, seconds=0.0)
    calls, recorded = [], []

    def build(tag, home):
        calls.append((tag, home))
        return container.BuiltImage(container.image_name(tag), tag, "f" * 64, 10**9, 42.0, base)

    monkeypatch.setattr(container, "build_image", build)
    monkeypatch.setattr(container, "record_image", lambda *args: recorded.append(args[1:3]))
    mlflow = SimpleNamespace(client=lambda: "client")
    bentoml = SimpleNamespace(resolved_home=lambda: tmp_path)

    assert build_champion_image(BentoConfig(registered_model="m"), mlflow, bentoml, built) == {}
    assert calls == []
    asked = BentoConfig(registered_model="m", image=True)
    metadata = build_champion_image(asked, mlflow, bentoml, built)
    assert calls == [("svc:v3", tmp_path)]
    assert recorded == [("m", "3")]
    assert metadata["image"] == "localhost/svc:v3"
    assert metadata["image_id"] == "f" * 12


def test_twelve_image_without_podman_exits_2_and_says_how_to_install_it(
    monkeypatch, tmp_path, caplog
):
    from twelve.cli.main import EXIT_USAGE, main

    monkeypatch.setenv("TWELVE_HOME", str(tmp_path))
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setattr(container.shutil, "which", lambda name: None)
    assert main(["image", "--tag", "flight_delay:v1"]) == EXIT_USAGE
    assert "podman is not installed" in caplog.text
