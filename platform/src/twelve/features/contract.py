"""A project's model contract: what its model reads and what its training set holds (factor 2).

One :class:`Contract` per project (its ``contract.py``), from which every block takes its
columns: the training-set assembly (keys, model input, label, validated against the training-set
schema), training (the numeric and categorical inputs, the label), the monthly checks (the period
column, the compared features), the bento (the model-input contract it embeds and checks every
request with). Both schemas are strict: a column that is not listed is refused, which is how
leaks are kept out; ``leakage`` names the columns known only after the fact, refused at
construction if any of them is ever listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twelve.features.columns import ColumnSpec
from twelve.features.schemas import build_schema, contract_dict

if TYPE_CHECKING:
    import pandera.pandas as pa

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def month_column(name: str, description: str = "Month of the row, YYYY-MM.") -> ColumnSpec:
    """The period column every training set carries: the month a row belongs to (``YYYY-MM``)."""
    return ColumnSpec(name, "str", pattern=MONTH_PATTERN, description=description)


@dataclass(frozen=True)
class Contract:
    """The columns of a project's model input and training set, by role.

    Attributes:
        name: Prefix of the two schemas (``<name>_model_input``, ``<name>_training_set``).
        id: The column that identifies a labelled row (unique in the training set).
        timestamp: The point in time of a row's features (UTC): nothing later may be joined.
        period: The month of a row (``YYYY-MM``): training windows, the holdout and the monthly
            drift and performance checks select rows by it.
        request: Features a caller sends with a request.
        entity: Features looked up by entity key in the feature store (Feast): nullable.
        label: What the model predicts.
        entity_keys: Join keys of the entity features; those that are not request features are
            only used to join and never reach the model.
        leakage: Columns known only after the outcome: refused here if any role lists one.
        description: What the model input is, for people and the UI.
    """

    name: str
    id: ColumnSpec
    timestamp: ColumnSpec
    period: ColumnSpec
    request: tuple[ColumnSpec, ...]
    entity: tuple[ColumnSpec, ...]
    label: ColumnSpec
    entity_keys: tuple[str, ...] = ()
    leakage: tuple[str, ...] = ()
    description: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Freeze the column lists as tuples; raise ``ValueError`` naming a listing problem."""
        for name in ("request", "entity", "entity_keys", "leakage"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        names = self.training_set_columns
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"contract '{self.name}': columns listed twice: {doubles}")
        leaks = sorted(set(self.leakage) & set(names))
        if leaks:
            raise ValueError(
                f"contract '{self.name}': columns known only after the outcome are listed: {leaks}"
            )
        if not self.model_input:
            raise ValueError(f"contract '{self.name}' has no feature")

    # ------------------------------------------------------------------ columns by role
    @property
    def model_input(self) -> tuple[ColumnSpec, ...]:
        """The model's input columns, request features first."""
        return (*self.request, *self.entity)

    @property
    def feature_columns(self) -> list[str]:
        """Names of the model input columns, in order."""
        return [spec.name for spec in self.model_input]

    @property
    def categorical_columns(self) -> list[str]:
        """Model inputs of text type."""
        return [spec.name for spec in self.model_input if spec.dtype == "str"]

    @property
    def numeric_columns(self) -> list[str]:
        """Model inputs of numeric type."""
        return [spec.name for spec in self.model_input if spec.dtype != "str"]

    @property
    def request_columns(self) -> list[str]:
        """Names of the request features."""
        return [spec.name for spec in self.request]

    @property
    def entity_columns(self) -> list[str]:
        """Names of the entity (feature store) features."""
        return [spec.name for spec in self.entity]

    @property
    def key_columns(self) -> list[str]:
        """Identifier, timestamp and period columns."""
        return [self.id.name, self.timestamp.name, self.period.name]

    @property
    def join_only_keys(self) -> list[str]:
        """Entity keys needed to join features that are not model inputs themselves."""
        return [key for key in self.entity_keys if key not in self.feature_columns]

    @property
    def training_set_columns(self) -> list[str]:
        """Keys, model input and label, in the order of the training set."""
        return [*self.key_columns, *self.feature_columns, self.label.name]

    @property
    def entity_frame_columns(self) -> list[str]:
        """What a feature-store join needs per labelled row: keys, request, join keys, label."""
        return [*self.key_columns, *self.request_columns, *self.join_only_keys, self.label.name]

    # ------------------------------------------------------------------ the two contracts
    def model_input_dict(self) -> dict[str, Any]:
        """The model-input contract as JSON-ready data (what a bento embeds)."""
        return contract_dict(
            self.model_input, name=f"{self.name}_model_input", description=self.description
        )

    def training_set_dict(self) -> dict[str, Any]:
        """The training-set contract as JSON-ready data."""
        return contract_dict(
            (self.id, self.timestamp, self.period, *self.model_input, self.label),
            name=f"{self.name}_training_set",
            description=f"Keys, model input and label of the {self.name} training set.",
        )

    def model_input_schema(self) -> pa.DataFrameSchema:
        """The pandera schema of the model input (built once, on first use)."""
        return self._schema("model_input", self.model_input_dict())

    def training_set_schema(self) -> pa.DataFrameSchema:
        """The pandera schema of the training set (built once, on first use)."""
        return self._schema("training_set", self.training_set_dict())

    def _schema(self, kind: str, described: dict[str, Any]) -> pa.DataFrameSchema:
        if kind not in self._cache:
            self._cache[kind] = build_schema(
                [ColumnSpec.from_dict(column) for column in described["columns"]],
                name=described["name"],
                description=described["description"],
            )
        return self._cache[kind]
