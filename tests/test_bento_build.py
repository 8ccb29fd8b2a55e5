"""Factor 12: a registered model version becomes a bento holding the fitted Pipeline, the feature
contract and the reference profile, with its container recipe; built once per version.
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import joblib
import pytest
import yaml
from bento_support import (
    CONTRACT,
    MODEL_INPUT_COLUMNS,
    REGISTERED_MODEL,
    SERVICE_DIR,
    THRESHOLD,
    TRAINING_SET_MD5,
    fit_pipeline,
    holdout_rows,
    load_service_module,
    package,
    register_model,
    training_rows,
)

from twelve.core.environment import OFFLINE_ENV
from twelve.core.paths import REPO_ROOT
from twelve.deploy import bento as bentos
from twelve.deploy.bento import BentoBuildError, ModelVersionRef


# --------------------------------------------------------------------------- tags and digests
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flight_delays", "flight_delays"),
        ("Flight Delays!", "flight-delays"),
        ("v3-ab12", "v3-ab12"),
    ],
)
def test_tag_part_makes_valid_bentoml_tag_parts(text, expected):
    assert bentos.tag_part(text) == expected


@pytest.mark.parametrize("text", ["", "!!!", "x" * 64])
def test_tag_part_refuses_what_cannot_be_a_tag(text):
    with pytest.raises(ValueError, match="cannot be a BentoML tag part"):
        bentos.tag_part(text)


def test_model_and_bento_tags_name_the_version_run_and_service_code():
    ref = ModelVersionRef("flight_delays", "7", "0123456789abcdef0123456789abcdef")
    model_tag = bentos.bentoml_model_tag(ref)
    assert model_tag == "flight_delays:v7-0123456789ab"
    assert bentos.bento_tag_for("flight_delay", model_tag, "deadbeef" * 8) == (
        "flight_delay:v7-0123456789ab-deadbeef"
    )
    with pytest.raises(ValueError, match="no run id"):
        bentos.bentoml_model_tag(ModelVersionRef("flight_delays", "7", ""))


def test_service_digest_follows_the_service_code_not_caches(tmp_path):
    service = tmp_path / "svc"
    shutil.copytree(SERVICE_DIR, service, ignore=shutil.ignore_patterns("__pycache__"))
    before = bentos.service_digest(service)
    (service / "__pycache__").mkdir()
    (service / "__pycache__" / "service.cpython-311.pyc").write_bytes(b"cache")
    assert bentos.service_digest(service) == before
    (service / "service.py").write_text((service / "service.py").read_text() + "\n# changed\n")
    assert bentos.service_digest(service) != before


def test_a_folder_without_bentofile_is_refused(tmp_path):
    with pytest.raises(BentoBuildError, match=r"no bentofile\.yaml"):
        bentos.service_digest(tmp_path)


# --------------------------------------------------------------------------- the runtime image
def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {bentos.normalize_distribution(p["name"]): p["version"] for p in lock["package"]}


def test_bentofile_pins_exactly_the_locked_versions():
    pins = bentos.bentofile_pins(SERVICE_DIR)
    locked = _locked_versions()
    assert {"scikit-learn", "pandas", "numpy", "scipy", "joblib", "pydantic"} <= set(pins)
    assert {name: locked.get(name) for name in pins} == pins


def test_the_image_is_declared_once_in_the_bentofile():
    bentofile = yaml.safe_load((SERVICE_DIR / "bentofile.yaml").read_text())
    assert bentofile["service"] == "service:FlightDelay"
    assert bentofile["python"]["lock_packages"] is False
    assert "image=" not in (SERVICE_DIR / "service.py").read_text()


def test_an_unpinned_package_is_refused(tmp_path):
    (tmp_path / "bentofile.yaml").write_text("name: x\npython:\n  packages: [scikit-learn>=1.0]\n")
    with pytest.raises(BentoBuildError, match=r"'scikit-learn>=1\.0' is not pinned"):
        bentos.bentofile_pins(tmp_path)


def test_a_pipeline_of_pinned_libraries_is_covered():
    pipeline = fit_pipeline(training_rows().head(300))
    modules = bentos.referenced_modules(pipeline)
    assert any(module.startswith("sklearn.") for module in modules)
    bentos.check_runtime_covers(modules, bentos.bentofile_pins(SERVICE_DIR))


@pytest.mark.parametrize(
    ("modules", "named"),
    [({"sklearn.pipeline", "yaml"}, "yaml (from pyyaml)"),
     ({"flight_delays.transforms"}, "flight_delays.transforms (from local code at "),
     ({"__main__"}, "__main__ (from a script run as __main__)"),
     ({"no_such_module_x"}, "no_such_module_x (from a module not importable here)")],
)  # fmt: skip
def test_code_the_bento_does_not_install_is_named(modules, named):
    with pytest.raises(BentoBuildError, match="does not install") as error:
        bentos.check_runtime_covers(modules, bentos.bentofile_pins(SERVICE_DIR))
    assert named in str(error.value)


def test_an_unpicklable_model_is_refused():
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(BentoBuildError, match="cannot be pickled"):
        bentos.referenced_modules(FunctionTransformer(lambda x: x))


def test_uv_is_taken_from_the_venv_first_then_from_path(tmp_path, monkeypatch):
    assert bentos.find_uv_dir(path=str(tmp_path)) == Path(sys.executable).parent
    env = bentos.bentoml_env(tmp_path / "home", uv_dir=Path("/opt/uv-bin"))
    assert env["PATH"].split(":")[0] == "/opt/uv-bin"
    assert env["BENTOML_HOME"] == str(tmp_path / "home")
    assert env["BENTOML_DO_NOT_TRACK"] == "True"
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "uv").write_text("#!/bin/sh\n")
    (on_path / "uv").chmod(0o755)
    assert bentos.find_uv_dir(path=str(on_path)) == on_path
    with pytest.raises(BentoBuildError, match="needs a `uv` binary"):
        bentos.find_uv_dir(path=str(tmp_path / "empty"))


# --------------------------------------------------------------------------- MLflow side
class _FakeClient:
    """The registry calls the bento code makes, over fixed data."""

    def __init__(self, aliases, version_tags=None, run_tags=None, params=None):
        self.aliases = aliases
        self.version_tags = version_tags or {}
        self.run = SimpleNamespace(data=SimpleNamespace(tags=run_tags or {}, params=params or {}))

    def get_registered_model(self, name):
        if name != "m":
            raise RuntimeError(f"RESOURCE_DOES_NOT_EXIST: {name}")
        return SimpleNamespace(aliases=self.aliases)

    def get_model_version(self, name, version):
        return SimpleNamespace(run_id=f"run{version}", tags=self.version_tags)

    def get_run(self, run_id):
        return self.run


@pytest.mark.parametrize(
    ("aliases", "wanted", "version", "carried"),
    [({"champion": 3, "challenger": 5}, ("champion", "challenger"), "5", ("challenger",)),
     ({"champion": 3, "challenger": 5}, ("champion",), "3", ("champion",)),
     ({"champion": 10, "challenger": 9}, ("champion", "challenger"), "10", ("champion",)),
     ({"champion": 4, "challenger": 4}, ("champion", "challenger"), "4",
      ("challenger", "champion"))],
)  # fmt: skip
def test_the_newest_aliased_version_is_chosen(aliases, wanted, version, carried):
    ref = bentos.latest_aliased_version(_FakeClient(aliases), "m", wanted)
    assert (ref.version, ref.run_id, ref.aliases) == (version, f"run{version}", carried)


@pytest.mark.parametrize(
    ("name", "aliases", "message"),
    [("m", {}, "no version of registered model 'm' carries an alias"),
     ("m", {"staging": 2}, "no version of registered model 'm' carries an alias"),
     ("other", {}, "registered model 'other' not found")],
)  # fmt: skip
def test_no_deployable_version_is_a_clear_error(name, aliases, message):
    with pytest.raises(BentoBuildError, match=message):
        bentos.latest_aliased_version(_FakeClient(aliases), name)


def test_run_values_come_from_version_tags_then_run_tags_then_params():
    ref = ModelVersionRef("m", "1", "run1")
    client = _FakeClient(
        {}, {"a": "version"}, {"a": "tag", "b": "tag"}, {"a": "p", "b": "p", "c": "p"}
    )
    assert [bentos.run_value(client, ref, key) for key in "abc"] == ["version", "tag", "p"]
    with pytest.raises(BentoBuildError, match=r"records no 'threshold'.*params \['a', 'b', 'c'\]"):
        bentos.run_value(client, ref, "threshold")


def test_contract_references_resolve_to_json_descriptions():
    assert bentos.contract_description("bento_support:CONTRACT") == CONTRACT
    with pytest.raises(BentoBuildError, match="must look like 'module:attribute'"):
        bentos.contract_description("bento_support.CONTRACT")
    with pytest.raises(BentoBuildError, match="not found"):
        bentos.contract_description("bento_support:NO_SUCH_CONTRACT")


def test_staging_refuses_a_missing_profile_or_a_contract_that_is_not_json(tmp_path):
    profile = tmp_path / "p.bin"
    with pytest.raises(BentoBuildError, match=r"reference profile .* does not exist"):
        bentos.stage_model_files(tmp_path / "a", object(), CONTRACT, profile)
    profile.write_bytes(b"profile")
    with pytest.raises(BentoBuildError, match="not JSON-serializable"):
        bentos.stage_model_files(tmp_path / "b", object(), {"when": object()}, profile)


# --------------------------------------------------------------------------- the service
DTYPES = {column["name"]: column["dtype"] for column in CONTRACT["columns"]}


def _typed_frame(service, rows):
    """The model input of validated rows, as the serving runtime types it (frame for checks)."""
    from twelve.serving import columns as cols

    values = cols.rows_to_columns(rows, service.FEATURE_COLUMNS)
    return cols.frame_of(cols.typed_columns(values, DTYPES, service.FEATURE_COLUMNS))


def test_the_service_takes_exactly_the_model_input_columns():
    service = load_service_module()
    assert list(service.FEATURE_COLUMNS) == MODEL_INPUT_COLUMNS
    rows = [service.FeatureRow(**row) for row in service.EXAMPLE_INPUT]
    frame = _typed_frame(service, rows)
    assert list(frame.columns) == MODEL_INPUT_COLUMNS
    assert frame["wind_gust"].isna().all()
    assert frame["wind_gust"].dtype == "float64"
    # Dtypes do not depend on which gaps a batch happens to hold.
    gappy = service.FeatureRow(**{**service.EXAMPLE_INPUT[0], "plane_seats": None, "temp": None})
    assert _typed_frame(service, [*rows, gappy]).dtypes.equals(frame.dtypes)
    assert frame["plane_seats"].dtype == "float64"
    assert frame["month"].dtype == "int64"


def test_the_service_record_mirrors_the_model_input_contract():
    from flight_delays.contract import MODEL_INPUT_CONTRACT

    service = load_service_module()
    contract = MODEL_INPUT_CONTRACT["columns"]
    assert list(service.FEATURE_COLUMNS) == [column["name"] for column in contract]
    frame = _typed_frame(service, [service.FeatureRow(**service.EXAMPLE_INPUT[0])])
    for column in contract:
        field = service.FeatureRow.model_fields[column["name"]]
        assert field.is_required() != column.get("nullable", False), column["name"]
        expected = "object" if column["dtype"] == "str" else column["dtype"]
        assert str(frame[column["name"]].dtype) == expected, column["name"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"sched_dep_hour": 24}, "sched_dep_hour"), ({"carrier": ""}, "carrier"),
     ({"dep_delay": 3.0}, "dep_delay"), ({"month": "March"}, "month")],
)  # fmt: skip
def test_the_service_refuses_bad_rows_naming_the_field(change, field):
    from pydantic import ValidationError

    service = load_service_module()
    with pytest.raises(ValidationError, match=field):
        service.FeatureRow(**{**service.EXAMPLE_INPUT[0], **change})


def test_the_service_scores_rows_with_the_compiled_pipeline_and_its_threshold():
    import asyncio

    from bento_support import served_model

    from twelve.serving.metrics import ServingMetrics

    service = load_service_module()
    pipeline = fit_pipeline(training_rows())
    holdout = holdout_rows()
    instance = service.FlightDelay.inner.__new__(service.FlightDelay.inner)
    instance.model = served_model(pipeline, THRESHOLD)
    instance.model.model_version = "4"
    instance.gate, instance.monitor, instance.features = None, None, None
    instance.metrics = ServingMetrics("unit_test_scoring")
    instance.config = {"batching": {"enabled": False}}
    instance._start_scoring()
    records = holdout[MODEL_INPUT_COLUMNS].astype(object)
    records = records.where(holdout[MODEL_INPUT_COLUMNS].notna(), None).to_dict("records")
    rows = [service.FeatureRow(**record) for record in records]
    values = service.runtime.rows_to_columns(rows, service.FEATURE_COLUMNS)
    answer = asyncio.run(
        instance.answer("predict_features", values, service.PredictionResponse, lookup=False)
    )
    expected = pipeline.predict_proba(holdout[MODEL_INPUT_COLUMNS])[:, 1]
    assert [p.probability for p in answer.predictions] == pytest.approx(list(expected))
    assert [p.label for p in answer.predictions] == [int(p >= THRESHOLD) for p in expected]
    assert (answer.model_version, answer.bento_tag) == ("4", None)


# --------------------------------------------------------------------------- building for real
@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A champion version in a temporary MLflow store, TWELVE_HOME pointing beside it."""
    root = tmp_path_factory.mktemp("bento-build")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE_ENV.items():
            patch.setenv(name, value)
        patch.setenv("TWELVE_HOME", str(root / "home"))
        patch.setenv("BENTOML_HOME", str(root / "home" / "bentoml"))
        model = register_model(
            root / "mlflow", fit_pipeline(training_rows()), profiles_root=root / "home" / "profiles"
        )
        yield SimpleNamespace(root=root, home=root / "home" / "bentoml", model=model)


def _store_entries(home: Path) -> list[str]:
    return sorted(
        str(path.relative_to(home))
        for kind in ("models", "bentos")
        for path in (home / kind).glob("*/*")
        if path.is_dir()
    )


@pytest.mark.slow
def test_a_model_version_becomes_a_bento_with_everything_it_needs(registered):
    model = registered.model
    built = package(model, registered.home)

    assert built.model_imported
    assert built.bento_built
    assert built.tag.startswith(f"flight_delay:v{model.ref.version}-{model.ref.run_id[:12]}-")
    assert built.dockerfile == built.path / "env" / "docker" / "Dockerfile"
    dockerfile = built.dockerfile.read_text()
    # Built on the Debian bookworm base `make image` bootstraps (public registries: unreachable).
    assert "FROM localhost/twelve-base:bookworm-py311 AS base-container" in dockerfile
    requirements = (built.path / "env" / "python" / "requirements.txt").read_text().split()
    assert {"scikit-learn==1.9.1", "pandas==2.3.3", "bentoml==1.4.40"} <= set(requirements)
    info = yaml.safe_load((built.path / "bento.yaml").read_text())
    assert info["args"] == {"model_tag": built.model_tag}
    assert [m["tag"] for m in info["services"][0]["models"]] == [built.model_tag]
    assert (built.path / "src" / "service.py").is_file()

    stored = bentos.model_dir(registered.home, built.model_tag)
    pipeline = joblib.load(stored / bentos.PIPELINE_FILE)
    holdout = holdout_rows()[MODEL_INPUT_COLUMNS]
    assert list(pipeline.predict_proba(holdout)[:, 1]) == list(
        model.pipeline.predict_proba(holdout)[:, 1]
    )
    assert json.loads((stored / bentos.CONTRACT_FILE).read_text()) == CONTRACT
    copied = stored / bentos.REFERENCE_PROFILE_DIR / f"{TRAINING_SET_MD5}.bin"
    assert copied.read_bytes() == model.reference_profile.read_bytes()
    assert (copied.with_suffix(".json")).is_file()
    metadata = yaml.safe_load((stored / "model.yaml").read_text())["metadata"]
    assert metadata["threshold"] == THRESHOLD
    assert metadata["model_version"] == model.ref.version
    assert metadata["registered_model"] == REGISTERED_MODEL
    assert metadata["mlflow_run_id"] == model.ref.run_id
    holdout_md5 = model.client.get_run(model.ref.run_id).data.tags["twelve.holdout_md5"]
    assert metadata["manifest"] == {
        "twelve.training_set_md5": TRAINING_SET_MD5,
        "twelve.holdout_md5": holdout_md5,
    }
    assert json.loads(metadata["contract"]) == CONTRACT
    assert metadata["reference_profile"]["version"] == TRAINING_SET_MD5
    # The compiled model, checked against the pipeline on the run's whole holdout (by its md5).
    from bento_support import parity_rows

    from twelve.deploy.compiled.model import CompiledModel

    parity = metadata["parity"]
    assert parity["holdout_version"] == holdout_md5
    assert parity["rows"] == len(parity_rows())
    assert parity["label_mismatches"] == 0
    assert parity["max_abs_diff"] <= 1e-5
    compiled = CompiledModel.load(stored / bentos.COMPILED_FILE)
    assert compiled.predict_proba_frame(holdout)[:, 1] == pytest.approx(
        list(model.pipeline.predict_proba(holdout)[:, 1]), rel=1e-9, abs=1e-12
    )

    tags = model.client.get_model_version(REGISTERED_MODEL, model.ref.version).tags
    assert tags[bentos.BENTO_TAG_KEY] == built.tag
    assert tags[bentos.BENTOML_MODEL_TAG_KEY] == built.model_tag


@pytest.mark.slow
def test_packaging_the_same_version_again_imports_and_builds_nothing(registered):
    first = package(registered.model, registered.home)
    entries = _store_entries(registered.home)
    again = package(registered.model, registered.home)
    assert again.reused
    assert again.tag == first.tag
    assert _store_entries(registered.home) == entries
    assert again.seconds < 2
    # A model removed from the store by hand is imported again; the bento is kept.
    shutil.rmtree(bentos.model_dir(registered.home, first.model_tag))
    repaired = package(registered.model, registered.home)
    assert (repaired.model_imported, repaired.bento_built) == (True, False)
    assert _store_entries(registered.home) == entries


@pytest.mark.slow
def test_a_failing_build_says_why_and_leaves_no_bento(registered, tmp_path):
    broken = tmp_path / "broken_service"
    shutil.copytree(SERVICE_DIR, broken, ignore=shutil.ignore_patterns("__pycache__"))
    source = (broken / "service.py").read_text()
    (broken / "service.py").write_text(
        source.replace(
            "class FlightDelay(runtime.ModelService):",
            "class FlightDelay(runtime.ModelService):\n    raise RuntimeError('service is broken')",
            1,
        )
    )
    bentos_before = sorted((registered.home / "bentos").glob("*/*"))
    with pytest.raises(BentoBuildError, match="service is broken"):
        bentos.package_model_version(
            home=registered.home,
            service_dir=broken,
            client=registered.model.client,
            tracking_uri=registered.model.tracking_uri,
            ref=registered.model.ref,
            threshold=THRESHOLD,
            contract=CONTRACT,
            reference_profile=registered.model.reference_profile,
            dvc=registered.model.dvc,
        )
    assert sorted((registered.home / "bentos").glob("*/*")) == bentos_before


@pytest.mark.slow
def test_a_compiled_model_that_strays_from_the_pipeline_is_refused(registered, monkeypatch):
    """A compiler bug, simulated by compiling another fit: the build stops, nothing is stored."""
    from twelve.deploy.compiled import build

    other = fit_pipeline(training_rows().head(400))  # the same columns, other coefficients
    real = build.compile_pipeline
    monkeypatch.setattr(build, "compile_pipeline", lambda pipeline, rows: real(other, rows))
    fresh = register_model(
        registered.root / "mlflow-strays", registered.model.pipeline, alias="champion",
        profiles_root=registered.root / "home" / "profiles",
    )  # fmt: skip
    before = _store_entries(registered.home)
    with pytest.raises(BentoBuildError, match="refusing to build the bento") as refused:
        package(fresh, registered.home)
    assert "differs from the pipeline" in str(refused.value)
    assert "at row" in str(refused.value)
    assert _store_entries(registered.home) == before


@pytest.mark.slow
def test_a_version_whose_holdout_cannot_be_read_is_refused(registered, tmp_path):
    from twelve.data.versioning import DvcResource

    empty = DvcResource(repo_dir=str(tmp_path / "empty"), remote_url=str(tmp_path / "remote"))
    (tmp_path / "empty" / ".dvc").mkdir(parents=True)
    (tmp_path / "remote").mkdir()
    fresh = register_model(
        registered.root / "mlflow-no-holdout", registered.model.pipeline, alias="champion",
        profiles_root=registered.root / "home" / "profiles",
    )  # fmt: skip
    with pytest.raises(BentoBuildError, match=r"the holdout of models:/flight_delays/1 .*md5"):
        bentos.package_model_version(
            home=registered.home, service_dir=SERVICE_DIR, client=fresh.client,
            tracking_uri=fresh.tracking_uri, ref=fresh.ref, threshold=THRESHOLD,
            contract=CONTRACT, reference_profile=fresh.reference_profile, dvc=empty,
        )  # fmt: skip


def _materialize_bento(registered, **config):
    """Materialize `bento` alone (its upstream `model_alias` is another area's asset)."""
    from twelve.core.project import Project
    from twelve.deploy.component import Deployment

    # The block as the project's defs/deployment/defs.yaml configures it.
    defs_yaml = Project.of_package("flight_delays").root / "src/flight_delays/defs/deployment"
    attributes = yaml.safe_load((defs_yaml / "defs.yaml").read_text())["attributes"]
    bento = Deployment(**attributes).asset_for(Project.of_package("flight_delays"))
    return dg.materialize(
        [bento],
        resources={
            "mlflow": registered.model.mlflow,
            "bentoml": bentos.BentoResource(home=str(registered.home)),
            "dvc": registered.model.dvc,
        },
        run_config={"ops": {"bento": {"config": config}}},
        raise_on_error=False,
    )


@pytest.mark.slow
def test_the_bento_asset_builds_a_bento_for_every_aliased_version(registered):
    from flight_delays.contract import MODEL_INPUT_CONTRACT

    first = registered.model  # the champion
    newer = register_model(
        registered.root / "mlflow",
        first.pipeline,
        alias="challenger",
        profiles_root=registered.root / "home" / "profiles",
    )
    assert int(newer.ref.version) > int(first.ref.version)

    result = _materialize_bento(registered)

    assert result.success
    metadata = result.asset_materializations_for_node("bento")[0].metadata
    built = {entry["model_version"]: entry for entry in metadata["bentos"].value}
    assert set(built) == {first.ref.version, newer.ref.version}
    assert built[newer.ref.version]["aliases"] == ["challenger"]
    assert built[first.ref.version]["aliases"] == ["champion"]
    # What others read (twelve serve, the replay) is the champion's.
    tag = metadata["bento_tag"].value
    assert tag == built[first.ref.version]["bento_tag"] != built[newer.ref.version]["bento_tag"]
    assert metadata["model_version"].value == first.ref.version
    assert metadata["registered_model"].value == REGISTERED_MODEL
    assert Path(metadata["dockerfile"].value).is_file()
    assert metadata["size_bytes"].value > 0
    assert f"bentoml serve {tag} --host 127.0.0.1" in metadata["serve_command"].value
    for version, entry in built.items():
        tags = newer.client.get_model_version(REGISTERED_MODEL, version).tags
        assert tags[bentos.BENTO_TAG_KEY] == entry["bento_tag"]
        assert tags[bentos.BENTOML_MODEL_TAG_KEY] == entry["bentoml_model_tag"]
        # The project's real model input contract travels in each bento's model.
        stored = bentos.model_dir(registered.home, entry["bentoml_model_tag"])
        assert json.loads((stored / bentos.CONTRACT_FILE).read_text()) == MODEL_INPUT_CONTRACT
    # A second run builds nothing: each version and code has its bento.
    again = _materialize_bento(registered)
    assert again.asset_materializations_for_node("bento")[0].metadata["reused"].value is True


@pytest.mark.slow
def test_the_bento_asset_fails_clearly_when_no_version_is_deployable(registered):
    result = _materialize_bento(registered, aliases=["production"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        "no version of registered model 'flight_delays' carries an alias among ['production']"
        in (str(failure.event_specific_data.error))
    )
