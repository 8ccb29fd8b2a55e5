"""Raw assets through Dagster: the DVC md5 of the written file is the asset's data version."""

import dagster as dg

from flight_delays.defs import raw
from twelve.data.versioning import read_dvc_pointer


def _data_version(result, key):
    event = result.asset_materializations_for_node(key)[0]
    return event.tags["dagster/data_version"]


def test_a_month_is_written_tracked_and_versioned_by_its_md5(twelve_env):
    dvc = twelve_env.dvc()
    result = dg.materialize([raw.raw_flights], partition_key="2013-03-01", resources={"dvc": dvc})

    path = twelve_env.data_dir / "raw" / "flights" / "2013-03.parquet"
    pointer_md5 = read_dvc_pointer(path.with_name("2013-03.parquet.dvc"))
    assert _data_version(result, "raw_flights") == pointer_md5
    assert (twelve_env.remote / "files" / "md5" / pointer_md5[:2] / pointer_md5[2:]).is_file()


def test_unchanged_source_data_keeps_the_same_version(twelve_env):
    dvc = twelve_env.dvc()
    instance = dg.DagsterInstance.ephemeral()
    versions = [
        _data_version(
            dg.materialize([raw.raw_weather], resources={"dvc": dvc}, instance=instance),
            "raw_weather",
        )
        for _ in range(2)
    ]
    assert versions[0] == versions[1]
