"""Framing: length prefixes, arbitrary chunking, size caps, truncation."""

from __future__ import annotations

import struct
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc_runtime.errors import DecodeError, FrameTooLarge, LocalProtocolError
from mpc_runtime.wire import FrameDecoder, encode_frame_parts


def _frames(bodies: list[bytes]) -> bytes:
    return b"".join(b"".join(encode_frame_parts([b])) for b in bodies)


def _drain(dec: FrameDecoder) -> list[bytes]:
    out = []
    while (f := dec.next_frame()) is not None:
        out.append(f)
    return out


def test_encode_frame_parts_is_zero_copy() -> None:
    a, b = b"hello", memoryview(b"world")
    parts = encode_frame_parts([a, b])
    assert parts[0] == struct.pack(">I", 10)
    assert parts[1] is a and parts[2] is b


def test_encode_counts_nbytes_of_multidimensional_memoryview() -> None:
    mv = memoryview(bytes(24)).cast("B", (2, 3, 4))
    assert encode_frame_parts([mv])[0] == struct.pack(">I", 24)


def test_empty_frame_cannot_be_sent() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame_parts([])
    with pytest.raises(LocalProtocolError):
        encode_frame_parts([b""])


@given(
    bodies=st.lists(st.binary(min_size=1, max_size=64), max_size=20),
    cuts=st.lists(st.integers(0, 2000), max_size=30),
)
def test_any_chunking_gives_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    stream = _frames(bodies)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    dec = FrameDecoder(1024)
    got: list[bytes] = []
    for lo, hi in zip(points, points[1:], strict=False):
        dec.receive_data(stream[lo:hi])
        got.extend(_drain(dec))
    dec.receive_eof()
    got.extend(_drain(dec))
    assert got == bodies
    assert dec.buffered == 0


def test_byte_at_a_time() -> None:
    bodies = [b"a", b"bc" * 50, b"\x00\x00\x00\x00"]
    dec = FrameDecoder(1024)
    got = []
    for i in range(len(stream := _frames(bodies))):
        dec.receive_data(stream[i : i + 1])
        got.extend(_drain(dec))
    assert got == bodies


def test_mutable_input_buffer_is_copied() -> None:
    dec = FrameDecoder(64)
    buf = bytearray(_frames([b"abc"]))
    dec.receive_data(buf[:5])
    buf[:] = b"\xff" * len(buf)
    dec.receive_data(bytearray(b"bc"))
    assert dec.next_frame() == b"abc"


def test_oversize_prefix_is_refused_before_the_body() -> None:
    dec = FrameDecoder(100)
    dec.receive_data(struct.pack(">I", 101))
    with pytest.raises(FrameTooLarge):
        dec.next_frame()
    dec.receive_data(b"x" * 1000)  # dropped, not buffered
    assert dec.buffered == 0
    with pytest.raises(FrameTooLarge):
        dec.next_frame()


def test_oversize_prefix_after_good_frames_comes_in_order() -> None:
    dec = FrameDecoder(100)
    dec.receive_data(_frames([b"ok"]) + struct.pack(">I", 2**32 - 1) + b"zz")
    assert dec.next_frame() == b"ok"
    with pytest.raises(FrameTooLarge):
        dec.next_frame()


def test_prefix_at_max_is_accepted() -> None:
    dec = FrameDecoder(100)
    dec.receive_data(_frames([b"y" * 100]))
    assert dec.next_frame() == b"y" * 100


def test_zero_length_frame_is_a_decode_error() -> None:
    dec = FrameDecoder(100)
    dec.receive_data(b"\x00\x00\x00\x00")
    with pytest.raises(DecodeError):
        dec.next_frame()


@pytest.mark.parametrize("tail", [b"\x00", b"\x00\x00\x00", b"\x00\x00\x00\x05abc"])
def test_truncated_frame_then_eof(tail: bytes) -> None:
    dec = FrameDecoder(100)
    dec.receive_data(_frames([b"first"]) + tail)
    dec.receive_eof()
    assert dec.next_frame() == b"first"
    with pytest.raises(DecodeError, match="middle of a frame"):
        dec.next_frame()


def test_clean_eof() -> None:
    dec = FrameDecoder(100)
    dec.receive_data(_frames([b"a"]))
    dec.receive_eof()
    assert dec.next_frame() == b"a"
    assert dec.next_frame() is None
    with pytest.raises(LocalProtocolError):
        dec.receive_data(b"more")


def _rss() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_no_preallocation_from_the_peers_length() -> None:
    # A 200 MB length with 3 bytes behind it reserves address space, but commits (makes
    # resident) only about what arrived: the body is not zero-filled.
    dec = FrameDecoder(256 * 2**20)
    before = _rss()
    dec.receive_data(struct.pack(">I", 200 * 2**20) + b"abc")
    assert dec.next_frame() is None
    assert _rss() - before < 8 * 2**20
    assert dec.buffered == 7


def test_large_frame_in_small_chunks() -> None:
    size, chunk = 32 * 2**20, 64 * 2**10
    body = bytes(range(256)) * (size // 256)
    stream = _frames([body, b"after"])
    dec = FrameDecoder(64 * 2**20)
    got = []
    for i in range(0, len(stream), chunk):
        dec.receive_data(stream[i : i + chunk])
        got.extend(_drain(dec))
    assert len(got) == 2 and got[0] == body and got[1] == b"after"


def test_bad_max_frame_bytes() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(0)
    with pytest.raises(ValueError):
        FrameDecoder(2**32)
