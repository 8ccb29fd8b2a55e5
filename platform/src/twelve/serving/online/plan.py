"""What a request needs to read one feature view, worked out once; and what a lookup answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twelve.serving.online.decoders import Decoder
from twelve.serving.online.keys import KeyEncoder


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
