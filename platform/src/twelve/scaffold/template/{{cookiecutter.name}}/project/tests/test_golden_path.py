{%- set classification = cookiecutter.problem_type == "classification" -%}
"""The whole golden path on the sample data, in process, in a throw-away environment.

One materialization (module scope) serves every test: the gate, the registry, the bento, the
parity of the served model with the offline evaluation, and the twelve-factor audit of the run.
"""

import importlib.util
import io

import dagster as dg
import joblib
import pandas as pd
import pytest
from twelve.deploy import bento as bentos
from twelve.proof import audit
from twelve.testing import make_twelve_env

from {{ cookiecutter.name }} import modeling, paths, resources
from {{ cookiecutter.name }}.definitions import defs
from {{ cookiecutter.name }}.paths import asset_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def golden_path(tmp_path_factory):
    """Every asset materialized once, in a throw-away TWELVE_HOME / data folder."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        env = make_twelve_env(tmp_path_factory.mktemp("golden"), monkeypatch)
        result = dg.materialize(list(defs.assets), resources=defs.resources)
        yield env, result


def latest(result, name: str) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == asset_key(name)
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_the_golden_path_materializes_and_the_model_passes_its_gate(golden_path):
    _, result = golden_path
    assert result.success
    training_set = pd.read_parquet(paths.training_set_path())
    assert len(training_set) > 0
    assert training_set["amount_mean_7d"].notna().mean() > 0.5, "the Feast join found no history"
    gate = {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.asset_key == asset_key("model_evaluation")
    }
    assert gate == {"beats_baseline": True}
    assert latest(result, "model_alias")["alias"] == "champion"


def test_the_bento_serves_the_champion_with_its_container_recipe(golden_path):
    _, result = golden_path
    built = latest(result, "bento")
    assert built["bento_tag"].startswith("{{ cookiecutter.name }}:")
    assert built["model_version"] == latest(result, "trained_model")["model_version"]
    assert str(built["dockerfile"]).endswith("env/docker/Dockerfile")


def load_service_module():
    """The bento's service.py, as `bentoml serve` imports it."""
    import sys

    path = paths.BENTO_DIR / "service.py"
    spec = importlib.util.spec_from_file_location(f"{paths.NAME}_service", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the schemas' annotations there
    spec.loader.exec_module(module)
    return module


def test_the_served_model_gives_the_offline_answers_parity(golden_path):
    """What the bento scores (compiled model, input typing) equals the offline evaluation."""
    import json

    from twelve.deploy.compiled.model import CompiledModel
    from twelve.serving import columns
    from twelve.serving.model import ServedModel

    _, result = golden_path
    trained = latest(result, "trained_model")
    holdout = pd.read_parquet(io.BytesIO(resources.dvc().read_version(trained["holdout_md5"])))
    registered = resources.mlflow().load_sklearn_model(
        trained["registered_model"], trained["model_version"]
    )
    offline = modeling.predict(registered, holdout)

    home = resources.bentoml().resolved_home()
    stored = bentos.model_dir(home, latest(result, "bento")["bentoml_model_tag"])
    contract = json.loads((stored / bentos.CONTRACT_FILE).read_text())
    threshold = {% if classification %}float(trained["threshold"]){% else %}None{% endif %}
    served_model = ServedModel(
        CompiledModel.load(stored / bentos.COMPILED_FILE), contract, "v", "m", threshold
    )
    service = load_service_module()
    rows = holdout[list(service.FEATURE_COLUMNS)].astype(object)
    records = rows.where(rows.notna(), None).to_dict("records")
    values = columns.rows_to_columns([service.FeatureRow(**r) for r in records],
                                     service.FEATURE_COLUMNS)  # fmt: skip
    dtypes = {column["name"]: column["dtype"] for column in contract["columns"]}
    names = [column["name"] for column in contract["columns"]]
    served = served_model.outputs(columns.typed_columns(values, dtypes, names))
    assert list(served) == pytest.approx(list(offline), abs=1e-12)
    # The pipeline the bento carries is the registered one (the reference of the compiled form).
    served_pipeline = joblib.load(stored / bentos.PIPELINE_FILE)
    assert list(modeling.predict(served_pipeline, holdout)) == list(offline)


def test_the_run_passes_the_twelve_factor_audit(golden_path):
    """`twelve audit` of this project on the stores the golden path filled: no factor fails."""
    card = audit.audit(paths.PROJECT_DIR)
    assert not card.failed, card.text()
