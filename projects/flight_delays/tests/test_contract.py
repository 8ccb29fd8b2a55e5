"""The flight-delay contract: the brief's columns, no leaks, and loud failures on upstream change.

The frames here are what the Feast join returns for a few hand-made flights; the asset tests run
``training_set`` with a stand-in Feast resource that returns such a frame, changed as upstream
changes would change it.
"""

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from feast_support import flight_events

from flight_delays import contract
from twelve.core.files import file_md5
from twelve.core.project import Project
from twelve.features import training_set as ts
from twelve.features.feast import FeastResource
from twelve.features.schemas import schema_from_dict, schema_to_dict
from twelve.features.validation import ContractViolation

BRIEF_REQUEST = ["carrier", "origin", "dest", "distance", "sched_dep_hour", "day_of_week", "month"]
BRIEF_FEAST = [
    "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib",
    "plane_year", "plane_seats", "plane_engines", "plane_type", "plane_manufacturer",
    "plane_engine", "carrier_late_rate_28d", "carrier_flights_28d",
]  # fmt: skip
CARRIERS = ["AA", "DL", "UA", "B6"]


def joined_frame(rows: int = 20) -> pd.DataFrame:
    """What the Feast join returns: entity frame columns plus every Feast feature."""
    events = flight_events(
        [
            (f"F{i}", f"2013-03-{1 + i % 28:02d} {6 + i % 12:02d}:15", ["EWR", "JFK", "LGA"][i % 3],
             CARRIERS[i % 4], f"N{i}")
            for i in range(rows)
        ]
    )  # fmt: skip
    frame = ts.entity_frame(events, contract.CONTRACT)
    gaps = np.where(np.arange(rows) % 5 == 0, np.nan, 1.0)  # every fifth flight lacks a value
    frame = frame.assign(
        temp=40.0 * gaps, dewp=30.0, humid=60.0, wind_dir=180.0, wind_speed=10.0,
        wind_gust=np.nan, precip=0.0, pressure=1015.0, visib=10.0,
        plane_year=2004.0 * gaps, plane_seats=55.0 * gaps, plane_engines=2.0 * gaps,
        plane_type=np.where(np.isnan(gaps), None, "Fixed wing multi engine"),
        plane_manufacturer=np.where(np.isnan(gaps), None, "EMBRAER"),
        plane_engine=np.where(np.isnan(gaps), None, "Turbo-fan"),
        carrier_late_rate_28d=0.2, carrier_flights_28d=pd.Series([120] * rows, dtype="int32"),
    )  # fmt: skip
    return frame


def assemble(frame: pd.DataFrame, share: float = 0.0) -> pd.DataFrame:
    return ts.assemble_training_set(frame, contract.CONTRACT, max_unknown_category_share=share)


def test_model_input_is_exactly_the_briefs_columns():
    assert contract.REQUEST_COLUMNS == BRIEF_REQUEST
    assert contract.FEAST_FEATURE_COLUMNS == BRIEF_FEAST
    assert contract.FEATURE_COLUMNS == BRIEF_REQUEST + BRIEF_FEAST
    keys = ["flight_id", "event_timestamp", "flight_month"]
    expected = [*keys, *BRIEF_REQUEST, *BRIEF_FEAST, "is_late"]
    assert expected == contract.TRAINING_SET_COLUMNS
    assert contract.LABEL_COLUMN == "is_late"
    assert set(contract.CATEGORICAL_COLUMNS) == {
        "carrier", "origin", "dest", "plane_type", "plane_manufacturer", "plane_engine",
    }  # fmt: skip
    assert set(contract.NUMERIC_COLUMNS) | set(contract.CATEGORICAL_COLUMNS) == set(
        contract.FEATURE_COLUMNS
    )


def test_no_column_known_only_after_departure_is_in_any_contract():
    leaks = {"dep_time", "dep_delay", "arr_time", "air_time", "arr_delay"}

    assert leaks <= set(contract.LEAKAGE_COLUMNS)
    for description in (contract.MODEL_INPUT_CONTRACT, contract.TRAINING_SET_CONTRACT):
        assert description["strict"] is True
        assert not leaks & {column["name"] for column in description["columns"]}


@pytest.mark.parametrize("leak", contract.LEAKAGE_COLUMNS)
def test_a_leaking_column_fails_the_training_set_naming_it(leak):
    with pytest.raises(ContractViolation, match=f"column '{leak}' is not in the contract"):
        assemble(joined_frame().assign(**{leak: 12.0}))


def test_the_entity_frame_never_carries_leaking_columns():
    events = flight_events([("F1", "2013-03-01 12:00", "JFK", "AA", "N1")])
    events = events.assign(dep_delay=30.0, arr_delay=45.0, air_time=50.0)

    frame = ts.entity_frame(events, contract.CONTRACT)

    assert not set(contract.LEAKAGE_COLUMNS) & set(frame.columns)


def test_the_entity_frame_names_missing_event_columns():
    events = flight_events([("F1", "2013-03-01 12:00", "JFK", "AA", "N1")])

    with pytest.raises(
        ValueError, match="the label events lack column\\(s\\) 'tailnum', 'is_late'"
    ):
        ts.entity_frame(events.drop(columns=["tailnum", "is_late"]), contract.CONTRACT)


def test_a_joined_frame_that_honours_the_contract_becomes_the_training_set():
    result = assemble(joined_frame())

    assert list(result.columns) == contract.TRAINING_SET_COLUMNS
    assert result["carrier_flights_28d"].dtype == "float64"  # Feast ints may come back with gaps
    assert result["sched_dep_hour"].dtype == "int64"  # DuckDB INTEGER is read as int32
    assert "tailnum" not in result  # a join key, not a model input


UPSTREAM_CHANGES = {
    "renamed": (
        lambda f: f.rename(columns={"temp": "temperature"}),
        "column 'temp' is missing (renamed? unexpected columns: 'temperature')",
    ),
    "dropped": (
        lambda f: f.drop(columns=["carrier_late_rate_28d"]),
        "column 'carrier_late_rate_28d' is missing",
    ),
    "type-changed": (
        lambda f: f.assign(distance=f["distance"].astype(str)),
        "column 'distance' has the wrong type: expected float64, found object",
    ),
    "unit-changed": (
        lambda f: f.assign(temp=(f["temp"] + 273.15)),  # Fahrenheit became Kelvin
        "column 'temp' has 16 value(s) out of range (expected [-40, 130]), e.g. 313.15",
    ),
    "new-carrier": (
        lambda f: f.assign(carrier=["ZZ"] * 5 + f["carrier"].tolist()[5:]),
        "column 'carrier' has 25.0% unknown categories (max 10.0%), e.g. 'ZZ'",
    ),
    "null-request-feature": (
        lambda f: f.assign(origin=[None, *f["origin"].tolist()[1:]]),
        "column 'origin' has 1 null value(s)",
    ),
}


@pytest.mark.parametrize(
    ("change", "message"), UPSTREAM_CHANGES.values(), ids=UPSTREAM_CHANGES.keys()
)
def test_each_upstream_change_fails_with_the_column_named(change, message):
    with pytest.raises(ContractViolation) as caught:
        assemble(change(joined_frame()), share=0.1)

    assert message in str(caught.value)


def test_a_few_unknown_categories_within_the_share_pass():
    frame = joined_frame(20).assign(dest=["XYZ"] + ["BOS"] * 19)
    frame["carrier"] = ["ZZ", *frame["carrier"].tolist()[1:]]  # 5 %

    result = assemble(frame, share=0.1)

    assert result["carrier"].iloc[0] == "ZZ"


def test_the_embedded_contract_rebuilds_the_same_schema():
    described = json.loads(json.dumps(contract.MODEL_INPUT_CONTRACT))

    assert schema_to_dict(schema_from_dict(described)) == described
    assert schema_to_dict(contract.model_input_schema()) == contract.MODEL_INPUT_CONTRACT
    assert [c["name"] for c in described["columns"]] == contract.FEATURE_COLUMNS


def test_the_bento_config_reference_resolves_to_the_contract():
    from twelve.deploy.bento import contract_description

    description = contract_description("flight_delays.contract:MODEL_INPUT_CONTRACT")

    assert description == contract.MODEL_INPUT_CONTRACT


# ----------------------------------------------------------------------------- the asset


class StandInFeast(FeastResource):
    """Returns a prepared joined frame instead of asking Feast (the join is tested elsewhere)."""

    corrupt: str = "none"

    def historical_features(self, entity_df: pd.DataFrame, feature_service: str) -> pd.DataFrame:
        frame = joined_frame(len(entity_df))
        if self.corrupt == "rename":
            frame = frame.rename(columns={"temp": "temperature"})
        return frame


PROJECT = Project.of_package("flight_delays")


def _training_set_asset() -> dg.AssetsDefinition:
    """The project's training_set asset, from its feature-store block."""
    from flight_delays.definitions import build_defs

    return build_defs().get_assets_def("training_set")


def run_training_set(tmp_path, monkeypatch, corrupt: str) -> dg.ExecuteInProcessResult:
    monkeypatch.setenv("TWELVE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TWELVE_HOME", str(tmp_path / "home"))
    events = flight_events([(f"F{i}", "2013-03-02 12:00", "JFK", "AA", f"N{i}") for i in range(20)])
    path = PROJECT.features_dir() / "flight_events.parquet"
    path.parent.mkdir(parents=True)
    events.to_parquet(path, index=False)
    return dg.materialize(
        [_training_set_asset()],
        resources={"feast": StandInFeast(corrupt=corrupt)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_the_training_set_asset_writes_the_file_and_versions_it_by_md5(tmp_path, monkeypatch):
    result = run_training_set(tmp_path, monkeypatch, corrupt="none")

    assert result.success
    written = PROJECT.training_set_path()
    assert list(pd.read_parquet(written).columns) == contract.TRAINING_SET_COLUMNS
    materialization = result.asset_materializations_for_node("training_set")[0]
    md5 = file_md5(written)
    assert materialization.tags["dagster/data_version"] == md5
    metadata = materialization.metadata
    assert metadata["rows"].value == 20
    assert metadata["label_mean"].value == 0.5
    assert metadata["rows_per_period"].value == {"2013-03": 20}
    assert metadata["null_share"].value["temp"] == 0.2
    assert metadata["dagster/row_count"].value == 20
    schema = metadata["dagster/column_schema"].value
    assert [column.name for column in schema.columns] == contract.TRAINING_SET_COLUMNS
    (temp,) = [column for column in schema.columns if column.name == "temp"]
    assert (temp.type, temp.constraints.nullable) == ("float64", True)
    assert temp.constraints.other == ["range [-40, 130]"]
    assert metadata["feature_service"].value == "flight_delay_v1"


def test_the_training_set_asset_fails_when_the_contract_fails(tmp_path, monkeypatch):
    result = run_training_set(tmp_path, monkeypatch, corrupt="rename")

    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    text = failure.message + "".join(
        cause.message for cause in [failure.cause] if cause is not None
    )
    assert "ContractViolation" in text
    assert "column 'temp' is missing" in text
    assert not PROJECT.training_set_path().exists()
