"""Online features through Feast's SDK (``FeatureStore.get_online_features``): the reference.

The answers :class:`twelve.serving.online.reader.DirectOnlineFeatures` must give (its tests
compare the two on every entity of a real store). Not on the request path: the SDK converts and
groups every entity row through protobuf on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from twelve.serving.config import ServingConfigError

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore
from twelve.serving.online.plan import OnlineLookup, StoreReader


class OnlineFeatures(StoreReader):
    """Features by entity key from the Feast online store of a feature service, through Feast."""

    def __init__(self, feature_store: Mapping[str, Any], feature_service: str) -> None:
        super().__init__(feature_store, feature_service)
        self._store: FeatureStore | None = None
        self._service: FeatureService | None = None
        self._keys_of_feature: dict[str, tuple[str, ...]] = {}

    def load(self) -> None:
        """Open the store and read the feature service from the registry (fails loudly).

        Raises:
            ServingConfigError: the registry or the online store file does not exist, or the
                feature service is not registered.
        """
        from feast import FeatureStore, RepoConfig

        self.check_local_files()
        config = RepoConfig(**self.feature_store_config)
        store = FeatureStore(config=config)
        try:
            service = store.get_feature_service(self.feature_service_name)
        except Exception as error:  # Feast raises its own not-found error type
            raise ServingConfigError(
                f"feature service {self.feature_service_name!r} is not registered in "
                f"{config.registry.path}: {error}"
            ) from error
        keys_of: dict[str, tuple[str, ...]] = {}
        join_keys: list[str] = []
        for projection in service.feature_view_projections:
            view = store.get_feature_view(projection.name)
            keys = tuple(projection.join_key_map.get(k, k) for k in view.join_keys)
            join_keys += [k for k in keys if k not in join_keys]
            for feature in projection.features:
                keys_of[feature.name] = keys
        self._store, self._service = store, service
        self.join_keys, self.feature_names = join_keys, list(keys_of)
        self._keys_of_feature = keys_of

    @property
    def loaded(self) -> bool:
        """Whether :meth:`load` succeeded."""
        return self._store is not None

    def fetch(self, entity_rows: Sequence[Mapping[str, Any]]) -> OnlineLookup:
        """Latest feature values of each entity row.

        A key the store has no record of gives null features (what the point-in-time join gives
        a training row in the same case) and is named in ``unknown`` for that row.

        Args:
            entity_rows: one mapping of join keys per row.

        Returns:
            Feature name -> values (join keys left out), and the unknown keys per row.
        """
        from feast.protos.feast.serving.ServingService_pb2 import FieldStatus

        if self._store is None:
            raise ServingConfigError("the online feature store is not loaded")
        # load() sets the service with the store (a test double may set the store alone).
        service = cast("FeatureService", self._service)
        response = self._store.get_online_features(
            features=service, entity_rows=[dict(row) for row in entity_rows]
        )
        names = list(response.proto.metadata.feature_names.val)
        values = response.to_dict()
        unknown: list[set[str]] = [set() for _ in entity_rows]
        features: dict[str, list[Any]] = {}
        for name, vector in zip(names, response.proto.results, strict=True):
            if name not in self._keys_of_feature:
                continue  # a join key echoed back
            features[name] = values[name]
            stamps = vector.event_timestamps
            for row, status in enumerate(vector.statuses):
                # SQLite reports a missing key as NOT_FOUND; Feast's Redis store answers PRESENT
                # with empty values and no event timestamp (epoch 0) for a key it does not hold.
                unstamped = row < len(stamps) and stamps[row].seconds == 0 == stamps[row].nanos
                if status == FieldStatus.NOT_FOUND or unstamped:
                    unknown[row].update(self._keys_of_feature[name])
        return OnlineLookup(features, [sorted(keys) for keys in unknown])
