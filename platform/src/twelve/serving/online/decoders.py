"""Serialized ``ValueProto`` blobs of the online store decoded to Feast's Python values."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")

Decoder = Callable[[bytes | None], Any]


def _varint(blob: bytes, start: int) -> tuple[int, int]:
    """A protobuf varint at ``blob[start:]``: (value as unsigned 64-bit, index after it)."""
    result, shift, index = 0, 0, start
    while True:
        byte = blob[index]
        result |= (byte & 0x7F) << shift
        index += 1
        if byte < 0x80:
            return result, index
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _signed64(value: int) -> int:
    """An unsigned 64-bit varint as int64 (two's complement), as protobuf reads ``int64``."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _signed32(value: int) -> int:
    """A varint as int32: protobuf keeps the low 32 bits (negatives arrive sign-extended)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _fixed(tag: int, unpack: struct.Struct, slow: Decoder) -> Decoder:
    """A fixed-width member (``double_val``, ``float_val``): the tag byte, then the payload."""
    size = unpack.size + 1
    unpack_from = unpack.unpack_from

    def decode(blob: bytes | None) -> Any:
        if not blob:
            return None
        if blob[0] == tag and len(blob) == size:
            return unpack_from(blob, 1)[0]
        return slow(blob)

    return decode


def _varint_member(tag: int, convert: Callable[[int], Any], slow: Decoder) -> Decoder:
    """A varint member (``int64_val``, ``int32_val``, ``bool_val``)."""

    def decode(blob: bytes | None) -> Any:
        if not blob:
            return None
        if blob[0] == tag:
            if len(blob) == 2 and blob[1] < 0x80:
                return convert(blob[1])
            value, end = _varint(blob, 1)
            if end == len(blob):
                return convert(value)
        return slow(blob)

    return decode


def _text(slow: Decoder) -> Decoder:
    """``string_val``: field 2, length-delimited."""

    def decode(blob: bytes | None) -> Any:
        if not blob:
            return None
        if blob[0] == 0x12:
            size, start = (blob[1], 2) if len(blob) > 1 and blob[1] < 0x80 else _varint(blob, 1)
            if start + size == len(blob):
                return blob[start:].decode("utf-8")
        return slow(blob)

    return decode


def make_decoder(value_type_name: str) -> Decoder:
    """The decoder of a serialized ``ValueProto`` of one declared type, to Feast's Python value.

    The fast path reads the wire format of the one oneof member the type writes (tag byte, then
    the payload, and nothing else in the blob); anything else (another member, extra fields, a
    type without a fast path) is parsed by protobuf and converted by Feast's
    ``feast_value_type_to_python_type``, so the answer is Feast's in every case.

    Args:
        value_type_name: the feature's Feast ``ValueType`` name (``"DOUBLE"``, ``"STRING"``...).

    Returns:
        ``decode(blob) -> value``; an empty or missing blob is ``None`` (no member set).
    """
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import feast_value_type_to_python_type
    from feast.value_type import ValueType

    value_type = ValueType[value_type_name]
    parse = Value.FromString

    def slow(blob: bytes | None) -> Any:
        return None if not blob else feast_value_type_to_python_type(parse(blob), value_type)

    # Tag byte = field number << 3 | wire type (Value.proto's `val` oneof).
    fast = {
        "DOUBLE": lambda: _fixed(0x29, _F64, slow),  # double_val: field 5, 64-bit
        "FLOAT": lambda: _fixed(0x35, _F32, slow),  # float_val: field 6, 32-bit
        "INT64": lambda: _varint_member(0x20, _signed64, slow),  # int64_val: field 4
        "INT32": lambda: _varint_member(0x18, _signed32, slow),  # int32_val: field 3
        "BOOL": lambda: _varint_member(0x38, bool, slow),  # bool_val: field 7
        "STRING": lambda: _text(slow),
    }
    return fast[value_type_name]() if value_type_name in fast else slow
