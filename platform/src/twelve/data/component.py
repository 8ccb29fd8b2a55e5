"""The raw-data block: a project's sources as DVC-versioned assets (``defs/raw/defs.yaml``)::

    type: twelve.data.component.RawData
    attributes:
      sources:
        - asset: raw_flights
          reader: flight_delays.ingest:read_flights   # (month "YYYY-MM") -> DataFrame
          file: flights/{month}.parquet
          monthly: true
        - asset: raw_weather
          reader: flight_delays.ingest:read_weather
          file: weather.parquet
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from twelve.core.project import Project
from twelve.data.assets import RawSource, raw_asset


class Source(dg.Model):
    """One raw source (see :class:`twelve.data.assets.RawSource`)."""

    asset: str = Field(description="Asset name, e.g. raw_flights.")
    reader: str = Field(description="'module:function' returning the source as a DataFrame.")
    file: str = Field(description="File under the project's raw folder; {month} when monthly.")
    monthly: bool = Field(default=False, description="Arrives month by month (partitioned).")


class RawData(dg.Component, dg.Model, dg.Resolvable):
    """The project's raw sources, written as parquet and versioned with DVC (factor 1)."""

    sources: list[Source] = Field(description="The sources, each one asset.")
    group: str = Field(default="raw", description="Asset group in the UI.")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """One asset per source."""
        project = Project.load(context.project_root)
        names = [source.asset for source in self.sources]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise ValueError(f"{context.path}: sources share asset names {doubles}")
        for source in self.sources:
            if source.monthly != ("{month}" in source.file):
                raise ValueError(
                    f"{context.path}: source {source.asset}: a monthly source's file needs "
                    "{month} in its name, and only a monthly one may have it"
                )
        return dg.Definitions(
            assets=[
                raw_asset(RawSource(**source.model_dump()), project, self.group)
                for source in self.sources
            ]
        )
