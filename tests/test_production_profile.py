"""The production profile: one variable selects it, every endpoint comes from the environment,
and the deployment files a team applies are consistent with the code they deploy.
"""

from pathlib import Path

import pytest
import yaml

from twelve import testing
from twelve.core import profile
from twelve.core.paths import REPO_ROOT

INFRA = REPO_ROOT / "infra" / "production"
PRODUCTION_ENV = {
    "TWELVE_PROFILE": "production",
    "TWELVE_MLFLOW_TRACKING_URI": "http://mlflow.test:5000",
    "TWELVE_MLFLOW_ARTIFACTS": "s3://twelve/mlflow",
    "TWELVE_DVC_REMOTE": "s3://twelve/dvc",
    "TWELVE_FEAST_REGISTRY_URL": "postgresql+psycopg://twelve:secret@pg.test:5432/feast",
    "TWELVE_REDIS_URL": "redis.test:6379",
}


@pytest.fixture
def production(monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    from twelve.core.resources import project_resources

    project_resources.cache_clear()  # resolved per profile: forget the local ones
    yield
    project_resources.cache_clear()


def test_local_is_the_default(monkeypatch):
    monkeypatch.delenv("TWELVE_PROFILE", raising=False)
    assert profile.active() == "local"
    assert profile.production_settings() is None


def test_an_unknown_profile_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("TWELVE_PROFILE", "staging")
    with pytest.raises(profile.ProfileError, match="'staging'"):
        profile.active()


def test_production_names_every_missing_variable(monkeypatch):
    monkeypatch.setenv("TWELVE_PROFILE", "production")
    for name in profile.REQUIRED_IN_PRODUCTION:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWELVE_DVC_REMOTE", "s3://twelve/dvc")
    with pytest.raises(profile.ProfileError) as error:
        profile.production_settings()
    missing = set(profile.REQUIRED_IN_PRODUCTION) - {"TWELVE_DVC_REMOTE"}
    assert all(name in str(error.value) for name in missing)
    assert "TWELVE_DVC_REMOTE" not in str(error.value)


def test_production_resources_point_at_the_shared_services(production):
    resources = testing.stores("flight_delays")

    assert resources.mlflow.resolved_tracking_uri() == "http://mlflow.test:5000"
    assert resources.mlflow.resolved_artifact_location() == "s3://twelve/mlflow"
    assert resources.dvc.remote_url == "s3://twelve/dvc"
    assert resources.feast.feature_store_yaml == "feature_store.production.yaml"


def test_the_production_feature_store_uses_sql_registry_and_redis():
    text = (REPO_ROOT / "feature_repo" / "feature_store.production.yaml").read_text()
    expanded = yaml.safe_load(text)
    assert expanded["registry"]["registry_type"] == "sql"
    assert expanded["online_store"]["type"] == "redis"
    local = yaml.safe_load((REPO_ROOT / "feature_repo" / "feature_store.yaml").read_text())
    assert expanded["project"] == local["project"], "both environments serve one Feast project"
    assert "${TWELVE_FEAST_REGISTRY_URL}" in text
    assert "${TWELVE_REDIS_URL}" in text


def test_the_dagster_instance_runs_on_postgres_with_secrets_from_the_environment():
    instance = yaml.safe_load((INFRA / "dagster.yaml").read_text())
    db = instance["storage"]["postgres"]["postgres_db"]
    assert db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert db["scheme"] == "postgresql+psycopg2"
    assert instance["telemetry"]["enabled"] is False


def _workspace_modules() -> set[str]:
    workspace = yaml.safe_load((REPO_ROOT / "infra" / "workspace.yaml").read_text())
    return {entry["python_module"]["module_name"] for entry in workspace["load_from"]}


def test_helm_values_deploy_every_code_location_with_the_k8s_run_launcher():
    values = yaml.safe_load((INFRA / "helm" / "dagster-values.yaml").read_text())
    deployments = values["dagster-user-deployments"]["deployments"]
    modules = {
        d["dagsterApiGrpcArgs"][d["dagsterApiGrpcArgs"].index("--module-name") + 1]
        for d in deployments
    }
    assert _workspace_modules() <= modules, "a project of the workspace is not deployed"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    for deployment in deployments:
        assert {"name": "TWELVE_PROFILE", "value": "production"} in deployment["env"]


def test_the_bento_manifest_probes_bentoml_health_endpoints():
    documents = list(yaml.safe_load_all((INFRA / "k8s" / "bento-flight-delay.yaml").read_text()))
    kinds = {doc["kind"]: doc for doc in documents}
    assert set(kinds) == {"Deployment", "Service"}
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    selector = kinds["Deployment"]["spec"]["selector"]["matchLabels"]
    assert kinds["Service"]["spec"]["selector"] == selector


def test_the_bento_manifest_runs_the_image_make_image_builds_read_only():
    from twelve.deploy.container import image_name
    from twelve.deploy.image import read_bentofile

    documents = list(yaml.safe_load_all((INFRA / "k8s" / "bento-flight-delay.yaml").read_text()))
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    bento_name = read_bentofile(REPO_ROOT / "bentos" / "flight_delay")["name"]
    assert container["image"] == image_name(f"{bento_name}:BENTO_VERSION")
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {item["name"]: item.get("value") for item in container["env"]}
    (tmp,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert env["BENTOML_HOME"].startswith("/tmp/")
    assert {"name": tmp["name"], "emptyDir": {}} in spec["volumes"]


def test_the_bento_takes_its_serving_token_from_a_secret_under_the_production_profile():
    documents = list(yaml.safe_load_all((INFRA / "k8s" / "bento-flight-delay.yaml").read_text()))
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    env = {
        item["name"]: item
        for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["TWELVE_PROFILE"]["value"] == "production"  # where the bento refuses an open start
    token = env["TWELVE_SERVING_TOKEN"]
    assert "value" not in token, "the token must not be written in the manifest"
    assert token["valueFrom"]["secretKeyRef"] == {"name": "flight-delay-serving", "key": "token"}


def test_compose_runs_the_services_the_profile_needs():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "minio", "mlflow"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    for name in ("postgres", "redis", "minio"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    init = Path(INFRA / "postgres-init.sql").read_text()
    assert "CREATE DATABASE mlflow" in init
    assert "CREATE DATABASE feast" in init
