"""The deployment files validate against the schemas of the tools that read them, offline.

- ``infra/production/k8s/*.yaml``: every document against the Kubernetes OpenAPI schemas in
  strict mode (an unknown or misspelt field is an error), as bundled by ``kubernetes-validate``.
- ``infra/production/compose.yaml``: against the Compose specification's JSON schema, as vendored
  by ``check-jsonschema``.
- ``infra/production/helm/dagster-values.yaml``: neither a Helm binary nor the Dagster chart's
  ``values.schema.json`` installs from the package registries, so the Kubernetes objects inside
  the values (environment, secrets, resources of the code location and of the run pods) are
  checked against their Kubernetes definitions.
- ``infra/production/dagster.yaml``: against Dagster's own instance config schema.

Each validator is also shown a broken copy, so a validator that accepts anything fails here.
"""

import copy
import importlib.resources
import json

import pytest
import yaml

from twelve.core.paths import REPO_ROOT

INFRA = REPO_ROOT / "infra" / "production"
KUBERNETES_VERSION = "1.37"
MANIFESTS = sorted((INFRA / "k8s").glob("*.yaml"))
DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"


def _documents(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _validate_manifest(document: dict) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def _definition_validator(name: str):
    """A JSON-schema validator of one Kubernetes definition, e.g. ``io.k8s.api.core.v1.EnvVar``."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    version = next(
        v for v in reversed(utils.all_versions()) if utils.major_minor(v) <= KUBERNETES_VERSION
    )
    definitions = utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", KUBERNETES_VERSION
    )
    registry = Resource.from_contents(definitions) @ Registry()
    schema = {"$ref": f"{DEFINITIONS_URI}#/$defs/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _compose_validator():
    import jsonschema

    text = (
        importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("compose-spec.json")
        .read_text()
    )
    schema = json.loads(text)
    return jsonschema.validators.validator_for(schema)(schema)


def test_there_are_kubernetes_manifests():
    assert MANIFESTS, f"no manifest under {INFRA / 'k8s'}"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_kubernetes_manifest_is_valid_in_strict_mode(path):
    documents = _documents(path)
    assert documents, f"{path} holds no document"
    for document in documents:
        _validate_manifest(document)


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda d: d["spec"].update(replica=2), "replica"),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(ports="3000"), "ports"),
        (lambda d: d["spec"].pop("selector"), "selector"),
    ],
    ids=["unknown field", "wrong type", "missing required field"],
)
def test_a_broken_deployment_is_refused_naming_the_field(breakage, field):
    import kubernetes_validate

    path = INFRA / "k8s" / "bento-flight-delay.yaml"
    deployment = next(d for d in _documents(path) if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    breakage(broken)
    with pytest.raises(kubernetes_validate.ValidationError, match=field):
        _validate_manifest(broken)


def test_the_compose_file_follows_the_compose_specification():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    errors = sorted(_compose_validator().iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_a_broken_compose_file_is_refused():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    compose["services"]["redis"]["restart_policy"] = "always"  # belongs under deploy:
    compose["services"]["postgres"]["ports"] = "5432"
    errors = list(_compose_validator().iter_errors(compose))
    redis = [e.message for e in errors if tuple(e.path) == ("services", "redis")]
    assert any("restart_policy" in message for message in redis), errors
    assert any(tuple(e.path) == ("services", "postgres", "ports") for e in errors), errors


def _helm_values():
    return yaml.safe_load((INFRA / "helm" / "dagster-values.yaml").read_text())


def test_the_kubernetes_objects_in_the_helm_values_are_valid():
    values = _helm_values()
    env_var = _definition_validator("io.k8s.api.core.v1.EnvVar")
    resources = _definition_validator("io.k8s.api.core.v1.ResourceRequirements")
    secret_ref = _definition_validator("io.k8s.api.core.v1.LocalObjectReference")
    checked = 0
    for deployment in values["dagster-user-deployments"]["deployments"]:
        for item in deployment.get("env", []):
            env_var.validate(item)
            checked += 1
        for item in deployment.get("envSecrets", []):
            secret_ref.validate(item)
            checked += 1
        resources.validate(deployment["resources"])
        checked += 1
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    for item in launcher.get("envSecrets", []):
        secret_ref.validate(item)
        checked += 1
    resources.validate(launcher["runK8sConfig"]["containerConfig"]["resources"])
    assert checked >= 4


def test_a_misspelt_resource_in_the_helm_values_is_refused():
    import jsonschema

    deployment = _helm_values()["dagster-user-deployments"]["deployments"][0]
    broken = {**deployment["resources"], "limit": {"memory": "3Gi"}}
    with pytest.raises(jsonschema.ValidationError, match="limit"):
        _definition_validator("io.k8s.api.core.v1.ResourceRequirements").validate(broken)


def test_the_dagster_instance_file_follows_dagsters_instance_schema(monkeypatch, tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    for name, value in {
        "DAGSTER_PG_USERNAME": "twelve", "DAGSTER_PG_PASSWORD": "secret",
        "DAGSTER_PG_HOST": "postgres.test", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text((INFRA / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert "postgres" in config["storage"]

    broken = yaml.safe_load((INFRA / "dagster.yaml").read_text())
    broken["storage"]["postgres"]["postgres_dbb"] = broken["storage"]["postgres"].pop("postgres_db")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(Exception, match="postgres_dbb"):
        dagster_instance_config(str(tmp_path))
