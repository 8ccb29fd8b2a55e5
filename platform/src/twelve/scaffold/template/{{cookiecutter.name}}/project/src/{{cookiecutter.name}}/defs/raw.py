"""Raw data (factor 1): the source file, written as parquet and versioned with DVC."""

import dagster as dg
from twelve.data.versioning import DvcResource

from {{ cookiecutter.name }} import resources, sample_data
from {{ cookiecutter.name }}.paths import ASSET_PREFIX, raw_events_path


@dg.asset(key_prefix=ASSET_PREFIX, group_name="raw", code_version="1", kinds={"parquet", "dvc"})
def raw_events(context: dg.AssetExecutionContext, dvc: DvcResource) -> dg.MaterializeResult:
    """The raw events: PLACEHOLDER sample data (sample_data.make_events), versioned with DVC.

    Replace the generator with a reader of the team's own source. The data version is the
    file's DVC md5, so downstream assets are stale only when the content changed.
    """
    frame = sample_data.make_events()
    path = raw_events_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    md5 = dvc.track(path)
    context.log.info("raw_events: %d rows, md5 %s", len(frame), md5)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(md5),
        metadata={"dvc_md5": md5, "path": dg.MetadataValue.path(str(path)), "rows": len(frame)},
    )


def defs() -> dg.Definitions:
    """The raw asset and the DVC resource."""
    return dg.Definitions(assets=[raw_events], resources={"dvc": resources.dvc()})
