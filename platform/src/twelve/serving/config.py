"""Where a served model reads its features, how it is monitored and secured: the serving config.

A bento service folder holds ``serving.yaml``: the Feast repository and feature service the model
reads, the monitoring interval and buffer, the server's workers and batching. When the bento is
built, :func:`resolve_serving_config` records what it resolves to (the feature store of the
deployment profile, under ``TWELVE_HOME``) as ``serving_config.json`` inside the bento; a served
bento reads it back with :func:`load_serving_config`, moved under the ``TWELVE_HOME`` in force.

Security is decided here too (:func:`security_of`): under ``TWELVE_PROFILE=production`` (or for a
bento built under it) a bento refuses to start without ``TWELVE_SERVING_TOKEN``, and the contract
gate cannot be switched off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Written into the bento by twelve.deploy.bento; read by the service at start-up.
SERVING_CONFIG_FILE = "serving_config.json"
# Beside bentofile.yaml: what the serving config is resolved from.
SERVING_YAML = "serving.yaml"
SERVING_PROFILES_DIR = "serving_profiles"

# Environment read when the service starts (never at import).
TWELVE_HOME_ENV = "TWELVE_HOME"
PROFILE_ENV = "TWELVE_PROFILE"
TOKEN_ENV = "TWELVE_SERVING_TOKEN"
PROFILE_INTERVAL_ENV = "TWELVE_PROFILE_INTERVAL_SECONDS"
CONTRACT_ENV = "TWELVE_SERVING_CONTRACT"  # "off" skips the contract (benchmark baseline only)
MONITORING_ENV = "TWELVE_SERVING_MONITORING"  # "off" skips profiling (benchmark baseline only)
PRODUCTION = "production"

REGISTRY_FILE = "feast_registry.db"  # the platform's layout, for the pipeline and the bento
ONLINE_STORE_FILE = "feast_online_store.db"
DEFAULT_PROFILE_INTERVAL_S = 60.0
DEFAULT_MAX_BUFFER_ROWS = 200_000
DEFAULT_MAX_BATCH_ROWS = 2_000


class ServingConfigError(RuntimeError):
    """The serving configuration is missing or inconsistent (the message says what and where)."""


def relocate_feature_store(raw: Mapping[str, Any], state_dir: Path) -> dict[str, Any]:
    """A ``feature_store.yaml`` mapping with its file registry and SQLite store in ``state_dir``.

    The one rule of the platform's layout (both files live in ``TWELVE_HOME``), used by the
    pipeline (:func:`twelve.features.feast_repo.build_repo_config`) and the bento alike; other
    registry and online store types are kept as they are.

    Args:
        raw: the parsed yaml.
        state_dir: the folder holding the registry and the online store.

    Returns:
        A new mapping.
    """
    config = json.loads(json.dumps(dict(raw)))
    registry = config.get("registry")
    if registry is None or isinstance(registry, str):
        registry = config["registry"] = {"path": registry}
    if registry.get("registry_type", "file") == "file":
        registry["path"] = str(Path(state_dir) / REGISTRY_FILE)
    online = config.setdefault("online_store", {"type": "sqlite"})
    if isinstance(online, dict) and online.get("type", "sqlite") == "sqlite":
        online["path"] = str(Path(state_dir) / ONLINE_STORE_FILE)
    return config


def read_serving_yaml(service_dir: Path) -> dict[str, Any]:
    """``<service_dir>/serving.yaml`` as a mapping (read where the service is defined and built).

    Raises:
        ServingConfigError: the file is missing, or lacks ``feature_repo`` / ``feature_service``.
    """
    import yaml

    path = Path(service_dir) / SERVING_YAML
    if not path.is_file():
        raise ServingConfigError(f"{path} does not exist: the service has no serving config")
    spec = yaml.safe_load(path.read_text()) or {}
    missing = [key for key in ("feature_repo", "feature_service") if not spec.get(key)]
    if missing:
        raise ServingConfigError(f"{path}: missing key(s) {missing}")
    return spec


def resolve_serving_config(
    service_dir: Path, state_dir: Path, profile: str = "local"
) -> dict[str, Any]:
    """The serving config of a service folder, resolved for the state directory ``state_dir``.

    Reads ``<service_dir>/serving.yaml`` (``feature_repo`` relative to the monorepo root, or to
    the service folder when it starts with ``.``; ``feature_store_yaml``, ``feature_service``,
    ``local_timezone``, ``max_unknown_category_share``, ``monitoring``, ``batching``) and the
    feature repo's yaml; ``${VARS}`` in that yaml are kept and expanded at serve time.

    Args:
        service_dir: the bento's service folder.
        state_dir: ``TWELVE_HOME`` to record (the registry and online store live there).
        profile: the deployment profile the bento is built for (``twelve.core.profile.active()``):
            its entry in ``feature_store_yaml_by_profile`` wins over ``feature_store_yaml``, and a
            bento built for production is secured as one wherever it runs.

    Returns:
        A JSON-ready mapping (what :data:`SERVING_CONFIG_FILE` holds).

    Raises:
        ServingConfigError: ``serving.yaml`` or the feature store yaml is missing or incomplete.
    """
    import yaml

    from twelve.core.paths import REPO_ROOT

    spec = read_serving_yaml(service_dir)
    # "feature_repo" is relative to the monorepo root; one starting with "." (``../../feature_repo/
    # <project>``) to the service folder, so a project's bento finds its own Feast repo wherever
    # the monorepo is.
    base = Path(service_dir) if str(spec["feature_repo"]).startswith(".") else REPO_ROOT
    repo = (base / spec["feature_repo"]).resolve()
    by_profile = spec.get("feature_store_yaml_by_profile") or {}
    store_name = by_profile.get(profile) or spec.get("feature_store_yaml", "feature_store.yaml")
    store_yaml = repo / store_name
    if not store_yaml.is_file():
        raise ServingConfigError(
            f"{Path(service_dir) / SERVING_YAML}: feature store yaml {store_yaml} does not exist"
        )
    raw = yaml.safe_load(store_yaml.read_text()) or {}
    monitoring = spec.get("monitoring") or {}
    batching = spec.get("batching") or {}
    return {
        "profile": profile,
        "twelve_home": str(Path(state_dir).resolve()),
        "feature_store": relocate_feature_store(raw, Path(state_dir).resolve()),
        "feature_service": str(spec["feature_service"]),
        "local_timezone": str(spec.get("local_timezone", "UTC")),
        "max_unknown_category_share": float(spec.get("max_unknown_category_share", 0.0)),
        "monitoring": {
            "interval_seconds": float(
                monitoring.get("interval_seconds", DEFAULT_PROFILE_INTERVAL_S)
            ),
            "max_buffer_rows": int(monitoring.get("max_buffer_rows", DEFAULT_MAX_BUFFER_ROWS)),
        },
        "batching": {
            "enabled": bool(batching.get("enabled", True)),
            "max_batch_rows": int(batching.get("max_batch_rows", DEFAULT_MAX_BATCH_ROWS)),
        },
    }


def load_serving_config(service_dir: Path, environ: Mapping[str, str] | None = None) -> dict:
    """The serving config in force: the one recorded in the bento, moved to ``$TWELVE_HOME``.

    Inside a built bento, :data:`SERVING_CONFIG_FILE` holds what was resolved at build time.
    Run from the source folder (development, tests), ``serving.yaml`` is resolved now for
    ``$TWELVE_HOME``. Either way a ``TWELVE_HOME`` set in the environment wins over the recorded
    one: registry and online store paths under the recorded home are moved under it.

    Args:
        service_dir: the folder of ``service.py`` (a bento's ``src`` or the source folder).
        environ: the environment (default ``os.environ``).

    Returns:
        The config, with ``twelve_home`` and the feature store paths in force.
    """
    environ = os.environ if environ is None else environ
    recorded = Path(service_dir) / SERVING_CONFIG_FILE
    home = environ.get(TWELVE_HOME_ENV)
    if recorded.is_file():
        config = json.loads(recorded.read_text())
    elif home:
        config = resolve_serving_config(Path(service_dir), Path(home))
    else:
        raise ServingConfigError(
            f"neither {recorded} (written when the bento is built) nor {TWELVE_HOME_ENV} is set: "
            "cannot tell where the feature store is"
        )
    # ${VARS} of a production yaml (credentials, hosts) are expanded only now, in the server.
    config["feature_store"] = json.loads(os.path.expandvars(json.dumps(config["feature_store"])))
    if home and Path(home).resolve() != Path(config["twelve_home"]):
        _move_home(config, Path(config["twelve_home"]), Path(home).resolve())
    return config


def _move_home(config: dict[str, Any], old: Path, new: Path) -> None:
    for section in ("registry", "online_store"):
        part = config["feature_store"].get(section)
        if isinstance(part, dict) and part.get("path") and Path(part["path"]).is_relative_to(old):
            part["path"] = str(new / Path(part["path"]).relative_to(old))
    config["twelve_home"] = str(new)


def env_flag(environ: Mapping[str, str], name: str, default: bool = True) -> bool:
    """An on/off switch from the environment (``off``, ``0``, ``false``, ``no`` switch off)."""
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in {"off", "0", "false", "no"}


@dataclass(frozen=True)
class Security:
    """What a served bento enforces, decided once when it starts.

    Attributes:
        production: whether it runs (or was built) under the production profile.
        token: the bearer token API calls must carry; empty means none is asked for.
        contract: whether requests are checked against the model's contract.
        monitoring: whether scored rows are profiled.
    """

    production: bool
    token: str
    contract: bool
    monitoring: bool


def security_of(config: Mapping[str, Any], environ: Mapping[str, str]) -> Security:
    """The security a bento starts with: strict in production, switchable elsewhere.

    Production is ``TWELVE_PROFILE=production`` in the server's environment, or a bento built
    under that profile (its recorded ``profile``), whatever the environment says now.

    Raises:
        ServingConfigError: production without ``TWELVE_SERVING_TOKEN``, or with the contract
            switched off (``TWELVE_SERVING_CONTRACT=off``): the bento refuses to start.
    """
    production = PRODUCTION in (
        str(environ.get(PROFILE_ENV, "")).strip().lower(),
        str(config.get("profile", "")).lower(),
    )
    token = str(environ.get(TOKEN_ENV, "")).strip()
    contract = env_flag(environ, CONTRACT_ENV)
    if production and not token:
        raise ServingConfigError(
            f"the production profile serves only with a bearer token: set {TOKEN_ENV} (in "
            "Kubernetes, from a Secret); refusing to start an open endpoint"
        )
    if production and not contract:
        raise ServingConfigError(
            f"{CONTRACT_ENV}=off is refused under the production profile: every request is "
            "checked against the model's contract there"
        )
    return Security(production, token, contract, env_flag(environ, MONITORING_ENV))
