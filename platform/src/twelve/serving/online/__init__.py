"""Online features read straight from Feast's online store, without the SDK on the request path.

Modules: :mod:`.reader` (:class:`~.reader.DirectOnlineFeatures`, what a bento reads with),
:mod:`.keys` (entity keys), :mod:`.decoders` (values), :mod:`.plan` (one view's read plan, and
the answer of a lookup), :mod:`.sqlite_store` and :mod:`.redis_store` (the two stores read), and
:mod:`.sdk` (:class:`~.sdk.OnlineFeatures`, the same answers through Feast's SDK: the reference
the parity tests compare with).

Why: ``FeatureStore.get_online_features`` resolves the feature service, converts every entity
value to protobuf, groups and de-duplicates rows and builds a response proto on *every* call
(about 12 ms per ``/predict`` here, STACK-NOTES). The serving goal is 3 ms end to end, so
:class:`DirectOnlineFeatures` does that work once in :meth:`~DirectOnlineFeatures.load` and
keeps only the reads themselves on the request path: same registry, same keys, same values.

What it relies on in Feast 0.67 (``feast/infra/...``; the tests compare every demo entity with
the SDK's answer, and :meth:`~DirectOnlineFeatures.load` checks the key encoding against
Feast's own function, so a Feast upgrade that moves the layout fails loudly, never silently):

- **Entity keys** (``key_encoding_utils.serialize_entity_key``, version 3): ``<u32 count>``, then
  per join key sorted by name ``<u32 STRING=2><u32 len><utf-8 name>``, then per value
  ``<u32 type><u32 len><bytes>`` (strings utf-8, INT64 ``<q``, INT32 ``<i``).
- **SQLite** (``online_stores/sqlite.py``): one table per view named ``<project>_<view>``
  (``helpers.compute_table_id``), one row per (entity_key, feature_name) holding the serialized
  ``ValueProto``; ``online_read`` selects ``WHERE entity_key IN (...)``. A feature without a row
  is reported NOT_FOUND.
- **Redis** (``online_stores/redis.py``): one hash per entity, key = serialized entity key +
  project; fields ``_mmh3("<view>:<feature>")`` (murmur3 32-bit, 4 bytes little endian,
  ``helpers._mmh3``) hold the ``ValueProto`` and ``_ts:<view>`` the event ``Timestamp``. Feast
  reads them with one pipelined ``HMGET`` per entity; a key without ``_ts:<view>`` comes back
  with empty values and epoch 0.
- **Values** (``type_map.feast_value_type_to_python_type``): the set member of the ``val``
  oneof, ``None`` when none is set. The scalar members are decoded here from the wire format
  (a ``double_val`` is ``0x29`` + 8 bytes); any other shape goes through protobuf and Feast's
  own conversion, so the value is always Feast's.
- **TTL**: Feast 0.67 does not filter expired rows on the online read of a regular feature
  service (``OnlineStore._read_features_per_fv`` -> ``utils._populate_response_from_feature_data``
  has no TTL check; only the pre-computed vectors of a ``precompute_online`` service are
  checked against it). So no TTL rule here either, and a ``precompute_online`` service is
  refused at load rather than served differently.

Nothing heavy at import: Feast and redis are imported by :meth:`DirectOnlineFeatures.load`.
"""
