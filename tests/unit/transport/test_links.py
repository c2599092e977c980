"""Byte links without sockets: :class:`MemoryLink` pairs and the latency wrapper
:class:`DelayedLink`.

A link moves frames' bytes in order, feeds a wire connection on ``fill``, reports the end of
stream, refuses sends once either end is closed, and stamps ``last_received`` whenever bytes (or
the end) arrive.  ``DelayedLink`` holds sends for its latency and leaves receiving alone.

May import: pytest, asyncio, :mod:`mpc_runtime.transport.link`, :mod:`mpc_runtime.wire` and
:mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from mpc_runtime.errors import PeerLostError
from mpc_runtime.transport.link import DelayedLink, MemoryLink, memory_link_pair
from mpc_runtime.wire import EndOfStream, HelloEvent, Message, MsgKind, PeerAbort, WireConnection

WAIT = 1.0


def abort_frame() -> list[bytes | memoryview]:
    """An ABORT frame (allowed as the first message on a connection)."""
    body = {"code": "c", "reason": "r"}
    return WireConnection(1024).send(Message(MsgKind.ABORT, "party:1", body=body))


async def fill(link: MemoryLink | DelayedLink, wire: WireConnection) -> bool:
    async with asyncio.timeout(WAIT):
        return await link.fill(wire)


async def test_bytes_arrive_in_order_and_are_copied() -> None:
    a, b = memory_link_pair()
    buf = bytearray(b"first")
    await a.send([buf, memoryview(b"-part")])
    buf[:] = b"XXXXX"  # the sender may reuse its buffer once send returns
    await a.send([b"second"])
    assert await b.receive() == b"first-part"
    assert await b.receive() == b"second"


async def test_both_directions_are_independent() -> None:
    a, b = memory_link_pair()
    await a.send([b"to b"])
    await b.send([b"to a"])
    assert await a.receive() == b"to a"
    assert await b.receive() == b"to b"


async def test_fill_feeds_the_wire_and_stamps_last_received() -> None:
    a, b = memory_link_pair()
    wire = WireConnection(1024)
    b.last_received = time.monotonic() - 100
    await a.send(abort_frame())
    assert await fill(b, wire) is True
    assert time.monotonic() - b.last_received < 5
    assert isinstance(wire.next_event(), PeerAbort)


async def test_close_is_an_end_of_stream_for_the_peer() -> None:
    a, b = memory_link_pair()
    wire = WireConnection(1024)
    a.close()
    a.close()  # idempotent
    assert await fill(b, wire) is False
    assert wire.eof
    assert wire.next_event() == EndOfStream(clean=False)


async def test_close_wakes_our_own_pending_fill() -> None:
    a, _ = memory_link_pair()
    wire = WireConnection(1024)
    task = asyncio.create_task(fill(a, wire))
    await asyncio.sleep(0.01)
    assert not task.done()
    a.close()
    assert await task is False
    assert await a.receive() == b""  # a closed link reads nothing more
    await a.wait_closed()


async def test_sends_are_refused_once_either_end_is_closed() -> None:
    a, b = memory_link_pair()
    b.close()
    with pytest.raises(PeerLostError):
        await a.send([b"x"])
    c, _ = memory_link_pair()
    c.close()
    with pytest.raises(PeerLostError):
        await c.send([b"x"])


async def test_delayed_link_delays_sends_only() -> None:
    a, b = memory_link_pair()
    latency = 0.15
    slow_a, slow_b = DelayedLink(a, latency), DelayedLink(b, latency)
    started = time.monotonic()
    await slow_a.send(abort_frame())
    took = time.monotonic() - started
    assert took >= latency * 0.95
    # The bytes are already queued: receiving through the wrapper adds no latency.
    wire = WireConnection(1024)
    started = time.monotonic()
    assert await fill(slow_b, wire) is True
    assert time.monotonic() - started < latency / 2
    assert isinstance(wire.next_event(), PeerAbort)


async def test_delayed_link_delegates_everything_else() -> None:
    a, b = memory_link_pair()
    slow = DelayedLink(b, 0.01)
    b.last_received = 123.0
    assert slow.last_received == 123.0
    slow.close()
    await slow.wait_closed()
    with pytest.raises(PeerLostError):
        await a.send([b"x"])


async def test_a_frame_split_across_sends_is_one_event() -> None:
    a, b = memory_link_pair()
    parts = WireConnection(1024).send(Message(MsgKind.HELLO, "party:1", body={"cluster": "c"}))
    whole = b"".join(parts)
    wire = WireConnection(1024)
    await a.send([whole[:3]])
    await a.send([whole[3:]])
    await fill(b, wire)
    assert wire.next_event() is None  # the header is not even complete
    await fill(b, wire)
    assert isinstance(wire.next_event(), HelloEvent)
