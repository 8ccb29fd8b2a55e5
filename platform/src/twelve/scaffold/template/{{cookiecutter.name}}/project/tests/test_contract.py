"""The contract refuses what the model must not see, naming the column."""

import pandas as pd
import pytest
from twelve.features.validation import ContractViolation, validate_frame


def valid_training_set(contract, rows: int = 4) -> pd.DataFrame:
    """Rows that honour the training-set contract (whatever the entity keys and label type)."""
    frame = pd.DataFrame({contract.id.name: [f"e{i}" for i in range(rows)]})
    frame[contract.timestamp.name] = pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC")
    frame[contract.period.name] = "2024-01"
    frame["amount"] = 50.0
    frame["amount_mean_7d"] = [40.0, None, 60.0, 55.0][:rows]
    frame["visits_mean_7d"] = 2.0
    frame["events_7d"] = 3.0
    label = contract.label
    values = [0, 1, 0, 1] if label.dtype == "int64" else [1.5, 2.0, 0.5, 3.0]
    frame[label.name] = values[:rows]
    return frame


def test_a_valid_training_set_passes(project):
    frame = valid_training_set(project.contract)
    assert list(frame.columns) == project.contract.training_set_columns
    assert validate_frame(frame, project.contract.training_set_schema()) is frame


@pytest.mark.parametrize("column", ["amount", "label", "event_month"])
def test_a_missing_column_is_named(project, column):
    frame = valid_training_set(project.contract).drop(columns=[column])
    with pytest.raises(ContractViolation, match=f"column '{column}' is missing"):
        validate_frame(frame, project.contract.training_set_schema())


def test_an_unlisted_column_is_refused(project):
    frame = valid_training_set(project.contract).assign(leaked_outcome=1.0)
    with pytest.raises(ContractViolation, match="leaked_outcome"):
        validate_frame(frame, project.contract.training_set_schema())


def test_a_negative_amount_is_out_of_range(project):
    frame = valid_training_set(project.contract)
    frame.loc[0, "amount"] = -1.0
    with pytest.raises(ContractViolation, match="column 'amount' has 1 value"):
        validate_frame(frame, project.contract.training_set_schema())
