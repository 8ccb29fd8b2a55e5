"""The whole golden path on the sample data, in process, in a throw-away environment."""

import dagster as dg
import pandas as pd
import pytest

from {{ cookiecutter.name }} import paths
from {{ cookiecutter.name }}.definitions import defs
from {{ cookiecutter.name }}.paths import asset_key


@pytest.mark.slow
def test_the_golden_path_materializes_and_the_model_passes_its_gate(twelve_env):
    result = dg.materialize(list(defs.assets), resources=defs.resources)
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
