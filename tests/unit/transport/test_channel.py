"""Channels over in-memory links: typed sends and events, best-effort helpers, end of stream.

A :class:`Channel` pairs a byte link with a sans-IO wire connection that checks the peer's
identity and the order of messages; here both ends are real channels over
:func:`memory_link_pair`, so every frame is the one a TLS connection would carry.

May import: pytest, asyncio, numpy, :mod:`mpc_runtime.transport`, :mod:`mpc_runtime.wire`,
:mod:`mpc_runtime.ids` and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from mpc_runtime.errors import LocalProtocolError, PeerLostError, RemoteProtocolError
from mpc_runtime.ids import Identity
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import DelayedLink, MemoryLink, memory_link_pair
from mpc_runtime.wire import (
    Abort,
    Bye,
    Control,
    Data,
    EndOfStream,
    Hello,
    HelloEvent,
    Message,
    MsgKind,
    PeerAbort,
    Start,
)
from mpc_runtime.wire.control import REASON_CHARS

P1, P2 = Identity.party(1), Identity.party(2)
WAIT = 1.0


def channel_pair(me2: Identity = P2) -> tuple[Channel, Channel]:
    """Party 1's channel to party 2 and party 2's channel to party 1 (``me2``: who 2 says it is)."""
    la, lb = memory_link_pair()
    return Channel(la, P2, P1, 1 << 20), Channel(lb, P1, me2, 1 << 20)


async def opened() -> tuple[Channel, Channel]:
    c1, c2 = channel_pair()
    await c1.send_hello(Hello("c", "job"))
    await c2.send_hello(Hello("c", "job"))
    assert await next_event(c1) == HelloEvent(Hello("c", "job"))
    assert await next_event(c2) == HelloEvent(Hello("c", "job"))
    return c1, c2


async def next_event(ch: Channel) -> object:
    async with asyncio.timeout(WAIT):
        return await ch.next_event()


def data(ch: Channel, body: object, rnd: int = 1) -> Message:
    return Message(MsgKind.DATA, ch.me.label, "job", "main/op#0", rnd, body)


async def test_send_and_receive_counts_frames_once() -> None:
    c1, c2 = await opened()
    before = (c1.bytes_sent, c2.bytes_received)
    payload = np.arange(50, dtype=np.uint64)
    n = await c1.send(data(c1, payload))
    assert n == c1.bytes_sent - before[0] > payload.nbytes
    ev = await next_event(c2)
    assert isinstance(ev, Data)
    assert ev.frame_bytes == n == c2.bytes_received - before[1]
    np.testing.assert_array_equal(ev.body, payload)
    assert (ev.job, ev.path, ev.round) == ("job", "main/op#0", 1)


async def test_send_op_arrives_as_a_control_event() -> None:
    c1, c2 = await opened()
    n = await c1.send_op("job", Start())
    ev = await next_event(c2)
    assert ev == Control("job", Start(), n)


async def test_last_heard_advances_when_bytes_arrive() -> None:
    c1, c2 = await opened()
    link = c2.link
    assert isinstance(link, MemoryLink)
    link.last_received = time.monotonic() - 100
    assert time.monotonic() - c2.last_heard > 99
    await c1.send(data(c1, b"x"))
    await next_event(c2)
    assert time.monotonic() - c2.last_heard < 5


async def test_ping_is_sent_but_never_surfaces() -> None:
    c1, c2 = await opened()
    sent = c1.wire.messages_sent
    assert await c1.ping()
    assert c1.wire.messages_sent == sent + 1
    await c1.send(data(c1, b"after the ping"))
    ev = await next_event(c2)
    assert isinstance(ev, Data) and ev.body == b"after the ping"


async def test_ping_is_skipped_once_closing() -> None:
    c1, _ = await opened()
    assert await c1.bye_quietly("job")
    sent = c1.wire.messages_sent
    assert not await c1.ping()
    assert c1.wire.messages_sent == sent


async def test_bye_then_close_is_a_clean_end() -> None:
    c1, c2 = await opened()
    assert await c1.bye_quietly("job")
    assert await next_event(c2) == Bye("job")
    c1.close()
    assert await next_event(c2) == EndOfStream(clean=True)
    assert await next_event(c2) == EndOfStream(clean=True)  # again, without blocking


async def test_abort_quietly_carries_the_abort() -> None:
    c1, c2 = await opened()
    abort = Abort("RoundTimeout", "party:3 sent nothing\n" + "z" * 500, "party:3", "main/x#0", 2)
    assert await c1.abort_quietly("job", abort)
    ev = await next_event(c2)
    assert isinstance(ev, PeerAbort) and ev.job == "job"
    got = ev.abort
    assert (got.code, got.culprit, got.op_path, got.round) == (
        "RoundTimeout",
        "party:3",
        "main/x#0",
        2,
    )
    assert got.reason.startswith("party:3 sent nothing z") and len(got.reason) == REASON_CHARS
    # Nothing may follow an ABORT: even a quiet BYE is refused locally.
    assert not await c1.bye_quietly("job")


async def test_an_abort_may_refuse_the_handshake() -> None:
    c1, c2 = channel_pair()
    assert await c1.abort_quietly("", Abort("identity", "not welcome"))
    ev = await next_event(c2)
    assert isinstance(ev, PeerAbort) and ev.abort.reason == "not welcome"


async def test_send_to_a_closed_peer() -> None:
    c1, c2 = await opened()
    c2.close()
    assert await c1.send_quietly(data(c1, b"x")) is False
    with pytest.raises(PeerLostError) as info:
        await c1.send(data(c1, b"x", 2))
    assert info.value.peer == info.value.culprit == "party:2"
    assert "party:2" in str(info.value)


async def test_send_quietly_false_when_refused_or_slow() -> None:
    c1, _ = channel_pair()
    assert await c1.send_quietly(data(c1, b"before hello")) is False  # refused by our state
    with pytest.raises(LocalProtocolError):
        await c1.send(data(c1, b"before hello"))
    slow = Channel(DelayedLink(c1.link, 5.0), P2, P1, 1 << 20)
    started = time.monotonic()
    assert await slow.send_quietly(Message(MsgKind.HELLO, "party:1", body={}), 0.05) is False
    assert time.monotonic() - started < 1.0


async def test_end_without_bye_is_not_clean() -> None:
    c1, c2 = await opened()
    c1.close()
    assert await next_event(c2) == EndOfStream(clean=False)


async def test_an_unclean_end_stays_unclean() -> None:
    c1, c2 = await opened()
    c1.close()
    assert await next_event(c2) == EndOfStream(clean=False)
    assert await next_event(c2) == EndOfStream(clean=False)


async def test_messages_sent_before_close_are_delivered_first() -> None:
    c1, c2 = await opened()
    await c1.send(data(c1, b"one", 1))
    await c1.send(data(c1, b"two", 2))
    await c1.bye_quietly("job")
    c1.close()
    got = [await next_event(c2) for _ in range(4)]
    assert [type(e) for e in got] == [Data, Data, Bye, EndOfStream]
    assert got[-1] == EndOfStream(clean=True)


async def test_a_peer_claiming_another_identity_is_refused() -> None:
    c1, c2 = channel_pair(me2=Identity.party(3))
    await c2.send_hello(Hello("c"))
    with pytest.raises(RemoteProtocolError) as info:
        await next_event(c1)
    assert info.value.claimed == "party:3"
    assert info.value.peer == "party:2"


async def test_aclose_ends_the_peer() -> None:
    c1, c2 = await opened()
    await c1.aclose()
    assert isinstance(await next_event(c2), EndOfStream)
    assert repr(c1) == "Channel(peer=party:2)"
