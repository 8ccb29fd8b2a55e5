"""The served bento as an OCI image, built and run with podman (factor 12's deployable unit).

``twelve image PROJECT`` (``make image``) builds the image of the champion's bento with
``bentoml containerize --backend podman``; the ``bento`` block does it each time it runs (after
every alias decision, a promotion included) when its ``image`` option is on. Three things make
that work on a machine without Docker or access to public container registries:

1. **A base image built here.** :func:`ensure_base_image` bootstraps Debian bookworm (``debootstrap
   --variant=minbase`` from the mirror apt uses, with bookworm's own ``python3``, 3.11: our
   Python) and imports it as :data:`BASE_IMAGE`, the ``docker.base_image`` of every bentofile.
   The locked ``uv`` binary goes in with it, so the bento's Dockerfile installs the serving
   packages with it instead of pip-installing uv. The certificate authorities this machine's
   administrator added (``/usr/local/share/ca-certificates``: a TLS-inspecting proxy's) are
   trusted in it, so the build reaches the package index as this machine does.
2. **podman's settings for this kernel** (``infra/containers/containers.conf``, STACK-NOTES
   "Containers"): runc, the cgroupfs manager, no default ulimits; builds isolated with chroot,
   on the host network (:func:`podman_env`).
3. **Runs the way Kubernetes would** (:func:`running`): read-only root filesystem (BentoML's home
   on a tmpfs), the feature store and the token from the environment, SIGTERM to stop.

The image is tagged ``localhost/<bento name>:<bento version>`` (:func:`image_name`); its id is
recorded on the MLflow model version beside the bento tag (:func:`record_image`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twelve.core.paths import REPO_ROOT

log = logging.getLogger(__name__)

BASE_IMAGE = "localhost/twelve-base:bookworm-py311"
CONTAINERS_CONF = REPO_ROOT / "infra" / "containers" / "containers.conf"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What the base image holds besides Debian's minimal base: Python 3.11, and what BentoML's
# Dockerfile runs before its own packages (groupadd/useradd from passwd, TLS roots).
BASE_PACKAGES = ("python3", "passwd", "ca-certificates")
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
IMAGE_KEY = "twelve.image"  # model version tags, beside bento_tag
IMAGE_ID_KEY = "twelve.image_id"
CONTAINER_PORT = 3000
READY_TIMEOUT_S = 180.0
STOP_GRACE_S = 30


class ContainerError(RuntimeError):
    """A container step failed; the message says which, why and what to do."""


def podman_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment podman runs in: the repository's containers.conf, chroot isolation.

    A ``CONTAINERS_CONF`` already set (a machine whose podman works with its own settings) wins.
    """
    env = dict(os.environ if environ is None else environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    env.setdefault("BUILDAH_ISOLATION", "chroot")
    return env


def podman_binary() -> str:
    """The podman executable.

    Raises:
        ContainerError: podman is not installed (the message says how to install it).
    """
    found = shutil.which("podman")
    if found is None:
        raise ContainerError(
            "podman is not installed: `make image` installs Debian's podman, runc and debootstrap "
            "(or `apt-get install podman runc debootstrap`)"
        )
    return found


def _podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [podman_binary(), *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-20:])
        what = " ".join(args[:3])
        raise ContainerError(f"`podman {what} ...` failed (exit {done.returncode}):\n{tail}")
    return done


def image_name(bento_tag: str) -> str:
    """``localhost/<name>:<version>`` of a bento's image (the tag ``make image`` produces)."""
    name, _, version = bento_tag.partition(":")
    if not name or not version:
        raise ContainerError(f"{bento_tag!r} is not a bento tag (name:version)")
    return f"localhost/{name}:{version}"


def image_facts(name: str) -> dict[str, object] | None:
    """``{"id", "size_bytes", "created"}`` of a local image, None when there is none."""
    done = _podman("image", "inspect", name, check=False, timeout=60)
    if done.returncode != 0:
        return None
    (facts,) = json.loads(done.stdout)
    return {"id": facts["Id"], "size_bytes": int(facts["Size"]), "created": facts["Created"]}


def remove_image(name: str) -> bool:
    """Remove a local image and the layers only it used (its build cache); False if absent."""
    return _podman("rmi", "--force", name, check=False, timeout=300).returncode == 0


def debian_mirror(sources: Mapping[str, str]) -> str:
    """The Debian mirror apt uses here (deb822 ``URIs:`` or a ``deb`` line), else deb.debian.org.

    Args:
        sources: file name -> content of apt's sources (``/etc/apt/sources.list{,.d/*}``).
    """
    for name, text in sorted(sources.items()):
        if name.endswith(".sources"):
            stanzas = text.split("\n\n")
            for stanza in stanzas:
                if re.search(r"^Suites:.*\bbookworm\b", stanza, re.M) and not re.search(
                    r"^Enabled:\s*no", stanza, re.M
                ):
                    uri = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                    if uri and "security" not in uri.group(1):
                        return uri.group(1).rstrip("/")
        elif name.endswith(".list"):
            for line in text.splitlines():
                match = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", line + " ")
                if match and "security" not in match.group(1):
                    return match.group(1).rstrip("/")
    return DEFAULT_MIRROR


def _apt_sources() -> dict[str, str]:
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    return {path.name: path.read_text() for path in files if path.is_file()}


def _uv_binary() -> Path:
    from twelve.deploy.image import find_uv_dir

    return find_uv_dir() / "uv"


@dataclass(frozen=True)
class BaseImage:
    """The base image every bento image starts from."""

    name: str
    image_id: str
    built: bool
    seconds: float


def ensure_base_image(name: str = BASE_IMAGE, rebuild: bool = False) -> BaseImage:
    """The base image, bootstrapped from Debian bookworm when it is not there (about 1 min).

    Raises:
        ContainerError: debootstrap is missing or fails, or the import fails.
    """
    facts = None if rebuild else image_facts(name)
    if facts is not None:
        return BaseImage(name, str(facts["id"]), built=False, seconds=0.0)
    if shutil.which("debootstrap") is None:
        raise ContainerError(
            "debootstrap is not installed (it builds the base image): `make image` installs it "
            "(or `apt-get install debootstrap`)"
        )
    started = time.perf_counter()
    mirror = debian_mirror(_apt_sources())
    with tempfile.TemporaryDirectory(prefix="twelve-base-") as folder:
        root = Path(folder) / "rootfs"
        log.info("bootstrapping Debian bookworm (minbase, %s) from %s", BASE_PACKAGES, mirror)
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
             "bookworm", str(root), mirror],
            capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise ContainerError(f"debootstrap of bookworm from {mirror} failed:\n{tail}")
        _finish_rootfs(root)
        archive = Path(folder) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        _podman(
            "import",
            "--change", "ENV LANG=C.UTF-8",
            # uv reads this bundle (the system roots, plus the local CAs added above).
            "--change", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            "--change", 'CMD ["/bin/bash"]',
            str(archive), name,
            timeout=600,
        )  # fmt: skip
    facts = image_facts(name)
    assert facts is not None, f"{name} was imported but cannot be inspected"
    seconds = time.perf_counter() - started
    log.info("base image %s built in %.0f s", name, seconds)
    return BaseImage(name, str(facts["id"]), built=True, seconds=seconds)


def _finish_rootfs(root: Path) -> None:
    """The locked uv, this machine's local CAs, no apt caches."""
    uv = root / "usr" / "local" / "bin" / "uv"
    shutil.copy2(_uv_binary(), uv)
    local_cas = sorted(LOCAL_CA_DIR.glob("*.crt")) if LOCAL_CA_DIR.is_dir() else []
    if local_cas:
        target = root / "usr" / "local" / "share" / "ca-certificates"
        target.mkdir(parents=True, exist_ok=True)
        for path in local_cas:
            shutil.copy2(path, target / path.name)
        subprocess.run(
            ["chroot", str(root), "update-ca-certificates"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (root / cache).glob("*"):
            if item.is_file():
                item.unlink()


@dataclass(frozen=True)
class BuiltImage:
    """An image built from a bento."""

    name: str
    bento_tag: str
    image_id: str
    size_bytes: int
    seconds: float
    base: BaseImage
    steps: int = 0  # build steps of the Dockerfile
    cached_steps: int = 0  # of which podman took from its layer cache

    @property
    def cache_summary(self) -> str:
        """``cold``, or how many steps came from the layer cache."""
        if not self.cached_steps:
            return "cold: no step from the layer cache"
        return f"{self.cached_steps} of {self.steps} steps from the layer cache"

    def run_command(self, home: str = "/path/to/twelve_home") -> str:
        """How to run it by hand (the feature store under ``home``)."""
        return (
            f"podman run --rm --network host --read-only -e BENTOML_HOME=/tmp/bentoml "
            f"-v {home}:/twelve -e TWELVE_HOME=/twelve {self.name} serve --port {CONTAINER_PORT}"
        )


def build_image(
    bento_tag: str, bentoml_home: Path, base_image: str = BASE_IMAGE, no_cache: bool = False
) -> BuiltImage:
    """Build the OCI image of a bento (``bentoml containerize --backend podman``).

    The serving packages are installed from the package index during the build; layers are
    cached by podman, so rebuilding the same bento takes seconds (``no_cache``: build every
    layer again, the base image aside).

    Raises:
        ContainerError: the bento does not start from ``base_image``, or the build failed.
    """
    from twelve.deploy.bento import bento_exists, bentoml_env

    home = Path(bentoml_home)
    if not bento_exists(home, bento_tag):
        raise ContainerError(f"bento {bento_tag} is not in BENTOML_HOME {home}: build it first")
    name, version = bento_tag.split(":", 1)
    dockerfile = home / "bentos" / name / version / "env" / "docker" / "Dockerfile"
    declared = re.search(r"^FROM\s+(\S+)", dockerfile.read_text(), re.M)
    if declared is None or declared.group(1) != base_image:
        raise ContainerError(
            f"bento {bento_tag} starts from {declared.group(1) if declared else 'nothing'}, not "
            f"{base_image}: set `docker: base_image: {base_image}` in its bentofile.yaml and "
            "rebuild the bento (public registries cannot be pulled from here)"
        )
    base = ensure_base_image(base_image)
    podman_binary()
    target = image_name(bento_tag)
    started = time.perf_counter()
    command = [
        "bentoml", "containerize", bento_tag, "--backend", "podman", "--image-tag", target,
        "--opt", "network=host", "--opt", "isolation=chroot",
        *(["--opt", "no-cache"] if no_cache else []),
    ]  # fmt: skip
    log.info("building image %s from bento %s", target, bento_tag)
    done = subprocess.run(
        command, env=podman_env(bentoml_env(home)), capture_output=True, text=True,
        timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join((done.stderr + done.stdout).strip().splitlines()[-25:])
        raise ContainerError(
            f"bentoml containerize {bento_tag} failed (exit {done.returncode}):\n{tail}"
        )
    facts = image_facts(target)
    if facts is None:
        raise ContainerError(f"bentoml containerize reported success but {target} does not exist")
    output = done.stdout + done.stderr
    steps = max((int(total) for total in re.findall(r"STEP \d+/(\d+)", output)), default=0)
    return BuiltImage(
        target, bento_tag, str(facts["id"]), int(facts["size_bytes"]),  # type: ignore[call-overload]
        time.perf_counter() - started, base, steps, output.count("--> Using cache"),
    )  # fmt: skip


def record_image(client: Any, registered_model: str, version: str, built: BuiltImage) -> None:
    """Record the image on the model version, beside its ``bento_tag``."""
    client.set_model_version_tag(registered_model, version, IMAGE_KEY, built.name)
    client.set_model_version_tag(registered_model, version, IMAGE_ID_KEY, built.image_id)


@dataclass
class RunningContainer:
    """A container serving a bento image on 127.0.0.1."""

    name: str
    url: str
    ready_seconds: float
    exit_code: int | None = None
    stop_seconds: float | None = None

    def logs(self) -> str:
        """What the container printed so far."""
        done = _podman("logs", self.name, check=False, timeout=60)
        return done.stdout + done.stderr


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextmanager
def running(
    image: str,
    port: int,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    read_only: bool = True,
) -> Iterator[RunningContainer]:
    """Run an image as Kubernetes would, yield it once ``/readyz`` answers 200, then SIGTERM it.

    Args:
        image: the image to run.
        port: the port on 127.0.0.1 (host network).
        home: a ``TWELVE_HOME`` holding the feature store (mounted read-write at ``/twelve``:
            the served rows' profiles are written there); None for a production store whose
            endpoints are in ``env``.
        env: the container's environment (token, profile, store endpoints).
        read_only: a read-only root filesystem (BentoML's home on a tmpfs).

    Raises:
        ContainerError: the container exited or was not ready in time (with its logs).
    """
    name = f"twelve-{os.getpid()}-{port}"
    command = ["run", "-d", "--name", name, "--network", "host", "-e", "BENTOML_HOME=/tmp/bentoml",
               "-e", "BENTOML_DO_NOT_TRACK=True"]  # fmt: skip
    if read_only:
        command += ["--read-only"]  # podman mounts tmpfs on /tmp, /run and /var/tmp
    if home is not None:
        command += ["-v", f"{Path(home).resolve()}:/twelve", "-e", "TWELVE_HOME=/twelve"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    command += [image, "serve", "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    _podman(*command, timeout=120)
    container = RunningContainer(name, f"http://127.0.0.1:{port}", 0.0)
    try:
        while not _ready(container.url):
            state = _podman("inspect", name, "--format", "{{.State.Status}}", check=False).stdout
            if state.strip() not in {"running", "created", "configured"}:
                why = "exited before it was ready"
            elif time.perf_counter() - started > READY_TIMEOUT_S:
                why = f"not ready within {READY_TIMEOUT_S:.0f} s"
            else:
                time.sleep(0.2)
                continue
            raise ContainerError(f"{image} {why}:\n{container.logs()[-4000:]}")
        container.ready_seconds = time.perf_counter() - started
        yield container
    finally:
        stopping = time.perf_counter()
        _podman("stop", "--time", str(STOP_GRACE_S), name, check=False, timeout=STOP_GRACE_S + 60)
        container.stop_seconds = time.perf_counter() - stopping
        code = _podman("inspect", name, "--format", "{{.State.ExitCode}}", check=False).stdout
        container.exit_code = int(code.strip()) if code.strip().lstrip("-").isdigit() else None
        _podman("rm", "-f", name, check=False, timeout=120)
