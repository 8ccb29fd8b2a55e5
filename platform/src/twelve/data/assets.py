"""Raw data assets (factor 1): a source read by the project, written as parquet, versioned by DVC.

The DVC md5 of each written file is the asset's Dagster data version: downstream assets are stale
only when the content really changed, and any past version can be read back by its md5. A
monthly source arrives one partition at a time; its reader gets the month (``YYYY-MM``).
"""

# No `from __future__ import annotations`: Dagster inspects the real `context` annotation.

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from twelve.core import tags
from twelve.core.files import write_parquet
from twelve.core.project import Project, load_object
from twelve.data.versioning import DvcResource


@dataclass(frozen=True)
class RawSource:
    """One source of a project: the asset, the function that reads it, the file it becomes.

    Attributes:
        asset: The asset's name (``raw_flights``).
        reader: ``module:function`` returning a DataFrame; a monthly source's reader takes the
            month (``"2013-01"``), another none. Its docstring is the asset's description.
        file: The file under the project's raw folder; ``{month}`` for a monthly source.
        monthly: Whether the source arrives month by month (a partitioned asset).
    """

    asset: str
    reader: str
    file: str
    monthly: bool = False

    def path(self, project: Project, month: str | None = None) -> Path:
        """Where the source's file (of ``month``) is written."""
        return project.raw_dir() / self.file.format(month=month)


def versioned(frame: pd.DataFrame, path: Path, dvc: DvcResource) -> dg.MaterializeResult:
    """Write ``frame`` to ``path`` (atomically), version it with DVC: the md5 is the data version."""
    write_parquet(frame, path)
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


def _description(reader: Callable, source: RawSource) -> str:
    # The reader's own words, without its Args/Returns sections (those describe the function).
    text = (inspect.getdoc(reader) or f"The raw source {source.asset}.").split("\n\nArgs:")[0]
    where = f"`raw/{source.file}`" + (" (one file per month)" if source.monthly else "")
    return f"{text}\n\nWritten to {where}, versioned with DVC; the data version is its md5."


def raw_asset(source: RawSource, project: Project, group: str) -> dg.AssetsDefinition:
    """The asset of one raw source (partitioned by month when the source is monthly)."""
    reader = load_object(source.reader)

    @dg.asset(
        key=project.key(source.asset),
        partitions_def=project.partitions() if source.monthly else None,
        group_name=group,
        code_version="1",
        kinds={"parquet", "dvc"},
        tags=tags.role(tags.ARRIVAL) if source.monthly else None,
        description=_description(reader, source),
    )
    def _raw(context: dg.AssetExecutionContext, dvc: DvcResource) -> dg.MaterializeResult:
        month = context.partition_key[:7] if source.monthly else None
        frame = reader(month) if source.monthly else reader()
        result = versioned(frame, source.path(project, month), dvc)
        assert result.data_version is not None  # versioned() always sets it (the md5)
        context.log.info(
            "%s%s: %d rows, md5 %s",
            source.asset,
            f" {month}" if month else "",
            len(frame),
            result.data_version.value,
        )
        return result

    return _raw
