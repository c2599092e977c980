"""The body codec: round trips, zero copy, bad array descriptors, unsendable values."""

from __future__ import annotations

import math
import struct
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_strategies import array_ext, arrays, payloads, raw_body, same_payload

from mpc_runtime.errors import DecodeError, LocalProtocolError
from mpc_runtime.wire import decode_body, encode_body, payload_nbytes


def roundtrip(obj: object) -> object:
    return decode_body(b"".join(encode_body(obj)))


@given(payloads)
def test_payload_roundtrip(obj: object) -> None:
    assert same_payload(obj, roundtrip(obj))


@given(arrays())
def test_array_roundtrip(arr: np.ndarray[Any, Any]) -> None:
    got = roundtrip({"a": arr})
    assert isinstance(got, dict)
    assert same_payload(arr, got["a"])


@pytest.mark.parametrize(
    "value", [-(2**63), 2**63 - 1, 2**63, 2**64 - 1, math.inf, -math.inf, -0.0, "", b"", None]
)
def test_extremes(value: object) -> None:
    assert same_payload([value], roundtrip([value]))


def test_nan_roundtrip() -> None:
    got = roundtrip([math.nan])
    assert isinstance(got, list) and math.isnan(got[0])


def test_tuple_becomes_list() -> None:
    assert roundtrip((1, (2, 3))) == [1, [2, 3]]


def test_scalars_and_zero_size() -> None:
    got = roundtrip([np.uint64(2**64 - 1), np.array(True), np.zeros((0, 5), np.int64)])
    assert isinstance(got, list)
    assert got[0].shape == () and got[0].dtype == np.uint64 and int(got[0]) == 2**64 - 1
    assert got[1].shape == () and bool(got[1]) is True
    assert got[2].shape == (0, 5) and got[2].dtype == np.int64


def test_array_buffers_are_not_copied() -> None:
    arr = np.arange(1000, dtype=np.uint64)
    parts = encode_body({"x": arr})
    views = [p for p in parts if isinstance(p, memoryview)]
    assert len(views) == 1
    assert np.shares_memory(np.frombuffer(views[0], np.uint8), arr)


def test_big_endian_is_converted() -> None:
    arr = np.arange(5, dtype=">u8")
    got = roundtrip(arr)
    assert isinstance(got, np.ndarray) and got.dtype == np.dtype("<u8")
    assert got.tolist() == [0, 1, 2, 3, 4]


def test_decoded_arrays_are_views_of_the_body() -> None:
    arr = np.arange(100, dtype=np.float64)
    body = b"".join(encode_body([arr]))
    got = decode_body(body)
    assert isinstance(got, list)
    assert not got[0].flags.writeable
    assert np.shares_memory(got[0], np.frombuffer(body, np.uint8))


def test_blob_layout() -> None:
    a, b = np.array([1, 2], np.uint8), np.array([3], np.uint32)
    body = b"".join(encode_body([a, b, np.zeros(0, np.uint64), np.array([4], np.uint8)]))
    (meta_len,) = struct.unpack(">I", body[:4])
    meta = msgpack.unpackb(body[4 : 4 + meta_len])
    assert [msgpack.unpackb(e.data) for e in meta] == [
        [0, [2], 0, 2],
        [1, [1], 8, 4],
        [2, [0], 12, 0],
        [0, [1], 16, 1],
    ]
    start = -(-(4 + meta_len) // 8) * 8
    assert body[4 + meta_len : start] == bytes(start - 4 - meta_len)  # zero padding
    assert body[start:] == b"\x01\x02" + bytes(6) + b"\x03\x00\x00\x00" + bytes(4) + b"\x04"


@given(st.lists(arrays(), max_size=5), st.text(max_size=9))
def test_every_array_decodes_aligned_without_a_copy(arrs: list[Any], pad: str) -> None:
    body = bytearray(b"".join(encode_body({"p": pad, "a": arrs})))  # 8-aligned, like a frame
    got = decode_body(memoryview(body))
    assert isinstance(got, dict)
    for sent, arr in zip(arrs, got["a"], strict=True):
        assert same_payload(sent, arr)
        if arr.size:
            assert arr.flags.aligned and arr.ctypes.data % 8 == 0
            assert np.shares_memory(arr, np.frombuffer(body, np.uint8))


def test_no_padding_without_arrays() -> None:
    body = b"".join(encode_body({"x": 1, "e": np.zeros(0, np.uint64)}))
    (meta_len,) = struct.unpack(">I", body[:4])
    assert len(body) == 4 + meta_len


def test_payload_nbytes() -> None:
    obj = {
        "a": np.zeros(10, np.uint64),
        "b": [np.zeros((2, 3), np.uint8), 7, "x"],
        "c": (np.int64(1),),
    }
    assert payload_nbytes(obj) == 80 + 6 + 8
    assert payload_nbytes("no arrays") == 0


class _Custom:
    pass


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        _Custom(),
        np.array([object()], dtype=object),
        np.zeros(3, np.float32),
        np.zeros(3, np.int32),
        np.zeros(2, np.complex128),
        np.zeros(2, "datetime64[s]"),
        np.zeros(2, dtype=[("a", "<u8")]),
        np.ma.masked_array([1, 2], mask=[0, 1]),
        np.zeros((1,) * 9, np.uint8),
        2**64,
        -(2**63) - 1,
        {1: "int key"},
        1 + 2j,
    ],
)
def test_unsendable_values(value: object) -> None:
    with pytest.raises(LocalProtocolError):
        encode_body({"v": value})


def test_too_deep_is_refused() -> None:
    deep: list[object] = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(LocalProtocolError):
        encode_body(deep)


# -- hostile bodies ----------------------------------------------------------------------------

BLOB8 = bytes(range(8))

BAD_BODIES = {
    "overlap": raw_body([array_ext(0, [4], 0, 4), array_ext(0, [4], 0, 4)], BLOB8),
    "gap": raw_body([array_ext(0, [2], 0, 2), array_ext(0, [2], 4, 2)], BLOB8),
    "unaligned": raw_body([array_ext(0, [2], 0, 2), array_ext(0, [2], 2, 2)], BLOB8[:4]),
    "gap after aligned": raw_body([array_ext(0, [1], 0, 1), array_ext(0, [1], 16, 1)], bytes(17)),
    "nonzero padding": raw_body([array_ext(0, [1], 0, 1), array_ext(0, [1], 8, 1)], BLOB8 + b"x"),
    "out of range": raw_body([array_ext(0, [16], 0, 16)], BLOB8),
    "offset past end": raw_body([array_ext(0, [1], 8, 1)], BLOB8),
    "negative offset": raw_body([array_ext(0, [1], -1, 1)], BLOB8),
    "wrong nbytes": raw_body([array_ext(2, [1], 0, 4)], BLOB8),
    "nbytes vs blob": raw_body([array_ext(0, [4], 0, 4)], BLOB8),
    "dtype code 6": raw_body([array_ext(6, [8], 0, 8)], BLOB8),
    "dtype code -1": raw_body([array_ext(-1, [8], 0, 8)], BLOB8),
    "dtype bool": raw_body([msgpack.ExtType(1, msgpack.packb([True, [8], 0, 8]))], BLOB8),
    "ndim 9": raw_body([array_ext(0, [1] * 8 + [8], 0, 8)], BLOB8),
    "negative dim": raw_body([array_ext(0, [-1, -8], 0, 8)], BLOB8),
    "huge dim": raw_body([array_ext(0, [0, 2**63], 0, 0)]),
    "float dim": raw_body([msgpack.ExtType(1, msgpack.packb([0, [8.0], 0, 8]))], BLOB8),
    "shape not list": raw_body([msgpack.ExtType(1, msgpack.packb([0, 8, 0, 8]))], BLOB8),
    "descriptor short": raw_body([msgpack.ExtType(1, msgpack.packb([0, [8], 0]))], BLOB8),
    "descriptor map": raw_body([msgpack.ExtType(1, msgpack.packb({"a": 1}))], BLOB8),
    "descriptor garbage": raw_body([msgpack.ExtType(1, b"\xc1")], BLOB8),
    "unknown ext": raw_body([msgpack.ExtType(2, b"")]),
    "timestamp": raw_body([msgpack.Timestamp(0, 0)]),
    "timestamp top": raw_body(msgpack.Timestamp(0, 0)),
    "timestamp in map": raw_body({"t": msgpack.Timestamp(0, 0)}),
    "uncovered blob": raw_body([1], b"extra"),
    "int key": raw_body({1: 2}),
    "bytes key": raw_body({b"k": 2}),
    "empty": b"",
    "short": b"\x00\x00",
    "meta len 0": b"\x00\x00\x00\x00\x90",
    "meta len past end": b"\x00\x00\x00\x09\x90",
    "extra data": b"\x00\x00\x00\x02\x90\x90",
    "truncated msgpack": b"\x00\x00\x00\x01\x92",
    "reserved byte": b"\x00\x00\x00\x01\xc1",
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_bodies(name: str) -> None:
    with pytest.raises(DecodeError):
        decode_body(BAD_BODIES[name])


def test_duplicate_keys() -> None:
    meta = b"\x82\xa1a\x01\xa1a\x02"  # {"a": 1, "a": 2}
    with pytest.raises(DecodeError, match="duplicate"):
        decode_body(struct.pack(">I", len(meta)) + meta)


def test_error_messages_do_not_quote_payload() -> None:
    secret = b"\xffSECRET-VALUE-1234"
    meta = b"\xd9" + bytes([len(secret)]) + secret  # str8 with invalid UTF-8
    with pytest.raises(DecodeError) as info:
        decode_body(struct.pack(">I", len(meta)) + meta)
    text = str(info.value) + repr(info.value)
    assert "SECRET" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_valid_handmade_body() -> None:
    body = raw_body(
        [array_ext(0, [2], 0, 2), array_ext(0, [0], 2, 0), array_ext(1, [], 8, 4)],
        b"\x01\x02" + bytes(6) + b"\x03\x00\x00\x00",
    )
    got = decode_body(body)
    assert isinstance(got, list)
    assert got[0].tolist() == [1, 2] and got[1].size == 0 and int(got[2]) == 3


def _with_meta_padding(pad: bytes, extra: int = 0) -> bytes:
    """A one-array body whose metadata is followed by ``pad`` (zeros by default) up to 8."""
    packed = msgpack.packb([array_ext(0, [1], 0, 1), "x" * extra])
    head = struct.pack(">I", len(packed)) + packed
    return head + pad.ljust(-len(head) % 8, b"\0") + b"\x07"


@pytest.mark.parametrize("extra", range(8))
def test_padding_after_the_metadata_must_be_zero(extra: int) -> None:
    got = decode_body(_with_meta_padding(b"", extra))
    assert isinstance(got, list) and got[0].tolist() == [7]
    body = _with_meta_padding(b"\x01", extra)
    if len(body) % 8 == 1:  # the metadata needed padding, and it is spoiled
        with pytest.raises(DecodeError, match="padding"):
            decode_body(body)


def test_padding_without_a_blob_is_refused() -> None:
    meta = msgpack.packb([1, 2, 3])
    head = struct.pack(">I", len(meta)) + meta
    with pytest.raises(DecodeError):
        decode_body(head + bytes(-len(head) % 8 or 8))
