"""One column of a contract: its type, bounds, categories and meaning (:class:`ColumnSpec`).

The compact, JSON-ready description that :mod:`twelve.features.schemas` turns into a pandera
schema and :mod:`twelve.features.contract` groups into a project's model contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The dtypes a spec may name, mapped to what pandera checks. Kept small on purpose: a contract
# is read by people, and every one of these has an unambiguous pandas counterpart.
SUPPORTED_DTYPES = ("float64", "int64", "bool", "str", "datetime64[ns, UTC]")


@dataclass(frozen=True)
class ColumnSpec:
    """Compact description of one contract column.

    Attributes:
        name: Column name.
        dtype: One of ``SUPPORTED_DTYPES``.
        nullable: Whether nulls are allowed.
        min_value: Lower bound (inclusive unless ``exclusive_min``), or None.
        max_value: Upper bound (inclusive), or None.
        exclusive_min: Make ``min_value`` a strict bound (``distance > 0``).
        categories: Allowed values of a string column; values outside them count as unknown and
            are tolerated up to ``max_unknown_category_share`` in :func:`validate_frame`.
        unique: Whether values must be unique.
        pattern: Regular expression every (string) value must match.
        description: What the column means, for people and the UI.
    """

    name: str
    dtype: str
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    exclusive_min: bool = False
    categories: tuple[str, ...] | None = None
    unique: bool = False
    pattern: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        """Check the fields; raise ``ValueError`` naming the wrong one."""
        if self.dtype not in SUPPORTED_DTYPES:
            raise ValueError(
                f"column '{self.name}': dtype {self.dtype!r} is not supported; "
                f"use one of {', '.join(SUPPORTED_DTYPES)}"
            )
        if self.categories is not None:
            # Accept lists from JSON/YAML but store a tuple so the spec stays hashable.
            object.__setattr__(self, "categories", tuple(self.categories))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (None fields dropped)."""
        data = asdict(self)
        if self.categories is not None:
            data["categories"] = list(self.categories)
        # Defaults are left out (by identity: a bound of 0 is kept, a False flag is not).
        return {
            key: value
            for key, value in data.items()
            if not (value is None or value is False or (isinstance(value, str) and not value))
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)

    def bounds_text(self) -> str:
        """Human-readable bounds, e.g. ``[-40, 130]``, ``> 0`` or ``<= 23``."""
        if self.min_value is not None and self.max_value is not None:
            left = "(" if self.exclusive_min else "["
            return f"{left}{self.min_value:g}, {self.max_value:g}]"
        if self.min_value is not None:
            return f"{'>' if self.exclusive_min else '>='} {self.min_value:g}"
        if self.max_value is not None:
            return f"<= {self.max_value:g}"
        return "any"
