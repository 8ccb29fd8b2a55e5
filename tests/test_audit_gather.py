"""The audit's gather step on real, small, throw-away stores: what each source yields."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pandas as pd
import pytest

from tests.audit_support import good_evidence
from twelve.proof import gather, rules, stores
from twelve.proof.evidence import Evidence
from twelve.proof.scorecard import FAIL, PASS
from twelve.proof.testing_evidence import RecordedTests, write_record


def _dvc_file(env, name: str, content: bytes) -> str:
    path = env.data_dir / "raw" / "flights" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return env.dvc().track(path)


def test_a_raw_month_lost_from_the_remote_and_the_cache_is_named(twelve_env):
    dvc = twelve_env.dvc()
    january = _dvc_file(twelve_env, "2013-01.parquet", b"january")
    march = _dvc_file(twelve_env, "2013-03.parquet", b"march")
    for root in (twelve_env.remote, twelve_env.repo / ".dvc" / "cache"):
        (root / "files" / "md5" / march[:2] / march[2:]).unlink()
    evidence = good_evidence()
    evidence.manifest["raw_inputs"] = {
        "flights/2013-01.parquet": january,
        "flights/2013-03.parquet": march,
    }
    evidence.data_versions = gather.data_versions(evidence, dvc)
    by_name = {v.name: v for v in evidence.data_versions}
    assert by_name["raw flights/2013-01.parquet"].in_remote
    assert not by_name["raw flights/2013-03.parquet"].in_remote
    # the training set and holdout of the fake manifest are stored nowhere either
    verdict = rules.versioning(evidence)
    assert verdict.status == FAIL
    assert (
        f"MISSING raw flights/2013-03.parquet (md5 {march}): in neither the DVC remote nor "
        "the cache" in verdict.evidence
    )
    assert not any("2013-01" in line for line in verdict.evidence if "MISSING" in line)


def test_a_version_only_in_the_local_cache_is_not_retrievable_from_the_remote(twelve_env):
    md5 = _dvc_file(twelve_env, "2013-02.parquet", b"february")
    (twelve_env.remote / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    evidence = good_evidence()
    evidence.manifest.update(raw_inputs={"flights/2013-02.parquet": md5})
    evidence.manifest.pop("training_set_md5"), evidence.manifest.pop("holdout_md5")
    evidence.data_versions = gather.data_versions(evidence, twelve_env.dvc())
    verdict = rules.versioning(evidence)
    assert verdict.status == FAIL
    assert "only in the local DVC cache" in verdict.evidence[1]


def test_the_commit_of_a_champion_must_exist_in_git(twelve_env):
    repo = twelve_env.repo
    (repo / "f").write_text("x")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert gather.commit_exists(repo, head) is True
    assert gather.commit_exists(repo, "0" * 40) is False
    assert gather.commit_exists(twelve_env.root, head) is None  # not a git repository


def test_a_recorded_config_reloads_or_names_its_error():
    config = good_evidence().manifest["config"]
    assert gather.config_error(config) == ""
    assert "estimator" in gather.config_error({k: v for k, v in config.items() if k != "estimator"})
    assert gather.config_error(None) is None


def test_the_test_record_of_the_champions_commit_is_read(twelve_env, monkeypatch):
    from twelve.core.project import Project

    project = SimpleNamespace(name="demo")
    write_record(twelve_env.home, RecordedTests("demo", "c" * 40, False, {"t::a": "passed"}))
    assert gather._test_record(project, "c" * 40).passed == 1
    assert gather._test_record(project, "d" * 40) is None
    assert Project  # the real type the gather step takes


def test_served_profiles_are_read_from_the_sidecars_the_bento_wrote(tmp_path):
    from twelve.monitoring.profiling import ProfileStore, profile_frame

    store = ProfileStore(tmp_path / "serving_profiles")
    view = profile_frame(pd.DataFrame({"origin": ["JFK", "EWR"], "distance": [100.0, 200.0]}))
    store.write(
        "v1-run1",
        "20131201T000000-1",
        view,
        extra={"bento_tag": "demo:b", "reference_profile_version": "t" * 32},
    )
    (found,) = gather.served_profiles("demo:v1-run1", root=tmp_path / "serving_profiles")
    assert (found.rows, found.bento_tag, found.reference_version) == (2, "demo:b", "t" * 32)
    assert gather.served_profiles("demo:v2-run2", root=tmp_path / "serving_profiles") == []


def test_a_bentos_contract_and_dockerfile_are_read_from_the_store(tmp_path):
    home = tmp_path / "bentoml"
    bento = home / "bentos" / "demo" / "v1-run1-abcd"
    (bento / "env" / "docker").mkdir(parents=True)
    (bento / "env" / "docker" / "Dockerfile").write_text("FROM scratch\n")
    (bento / "bento.yaml").write_text("models:\n- tag: demo:v1-run1\n")
    model = bento / "models" / "demo" / "v1-run1"
    model.mkdir(parents=True)
    (model / "model.yaml").write_text("name: demo\n")
    columns = [{"name": "origin", "dtype": "str"}, {"name": "distance", "dtype": "float64"}]
    (model / "contract.json").write_text(json.dumps({"columns": columns}))
    evidence = Evidence(
        project="demo", registered_model="demo", champion_version="1", run_id="run1"
    )
    tags = {"twelve.image": "localhost/demo:v1-run1-abcd", "twelve.image_id": "f" * 64}
    client = SimpleNamespace(get_model_version=lambda name, version: SimpleNamespace(tags=tags))
    resource = SimpleNamespace(resolved_home=lambda: home)
    facts = stores.bento_facts(evidence, resource, client)
    assert (facts.image, facts.image_id) == ("localhost/demo:v1-run1-abcd", "f" * 64)
    assert facts.tag == "demo:v1-run1-abcd"
    assert facts.model_tag == "demo:v1-run1"
    assert facts.dockerfile
    assert facts.contract_columns == [("origin", "string"), ("distance", "double")]
    assert facts.model_hash == ""  # no pipeline inside: not compared, and the rule says so
    (bento / "bento.yaml").unlink()
    assert stores.bento_facts(evidence, resource, client) is None
    assert "no bento" in evidence.notes[-1]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _materialize_month(instance, month: str, verdict: str | None) -> None:
    partitions = dg.MonthlyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")

    @dg.asset(partitions_def=partitions)
    def raw_flights(context) -> dg.Output:
        return dg.Output(None, data_version=dg.DataVersion(f"md5-{context.partition_key}"))

    @dg.asset(partitions_def=partitions, deps=[raw_flights])
    def month_drift(context) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"verdict": verdict or ""})

    defs = dg.Definitions(
        assets=[raw_flights, month_drift],
        jobs=[
            dg.define_asset_job("monthly_arrival", [raw_flights]),
            dg.define_asset_job("drift_check", [month_drift]),
        ],
        resources={"io_manager": dg.mem_io_manager},
    )
    defs.resolve_job_def("monthly_arrival").execute_in_process(
        instance=instance, partition_key=month
    )
    if verdict:
        defs.resolve_job_def("drift_check").execute_in_process(
            instance=instance, partition_key=month
        )


def test_the_instance_yields_the_newest_arrival_and_the_drift_checks(instance):
    project = SimpleNamespace(asset_prefix="", key=lambda name: dg.AssetKey(name))
    _materialize_month(instance, "2013-01-01", "drift")
    _materialize_month(instance, "2013-02-01", None)  # arrived, never checked
    arrival = stores.newest_arrival(instance, project)
    assert (arrival.asset, arrival.month, arrival.data_version) == (
        "raw_flights",
        "2013-02-01",
        "md5-2013-02-01",
    )
    checks = stores.drift_checks(instance, dg.AssetKey("month_drift"))
    assert [(c.month, c.verdict) for c in checks] == [("2013-01-01", "drift")]
    assert stores.sensor_ticks(instance, "drift_retraining") == {}
    evidence = replace_drift(good_evidence(), arrival, checks)
    assert rules.drift(evidence).status != PASS


def replace_drift(evidence, arrival, checks):
    evidence.newest_arrival, evidence.drift_checks = arrival, checks
    return evidence


def test_gather_of_a_project_never_trained_notes_the_missing_champion(twelve_env):
    from twelve.core.project import Project

    project = Project.load(
        Path(__file__).parent / "fixtures" / "audit" / "fake" / "projects" / "demo"
    )
    mlflow = SimpleNamespace(
        client=lambda: None,
        version_by_alias=lambda name, alias: None,
        resolved_tracking_uri=lambda: "sqlite:///nowhere",
    )
    feast = SimpleNamespace(
        feature_store=lambda: (_ for _ in ()).throw(FileNotFoundError("no registry"))
    )
    evidence = gather.gather(
        project, {"mlflow": mlflow, "feast": feast, "dvc": None, "bentoml": None}
    )
    assert evidence.run_id is None
    assert evidence.registry_services is None
    assert any("holds the alias champion" in note for note in evidence.notes)
    assert any("no registry" in note for note in evidence.notes)
