"""Raw assets through Dagster: the DVC md5 of the written file is the asset's data version.

The assets are the project's raw block (``defs/raw/defs.yaml``, ``twelve.data.component``).
"""

from functools import cache

import dagster as dg
import pytest

from twelve.data.versioning import read_dvc_pointer


@cache
def _asset(name: str) -> dg.AssetsDefinition:
    from flight_delays.definitions import build_defs

    return build_defs().get_assets_def(name)


def _data_version(result, key):
    event = result.asset_materializations_for_node(key)[0]
    return event.tags["dagster/data_version"]


def test_a_month_is_written_tracked_and_versioned_by_its_md5(twelve_env):
    dvc = twelve_env.dvc()
    result = dg.materialize(
        [_asset("raw_flights")], partition_key="2013-03-01", resources={"dvc": dvc}
    )

    path = twelve_env.data_dir / "raw" / "flights" / "2013-03.parquet"
    pointer_md5 = read_dvc_pointer(path.with_name("2013-03.parquet.dvc"))
    assert _data_version(result, "raw_flights") == pointer_md5
    assert (twelve_env.remote / "files" / "md5" / pointer_md5[:2] / pointer_md5[2:]).is_file()


def test_unchanged_source_data_keeps_the_same_version(twelve_env):
    dvc = twelve_env.dvc()
    instance = dg.DagsterInstance.ephemeral()
    versions = [
        _data_version(
            dg.materialize([_asset("raw_weather")], resources={"dvc": dvc}, instance=instance),
            "raw_weather",
        )
        for _ in range(2)
    ]
    assert versions[0] == versions[1]


def test_each_asset_is_described_by_its_reader_and_only_flights_arrive_by_month():
    flights, weather = _asset("raw_flights"), _asset("raw_weather")
    flights_spec = flights.specs_by_key[dg.AssetKey("raw_flights")]
    assert flights.partitions_def.get_partition_keys()[0] == "2013-01-01"
    assert len(flights.partitions_def.get_partition_keys()) == 12
    assert weather.partitions_def is None
    assert flights_spec.description.startswith("Flights departing New York in one month")
    assert "Args:" not in flights_spec.description
    assert flights_spec.tags["twelve/role"] == "arrival"


def test_a_month_outside_2013_is_refused_by_the_reader():
    from flight_delays import ingest

    with pytest.raises(ValueError, match="'2014-01' is not a month of 2013"):
        ingest.read_flights("2014-01")
