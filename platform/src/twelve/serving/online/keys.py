"""Feast's serialized entity keys (version 3) and Redis hash fields, computed without Feast."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twelve.serving.config import ServingConfigError

# Feast's ValueType numbers as written into serialized entity keys (Value.proto).
_KEY_TYPE_STRING, _KEY_TYPE_INT32, _KEY_TYPE_INT64 = 2, 3, 4
_U32 = struct.Struct("<I")
_U32_PAIR = struct.Struct("<II")
_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")

KeyEncoder = Callable[[Mapping[str, Any], int], bytes]


def _key_value_bytes(value_type_name: str, join_key: str) -> Callable[[Any, int], bytes]:
    """The function turning one join key's value into ``<u32 type><u32 len><bytes>``.

    Strings must be ``str``: Feast would stringify anything else (``5`` -> ``"5"``), but a
    caller sending a number as a tail number has a bug worth naming. ``None`` has no key (Feast
    fails on it too, with a less helpful ``TypeError``).

    Raises:
        ServingConfigError: the entity's value type is not one this reader encodes.
    """

    def refused(value: Any, row: int, expected: str) -> ValueError:
        kind = "null" if value is None else type(value).__name__
        return ValueError(
            f"entity row {row}: join key {join_key!r} is {kind} {value!r}, expected {expected}"
        )

    if value_type_name == "STRING":
        head = _U32.pack(_KEY_TYPE_STRING)

        def encode_string(value: Any, row: int) -> bytes:
            if not isinstance(value, str):
                raise refused(value, row, "a string")
            data = value.encode("utf-8")
            return head + _U32.pack(len(data)) + data

        return encode_string
    if value_type_name in ("INT64", "INT32"):
        packer, number = (
            (_I64, _KEY_TYPE_INT64) if value_type_name == "INT64" else (_I32, _KEY_TYPE_INT32)
        )
        head = _U32_PAIR.pack(number, packer.size)

        def encode_int(value: Any, row: int) -> bytes:
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise refused(value, row, "an integer")
            try:
                return head + packer.pack(value.__index__())
            except struct.error:
                raise refused(value, row, f"an integer within {value_type_name}") from None

        return encode_int
    raise ServingConfigError(
        f"join key {join_key!r} has value type {value_type_name}: the direct reader encodes "
        "STRING, INT32 and INT64 entity keys only"
    )


def make_key_encoder(join_keys: Sequence[tuple[str, str, str]], suffix: bytes = b"") -> KeyEncoder:
    """Feast's serialized entity key (version 3) of an entity row, as one function.

    Args:
        join_keys: per join key of the view: (name in the entity rows, name in the store, value
            type name such as ``"STRING"``). They differ when the service maps join keys.
        suffix: bytes appended to every key (Redis appends the project name).

    Returns:
        ``encode(row, row_number) -> bytes``; it raises ``KeyError`` naming a join key the row
        lacks and ``ValueError`` for a value of the wrong type (both name the row).
    """
    ordered = sorted(join_keys, key=lambda item: item[1])  # Feast sorts by the stored name
    header = _U32.pack(len(ordered)) + b"".join(
        _U32.pack(_KEY_TYPE_STRING) + _U32.pack(len(name.encode())) + name.encode()
        for _, name, _ in ordered
    )
    parts = [(request, _key_value_bytes(kind, request)) for request, _, kind in ordered]

    def missing(row: int, request: str) -> KeyError:
        return KeyError(f"entity row {row} has no join key {request!r}")

    if len(parts) == 1:  # the common case, without the loop
        ((request, encode),) = parts

        def encode_one(entity_row: Mapping[str, Any], row: int) -> bytes:
            try:
                value = entity_row[request]
            except KeyError:
                raise missing(row, request) from None
            return header + encode(value, row) + suffix

        return encode_one

    def encode_many(entity_row: Mapping[str, Any], row: int) -> bytes:
        out = [header]
        for request, encode in parts:
            try:
                value = entity_row[request]
            except KeyError:
                raise missing(row, request) from None
            out.append(encode(value, row))
        out.append(suffix)
        return b"".join(out)

    return encode_many


def redis_field(view_name: str, feature: str) -> bytes:
    """The Redis hash field of a feature: murmur3 (32-bit, unsigned) of ``view:feature``, LE.

    Feast's ``helpers._mmh3`` packs the hash as 8 bytes and keeps the first 4: the same bytes.
    """
    import mmh3

    return _U32.pack(mmh3.hash(f"{view_name}:{feature}", signed=False))
