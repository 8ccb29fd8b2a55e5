"""The monthly checks of a regression project with an asset prefix, materialized for real: RMSE
(lower is better) against a real champion in MLflow, drift against its training rows, and the
reports in the project's own folders.
"""

import dagster as dg
import pytest
import shop_project

from twelve.core.project import Project
from twelve.core.resources import project_resources
from twelve.training import evaluation, modeling

pytestmark = pytest.mark.slow

TRAINED = ["2024-02", "2024-03", "2024-04"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop's training set (May's baskets are 20 items larger) and a champion of Feb-Apr."""
    import mlflow as mlflow_api
    import pandas as pd

    from twelve import testing

    root = tmp_path_factory.mktemp("shop")
    mp = pytest.MonkeyPatch()
    env = testing.make_twelve_env(root / "env", mp)
    package = shop_project.write_project(root)
    project = Project.load(package)
    months = ["2024-01", *TRAINED]
    frame = pd.concat(
        [*(shop_project.orders(m) for m in months), shop_project.orders("2024-05", shift=20.0)]
    )
    project.training_set_path().parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(project.training_set_path(), index=False)
    contract = project.contract
    train = frame[frame["order_month"].isin(TRAINED)]
    features = modeling.model_input(train, contract.numeric_columns, contract.categorical_columns)
    pipeline = modeling.build_pipeline(
        contract.numeric_columns, contract.categorical_columns,
        "hist_gradient_boosting_regressor", {}, 0,
    )  # fmt: skip
    pipeline.fit(features, train["delivery_days"])
    mlflow = project_resources(project)["mlflow"]
    with mlflow.start_run("champion") as run:
        mlflow_api.log_params({"train_first_month": TRAINED[0], "train_last_month": TRAINED[-1]})
        mlflow_api.log_metric("rmse", 0.55)
        info = mlflow.log_sklearn_pipeline(
            pipeline, signature=None, input_example=features.head(3), predict_fn="predict"
        )
    client = mlflow.client()
    client.create_registered_model("shop")
    version = client.create_model_version("shop", info.model_uri, run.info.run_id)
    client.set_registered_model_alias("shop", evaluation.CHAMPION, version.version)
    yield env, shop_project.build_defs(package), project
    mp.undo()


def _materialize(defs, name: str, partition: str, **config) -> dict:
    asset_key = dg.AssetKey(["shop", name])
    op = asset_key.to_python_identifier()
    result = dg.materialize(
        [defs.resolve_assets_def(asset_key)],
        partition_key=partition,
        run_config={"ops": {op: {"config": config}}} if config else None,
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    (event,) = result.asset_materializations_for_node(op)
    return {k: v.value for k, v in event.metadata.items()}


def test_the_champion_is_scored_in_rmse_and_worse_than_required_is_below(shop):
    _, defs, _ = shop
    may = _materialize(defs, "month_performance", "2024-05-01")
    january = _materialize(defs, "month_performance", "2024-01-01")
    march = _materialize(defs, "month_performance", "2024-03-01")

    assert may["metric"] == "rmse"
    assert may["model"] == "shop v1"
    assert may["rows"] == 400
    # Larger baskets than it was trained on: the trees cannot extrapolate, RMSE is far above 1.
    assert may["score"] > may["required_score"] == 1.0
    assert may["verdict"] == "below"
    assert january["score"] < 1.0
    assert january["verdict"] == "ok"
    assert march["verdict"] == "trained on"
    # The naive baseline predicts the training rows' mean: worse than the model on January.
    assert january["baseline_score"] > january["score"]
    assert may["holdout_score"] == 0.55
    assert may["performance_event"] == "2024-05@shop-v1"
    # Lower is better: a requirement above May's RMSE makes it ok.
    assert (
        _materialize(defs, "month_performance", "2024-05-01", required_score=99.0)["verdict"]
        == "ok"
    )


def test_the_month_drifts_against_the_champions_rows_into_the_projects_folders(shop):
    env, defs, _ = shop
    may = _materialize(defs, "month_drift", "2024-05-01")
    january = _materialize(defs, "month_drift", "2024-01-01")

    assert may["verdict"] == "drift"
    assert may["drifted_features"][0] == "basket_size"
    assert may["reference_version"] == "shop v1"
    assert may["drift_event"] == "2024-05@shop-v1"
    assert "customer_orders_90d" not in may["scores"]  # excluded by the project's YAML
    assert january["verdict"] == "no drift"
    report = env.home / "reports" / "shop__month_drift" / "2024-05.html"
    assert may["report"] == str(report)
    assert "Drift of 2024-05" in report.read_text()
    assert "training rows, 2024-02 to 2024-04 (1200 rows" in may["reference"]


def test_a_month_without_rows_is_named(shop):
    _, defs, _ = shop
    result = dg.materialize(
        [defs.resolve_assets_def(dg.AssetKey(["shop", "month_drift"]))],
        partition_key="2024-06-01",
        raise_on_error=False,
    )
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "no row of 2024-06" in failure.step_failure_data.error.message
