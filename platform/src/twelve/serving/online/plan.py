"""What a request needs to read one feature view, worked out once; and what a lookup answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twelve.serving.config import ServingConfigError
from twelve.serving.online.decoders import Decoder
from twelve.serving.online.keys import KeyEncoder


class StoreReader:
    """What both readers of a feature service's online store share (the direct one, the SDK).

    Args:
        feature_store: the resolved Feast config (``load_serving_config()["feature_store"]``).
        feature_service: the feature service the model reads.
    """

    def __init__(self, feature_store: Mapping[str, Any], feature_service: str) -> None:
        self.feature_store_config = dict(feature_store)
        self.feature_service_name = feature_service
        self.join_keys: list[str] = []  # known once loaded
        self.feature_names: list[str] = []

    def check_local_files(self) -> None:
        """Refuse a file registry or SQLite store that does not exist (Feast would create them).

        Raises:
            ServingConfigError: naming the missing file and how to make it.
        """
        for section in ("registry", "online_store"):
            part = self.feature_store_config.get(section) or {}
            if isinstance(part, str):
                part = {"path": part}
            kind = part.get("registry_type", "file") if section == "registry" else part.get("type")
            if kind in ("file", "sqlite") and not Path(part.get("path", "")).is_file():
                raise ServingConfigError(
                    f"Feast {section} {part.get('path')} does not exist: apply and materialize "
                    "the feature repo (assets feast_definitions, online_features) for this "
                    "TWELVE_HOME"
                )


@dataclass
class OnlineLookup:
    """Feature values of a batch of entity rows and which keys were unknown."""

    features: dict[str, list[Any]]
    unknown: list[list[str]]  # per row: the join keys whose record the store does not have


@dataclass
class ViewPlan:
    """Everything a request needs to read one feature view, worked out once at load.

    Attributes:
        name: the view's name in the online store (versioned when versioning is on).
        keys: the join keys as the entity rows name them.
        features: the requested features, in the feature service's order.
        decoders: one per feature.
        encode_key: entity row -> the key the store holds it under.
        table: the SQLite table (SQLite only).
        fields: the Redis hash fields of the features, then ``_ts:<view>`` (Redis only).
    """

    name: str
    keys: tuple[str, ...]
    features: tuple[str, ...]
    decoders: tuple[Decoder, ...]
    encode_key: KeyEncoder
    table: str = ""
    fields: tuple[bytes, ...] = ()
    positions: dict[str, int] = field(init=False, repr=False)
    _sql: dict[int, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Index the features by position."""
        self.positions = {name: i for i, name in enumerate(self.features)}

    def select(self, count: int) -> str:
        """The statement reading ``count`` entity keys (one text per count, prepared once)."""
        sql = self._sql.get(count)
        if sql is None:
            quoted = '"' + self.table.replace('"', '""') + '"'
            sql = self._sql[count] = (
                f"SELECT entity_key, feature_name, value FROM {quoted} "
                f"WHERE entity_key IN ({','.join('?' * count)})"
            )
        return sql


# A record read for one entity key: whether the store knows the key, and one blob per feature.
Record = tuple[bool, Sequence[bytes | None]]
