"""The drift decision of the retraining sensor, on real profiles in a throw-away store."""

import pytest
from twelve.monitoring.profiling import ProfileNotFound, ProfileStore, profile_frame

from {{ cookiecutter.name }}.config import DriftConfig
from {{ cookiecutter.name }}.defs.drift import drift_of
from {{ cookiecutter.name }}.paths import RAW_DATASET
from {{ cookiecutter.name }}.sample_data import make_events


@pytest.fixture
def store(tmp_path) -> ProfileStore:
    store = ProfileStore(tmp_path)
    store.write(RAW_DATASET, "reference", profile_frame(make_events(1000, seed=1)))
    store.set_reference(RAW_DATASET, "reference")
    return store


def test_the_same_kind_of_data_is_no_drift(store):
    store.write(RAW_DATASET, "same", profile_frame(make_events(1000, seed=2)))
    assert not drift_of("same", DriftConfig(), store).is_drift


def test_shifted_amounts_are_drift(store):
    events = make_events(1000, seed=2)
    store.write(RAW_DATASET, "shifted", profile_frame(events.assign(amount=events["amount"] * 3)))
    verdict = drift_of("shifted", DriftConfig(), store)
    assert verdict.is_drift and verdict.drifted == ["amount"]


def test_the_reference_itself_is_not_compared(store):
    assert drift_of("reference", DriftConfig(), store) is None


def test_an_unprofiled_version_is_named(store):
    with pytest.raises(ProfileNotFound, match="unknown"):
        drift_of("unknown", DriftConfig(), store)
