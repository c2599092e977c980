"""FrameDecoder's buffered-reading API (get_buffer/buffer_updated), as BufferedProtocol uses it."""

from __future__ import annotations

import struct

import pytest

from mpc_runtime.errors import DecodeError, FrameTooLarge, LocalProtocolError
from mpc_runtime.wire.frames import FrameDecoder


def _frames(bodies: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(b)) + b for b in bodies)


def _pump(dec: FrameDecoder, stream: bytes, step: int) -> list[bytes]:
    """Write ``stream`` through lent buffers, at most ``step`` bytes per call."""
    got: list[bytes] = []
    pos = 0
    while pos < len(stream):
        buf = dec.get_buffer(-1)
        n = min(len(buf), step, len(stream) - pos)
        buf[:n] = stream[pos : pos + n]
        dec.buffer_updated(n)
        pos += n
        while (body := dec.next_frame()) is not None:
            got.append(bytes(body))
    return got


@pytest.mark.parametrize("step", [1, 3, 7, 4096, 1 << 20])
def test_buffered_matches_bodies(step: int) -> None:
    bodies = [b"a", b"hello" * 100, bytes(range(256)) * 9000, b"z"]  # one 2.3 MB (memory-mapped)
    dec = FrameDecoder(1 << 24)
    assert _pump(dec, _frames(bodies), step) == bodies
    assert dec.buffered == 0


def test_large_body_is_filled_in_place() -> None:
    dec = FrameDecoder(1 << 24)
    _pump(dec, struct.pack(">I", 3 << 20), 4)
    buf = dec.get_buffer(-1)
    assert len(buf) == 3 << 20  # the body itself, not a scratch buffer
    buf[:] = b"x" * (3 << 20)
    dec.buffer_updated(3 << 20)
    assert dec.next_frame() == b"x" * (3 << 20)


def test_oversize_header_refused_before_body() -> None:
    dec = FrameDecoder(100)
    for chunk in (struct.pack(">I", 2**31), b"x" * 50):
        buf = dec.get_buffer(-1)
        buf[: len(chunk)] = chunk
        dec.buffer_updated(len(chunk))
    assert dec.buffered == 0
    with pytest.raises(FrameTooLarge):
        dec.next_frame()
    assert len(dec.get_buffer(-1)) <= 64 * 1024  # never sized by the hostile length


def test_mixed_feeding_and_truncation() -> None:
    dec = FrameDecoder(1000)
    stream = _frames([b"one", b"two"]) + struct.pack(">I", 500) + b"abc"
    dec.receive_data(stream[:5])
    assert _pump(dec, stream[5:], 2) == [b"one", b"two"]
    dec.receive_eof()
    with pytest.raises(DecodeError, match="middle of a frame"):
        dec.next_frame()


def test_buffer_updated_without_get_buffer() -> None:
    dec = FrameDecoder(1000)
    with pytest.raises(LocalProtocolError):
        dec.buffer_updated(1)
