"""MessageStream: streams of messages under any chunking, counters, limits, garbage."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_strategies import drain, frame_bytes, messages, same_message

from mpc_runtime.errors import DecodeError, FrameTooLarge, LocalProtocolError
from mpc_runtime.wire import DEFAULT_MAX_FRAME, Message, MessageStream, MsgKind
from mpc_runtime.wire.frames import StreamTruncated


@settings(max_examples=60, deadline=None)
@given(msgs=st.lists(messages, max_size=8), cuts=st.lists(st.integers(0, 10**6), max_size=40))
def test_stream_under_any_chunking(msgs: list[Message], cuts: list[int]) -> None:
    tx, rx = MessageStream(DEFAULT_MAX_FRAME), MessageStream(DEFAULT_MAX_FRAME)
    stream = b"".join(frame_bytes(tx.send(m)) for m in msgs)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[lo:hi] for lo, hi in zip(points, points[1:], strict=False)]
    got = drain(rx, chunks)
    assert len(got) == len(msgs)
    assert all(same_message(a, b) for a, b in zip(msgs, got, strict=True))
    assert tx.bytes_sent == rx.bytes_received == len(stream)
    assert rx.buffered == 0


def test_counters_include_headers() -> None:
    tx = MessageStream(1024)
    parts = tx.send(Message(MsgKind.BYE, "1"))
    assert tx.bytes_sent == len(frame_bytes(parts))


def test_send_too_large() -> None:
    tx = MessageStream(1000)
    msg = Message(MsgKind.DATA, "1", body=np.zeros(200, np.uint64))
    with pytest.raises(FrameTooLarge) as info:
        tx.send(msg)
    assert isinstance(info.value, LocalProtocolError)
    assert tx.bytes_sent == 0


def test_receive_too_large() -> None:
    rx = MessageStream(1000)
    rx.receive_data(struct.pack(">I", 1001))
    with pytest.raises(FrameTooLarge):
        rx.next_message()


def test_decode_error_is_sticky() -> None:
    rx = MessageStream(1000)
    rx.receive_data(b"\x00\x00\x00\x01\xc1")
    with pytest.raises(DecodeError):
        rx.next_message()
    good = frame_bytes(MessageStream(1000).send(Message(MsgKind.BYE, "1")))
    rx.receive_data(good)
    with pytest.raises(DecodeError):
        rx.next_message()


def test_truncated_then_eof() -> None:
    wire = frame_bytes(MessageStream(1000).send(Message(MsgKind.DATA, "1", body=b"x" * 50)))
    rx = MessageStream(1000)
    rx.receive_data(wire[:-1])
    assert rx.next_message() is None
    rx.receive_eof()
    with pytest.raises(StreamTruncated, match="middle of a frame"):
        rx.next_message()


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), cut=st.integers(0, 300))
def test_arbitrary_bytes_only_raise_decode_error(data: bytes, cut: int) -> None:
    drain(MessageStream(4096), [data[:cut], data[cut:]])


@settings(max_examples=300, deadline=None)
@given(body=st.binary(min_size=1, max_size=200))
def test_arbitrary_bodies_only_raise_decode_error(body: bytes) -> None:
    drain(MessageStream(4096), [struct.pack(">I", len(body)) + body])
