"""The feature-store block: Feast registry, online store and training set.

Configured in ``defs/features``::

    type: twelve.features.component.FeatureStore
    attributes:
      feature_tables: [weather_features, plane_features, carrier_features]
      label_events: flight_events
      max_unknown_category_share: 0.01

The feature service is the project's (``[tool.twelve] feature_service``); the training set is
checked against its contract (``[tool.twelve] contract``).
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from twelve.core.project import Project
from twelve.features.assets import (
    feast_definitions_asset,
    online_features_asset,
    training_set_asset,
)


class FeatureStore(dg.Component, dg.Model, dg.Resolvable):
    """Feast registry, online store and the point-in-time training set of the project (factor 2)."""

    feature_tables: list[str] = Field(
        description="The dbt feature tables the Feast views read (their assets come first)."
    )
    label_events: str = Field(
        description="The dbt table of labelled events: keys, request features, join keys, label."
    )
    materialize_start: str = Field(
        default="", description="Default start of the online range (ISO, UTC); empty: earliest."
    )
    materialize_end: str = Field(
        default="", description="Default end of the online range (ISO, UTC); empty: latest."
    )
    max_unknown_category_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Default tolerated share of unknown categories per training-set column.",
    )
    group: str = Field(default="features", description="Asset group in the UI.")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """``feast_definitions``, ``online_features`` and ``training_set``."""
        project = Project.load(context.project_root)
        online = {
            "materialize_start": self.materialize_start,
            "materialize_end": self.materialize_end,
        }
        training = {"max_unknown_category_share": self.max_unknown_category_share}
        return dg.Definitions(
            assets=[
                feast_definitions_asset(project, self.feature_tables, self.group),
                online_features_asset(project, online, self.group),
                training_set_asset(project, self.label_events, training, self.group),
            ]
        )
