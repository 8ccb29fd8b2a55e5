import pandas as pd
import pytest
from twelve.features.validation import ContractViolation

from {{ cookiecutter.name }}.contract import validate_training_set
from {{ cookiecutter.name }}.sample_data import ENTITY_KEYS


def valid_training_set(rows: int = 4) -> pd.DataFrame:
    frame = pd.DataFrame({"event_id": [f"e{i}" for i in range(rows)]})
    for key in ENTITY_KEYS:
        frame[key] = [f"{key}_{i}" for i in range(rows)]
    frame["event_timestamp"] = pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC")
    frame["amount"] = 50.0
    frame["amount_mean_7d"] = [40.0, None, 60.0, 55.0][:rows]
    frame["visits_mean_7d"] = 2.0
    frame["events_7d"] = 3.0
{%- if cookiecutter.problem_type == "classification" %}
    frame["label"] = [0, 1, 0, 1][:rows]
{%- else %}
    frame["label"] = [1.5, 2.0, 0.5, 3.0][:rows]
{%- endif %}
    return frame


def test_a_valid_training_set_passes():
    frame = valid_training_set()
    assert validate_training_set(frame) is frame


@pytest.mark.parametrize("column", ["amount", "label", ENTITY_KEYS[0]])
def test_a_missing_column_is_named(column):
    with pytest.raises(ContractViolation, match=column):
        validate_training_set(valid_training_set().drop(columns=[column]))


def test_an_unlisted_column_is_refused():
    frame = valid_training_set().assign(leaked_outcome=1.0)
    with pytest.raises(ContractViolation, match="leaked_outcome"):
        validate_training_set(frame)
