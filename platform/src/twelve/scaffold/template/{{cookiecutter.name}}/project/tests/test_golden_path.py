"""The whole golden path on the sample data, in process, in a throw-away environment.

It runs what ``twelve run`` runs (the months arrive, then the golden path) once for the module,
then checks what a user would: the gate passed and the model is champion, the bento was built,
the served bento (a real ``bentoml serve``) gives the offline evaluation's answers, and no
factor of ``twelve audit`` fails.
"""

import io

import dagster as dg
import pandas as pd
import pytest
from twelve.cli.runner import run_golden_path
from twelve.core.resources import project_resources
from twelve.deploy import bento_server
from twelve.proof import audit
from twelve.testing import make_twelve_env
from twelve.training import modeling
from twelve.training.scoring import Scoring

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def golden_path(project, project_module, tmp_path_factory):
    """Every month and the golden path materialized once, in a throw-away TWELVE_HOME."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        env = make_twelve_env(tmp_path_factory.mktemp("golden"), monkeypatch)
        project_resources.cache_clear()  # this environment's stores
        defs = project_module("definitions").build_defs()
        instance = dg.DagsterInstance.ephemeral()
        partitions = project.partitions().get_partition_keys()
        run_golden_path(
            defs,
            instance,
            partitioned_job="monthly_arrival",
            partitions=partitions,
            main_job="golden_path",
        )
        yield env, defs, instance
        project_resources.cache_clear()


def latest(project, instance, name: str) -> dict:
    event = instance.get_latest_materialization_event(project.key(name))
    assert event is not None, f"{name} was never materialized"
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def test_the_model_passes_its_gate_and_is_champion(project, golden_path):
    _, defs, instance = golden_path
    training_set = pd.read_parquet(project.training_set_path())
    assert training_set["amount_mean_7d"].notna().mean() > 0.5, "the Feast join found no history"
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [key for key in defs.resolve_asset_graph().asset_check_keys
         if key.asset_key == project.key("model_evaluation")]
    )  # fmt: skip
    assert {key.name: record.status.value for key, record in checks.items()} == {
        "beats_naive_baseline": "SUCCEEDED",
        "meets_required_score": "SUCCEEDED",
    }
    alias = latest(project, instance, "model_alias")
    assert (alias["alias"], alias["decision"]) == ("champion", "first champion")


def test_the_served_bento_gives_the_offline_answers_parity(project, golden_path, parity):
    """A real `bentoml serve` of the champion's bento scores the holdout like the evaluation."""
    env, _, instance = golden_path
    trained = latest(project, instance, "trained_model")
    stores = project_resources(project)
    holdout = pd.read_parquet(io.BytesIO(stores["dvc"].read_version(trained["holdout_md5"])))
    model = stores["mlflow"].load_sklearn_model(
        trained["registered_model"], trained["model_version"]
    )
    contract = project.contract
    features = modeling.model_input(holdout, contract.numeric_columns, contract.categorical_columns)
    offline = Scoring(project.problem_type).predict(model, features)
    rows = bento_server.json_rows(holdout, project.contract.feature_columns)
    bento = latest(project, instance, "bento")
    home = stores["bentoml"].resolved_home()
    with bento_server.serving(bento["bento_tag"], home, env.root / "serve") as server:
        status, answer = server.post("/predict_features", {"rows": rows})
    assert status == 200, answer
    key = "probability" if project.problem_type == "classification" else "prediction"
    served = [row[key] for row in answer["predictions"]]
    # Asserted and recorded as the project's parity evidence (what `twelve audit` reads).
    parity(project.name, served, list(offline))
    assert answer["model_version"] == trained["model_version"]


def test_the_run_passes_the_twelve_factor_audit(project, golden_path):
    """`twelve audit` of this project on the stores the golden path filled: no factor fails."""
    card = audit.audit(project.root)
    assert not card.failed, card.text()
