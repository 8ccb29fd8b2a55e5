"""Real PostgreSQL, Redis and an S3-compatible store on 127.0.0.1, for the production profile.

What the production-profile tests run against (and what a user can start to try the profile on
one machine without Docker): Debian's ``postgresql`` and ``redis-server`` and PyPI's
``moto[server]``, each on a free loopback port, with its data in a folder of the caller's, so a
restart keeps the data (Redis in append-only mode: with ``--save ''`` alone it was gone after a
restart, STACK-NOTES). Every process started here is stopped by ``stop()``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASES = ("dagster", "mlflow", "feast")
BUCKET = "twelve"


class ServiceError(RuntimeError):
    """A service could not be started or did not become ready; the message says which and why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise ServiceError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; run it as the `postgres` user when we are root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    """A PostgreSQL cluster in ``folder``, listening on 127.0.0.1:``port``, trust auth."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str, driver: str = "psycopg2") -> str:
        """SQLAlchemy URL of one database (``driver``: psycopg2 or psycopg)."""
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> Postgres:
        binary = PG_BIN / "pg_ctl"
        if not binary.exists():
            raise ServiceError(f"{binary} not found: install Debian's postgresql (make test does)")
        fresh = not self.data.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        if fresh:
            subprocess.run(
                _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                              "--auth=trust", "-E", "UTF8"]),
                check=True, capture_output=True,
            )  # fmt: skip
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        subprocess.run(
            _as_postgres([str(binary), "-D", str(self.data), "-w", "-l",
                          str(self.folder / "postgres.log"), "-o", options, "start"]),
            check=True, capture_output=True,
        )  # fmt: skip
        if fresh:
            import psycopg2

            connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres")
            connection.autocommit = True
            with connection.cursor() as cursor:
                for database in DATABASES:
                    cursor.execute(f"CREATE DATABASE {database}")
            connection.close()
        log.info("PostgreSQL on 127.0.0.1:%d (%s)", self.port, self.data)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast",
                              "stop"]),
                check=False, capture_output=True,
            )  # fmt: skip


@dataclass
class Redis:
    """A Redis server with its append-only file in ``folder``, on 127.0.0.1:``port``."""

    folder: Path
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Redis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError(
                "redis-server not found: install Debian's redis-server (make test does)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--appendonly", "yes",
             "--dir", str(self.folder), "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait_port(self.port, "redis-server")
        log.info("Redis on %s (%s)", self.url, self.folder)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            # Wait for the exit: a restart before it would find the port and the file busy.
            self._process.wait(timeout=30)


@dataclass
class S3:
    """moto's S3-compatible server on 127.0.0.1:``port`` with the bucket ``twelve``."""

    port: int = field(default_factory=free_port)
    _process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3:
        binary = Path(sys.executable).parent / "moto_server"
        self._process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait_port(self.port, "moto_server")
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                     aws_access_key_id="twelve", aws_secret_access_key="twelve-secret"
                     ).create_bucket(Bucket=BUCKET)  # fmt: skip
        log.info("S3 (moto) on %s, bucket %s", self.endpoint, BUCKET)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)


@dataclass
class Services:
    """The three services together, and the environment of the production profile on them."""

    postgres: Postgres
    redis: Redis
    s3: S3

    def environment(self) -> dict[str, str]:
        """Every variable ``TWELVE_PROFILE=production`` needs, pointing at these services."""
        return {
            "TWELVE_PROFILE": "production",
            "TWELVE_MLFLOW_TRACKING_URI": self.postgres.url("mlflow"),
            "TWELVE_MLFLOW_ARTIFACTS": f"s3://{BUCKET}/mlflow",
            "TWELVE_DVC_REMOTE": f"s3://{BUCKET}/dvc",
            "TWELVE_S3_ENDPOINT_URL": self.s3.endpoint,
            "TWELVE_FEAST_REGISTRY_URL": self.postgres.url("feast", driver="psycopg"),
            "TWELVE_REDIS_URL": self.redis.url,
            "AWS_ACCESS_KEY_ID": "twelve",
            "AWS_SECRET_ACCESS_KEY": "twelve-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.postgres.port),
            "DAGSTER_PG_DB": "dagster",
        }

    def restart_stores(self) -> None:
        """Stop and start PostgreSQL and Redis on the same ports and data folders."""
        self.postgres.stop()
        self.redis.stop()
        self.postgres.start()
        self.redis.start()

    def stop(self) -> None:
        for service in (self.s3, self.redis, self.postgres):
            service.stop()


@contextlib.contextmanager
def running(folder: Path) -> Iterator[Services]:
    """Start PostgreSQL, Redis and S3 with their data under ``folder``; stop them all on exit."""
    services = Services(Postgres(folder / "postgres"), Redis(folder / "redis"), S3())
    try:
        services.postgres.start()
        services.redis.start()
        services.s3.start()
        yield services
    finally:
        services.stop()
