"""Hostile network input to a running session, over real TLS sockets.

Party 1 runs an honest :class:`Session`.  The "attacker" holds party 2's valid certificate, passes
the handshake like any party would, and then speaks the wire format by hand.  Whatever it sends,
party 1's session must end with the right typed :class:`MPCError` within a couple of seconds:
never a hang, never an unexpected exception type, never a secret in the error text.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable

import msgpack
import numpy as np
import pytest

from mpc_runtime.errors import (
    DecodeError,
    FrameTooLarge,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
)
from mpc_runtime.ids import Identity
from mpc_runtime.runtime.context import ArraySpec
from mpc_runtime.runtime.session import Session
from mpc_runtime.transport.channel import Channel
from mpc_runtime.wire import Message, MsgKind, to_wire
from tests.helpers.cluster import dial_party, hello_for, listening

MAX_FRAME = 65536
ROUND_TIMEOUT = 10.0  # long: a hostile message must fail the session long before this
FAIL_WITHIN = 2.5
SECRET = 987654321
SHAPE = (4,)
PATH = "main/b#0"

Attack = Callable[[Channel], Awaitable[None]]


def data(
    body: object, *, rnd: int = 1, path: str = PATH, sender: str = "party:2", job: str = "j"
) -> Message:
    return Message(MsgKind.DATA, sender=sender, job=job, path=path, round=rnd, body=body)


def good_array() -> np.ndarray:
    return np.full(SHAPE, SECRET, dtype=np.uint64)


async def honest_program(ctx):  # type: ignore[no-untyped-def]
    """Two rounds of uint64[4] exchanges; the attacker is party 2."""
    mine = np.full(SHAPE, SECRET, dtype=np.uint64)
    for _ in range(2):
        await ctx.scope("b").exchange({2: mine}, expect=ArraySpec(np.uint64, SHAPE))
    return "done"


async def attack_session(make_cluster, attack: Attack) -> tuple[MPCError, float, Channel, Channel]:  # type: ignore[no-untyped-def]
    """Run party 1 honestly against ``attack``; returns (error, seconds, honest ch, attacker ch)."""
    _, cfg = make_cluster(2, max_frame_bytes=MAX_FRAME, round_timeout=ROUND_TIMEOUT)
    async with asyncio.timeout(ROUND_TIMEOUT), listening(cfg, 1) as lst:
        attacker = await dial_party(cfg, 1, me=Identity.party(2), hello=hello_for(cfg))
        loop = asyncio.get_running_loop()
        chans = await lst.accept_all({Identity.party(2)}, loop.time() + 5)
        honest = chans[Identity.party(2)]
        session = Session(1, {2: honest}, job="j", round_timeout=ROUND_TIMEOUT)
        task = asyncio.create_task(session.run(honest_program))
        try:
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await attack(attacker)
            with pytest.raises(MPCError) as info:
                async with asyncio.timeout(FAIL_WITHIN + 1):
                    await task
            elapsed = time.monotonic() - started
        finally:
            task.cancel()
            attacker.close()
    err = info.value
    assert elapsed < FAIL_WITHIN, f"{type(err).__name__} took {elapsed:.2f}s"
    assert not isinstance(err, RoundTimeout), err
    assert err.peer == "party:2", repr(err)  # every error names who sent the bad input
    assert str(SECRET) not in str(err) and str(SECRET) not in repr(err)
    assert session.mailbox.unclaimed() == 0 or isinstance(err, RemoteProtocolError)
    return err, elapsed, honest, attacker


async def test_garbage_after_handshake(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.link.send([struct.pack(">I", 32) + b"\xc1" * 32])  # 0xc1: never valid msgpack

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is DecodeError, repr(err)


async def test_text_garbage_after_handshake(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.link.send([b"GET / HTTP/1.0\r\n\r\n" * 4])

    err, *_ = await attack_session(make_cluster, attack)
    assert isinstance(err, DecodeError), repr(err)  # "GET " as a length: far above the cap


async def test_truncated_frame_then_close(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.link.send([struct.pack(">I", 1000) + b"\x00" * 10])
        await asyncio.sleep(0.1)
        ch.close()

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is PeerLostError, repr(err)  # it went away: named, with where it stopped
    assert "party:2" in str(err) and "middle of a frame" in str(err)


async def test_truncated_frame_then_reset(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.link.send([struct.pack(">I", 1000) + b"\x00" * 10])
        await asyncio.sleep(0.1)
        ch.link.abort()  # type: ignore[attr-defined]

    err, *_ = await attack_session(make_cluster, attack)
    assert isinstance(err, (DecodeError, PeerLostError)), repr(err)
    assert "party:2" in str(err)


async def test_oversize_length_prefix_fails_before_the_body(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """A length prefix of 2 GiB with a 64 KiB cap: refused at the header, nothing allocated."""

    async def attack(ch: Channel) -> None:
        await ch.link.send([struct.pack(">I", 2**31 - 1) + b"\x00" * 100])  # body never follows

    err, _, honest, _ = await attack_session(make_cluster, attack)
    assert type(err) is FrameTooLarge, repr(err)
    assert str(2**31 - 1) in str(err) and str(MAX_FRAME) in str(err)
    assert honest.wire.buffered == 0  # nothing held from the hostile stream


async def test_oversize_frame_streamed_in_full_is_still_bounded(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """Even if the body keeps coming, the receiver stops at the header and holds nothing."""

    async def attack(ch: Channel) -> None:
        await ch.link.send([struct.pack(">I", 4 * MAX_FRAME)])

        async def pump() -> None:
            chunk = b"\x00" * 65536
            try:
                for _ in range(4):
                    await ch.link.send([chunk])
            except MPCError:
                pass

        asyncio.get_running_loop().create_task(pump())

    err, _, honest, _ = await attack_session(make_cluster, attack)
    assert type(err) is FrameTooLarge, repr(err)
    assert honest.wire.buffered == 0


async def test_message_claiming_another_sender(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.send(data(good_array(), sender="party:1"))

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert err.peer == "party:2" and "party:1" in str(err)


async def test_message_for_another_job(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.send(data(good_array(), job="another-job"))

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert err.peer == "party:2" and "another job" in str(err)


async def test_duplicated_message(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        msg = data(good_array())
        await ch.send(msg)
        await ch.send(msg)

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert "duplicate" in str(err) and "party:2" in str(err)


async def test_replayed_message_after_it_was_used(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.send(data(good_array()))
        await asyncio.sleep(0.3)  # party 1 takes it and moves on to round 2 (path b#1)
        await ch.send(data(good_array()))

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert "replayed" in str(err)


@pytest.mark.parametrize(
    "body",
    [
        np.full(SHAPE, SECRET, dtype=np.int64),  # wrong dtype
        np.full((5,), SECRET, dtype=np.uint64),  # wrong shape
        np.full((2, 2), SECRET, dtype=np.uint64),  # same size, wrong shape
        np.full(SHAPE, SECRET, dtype=np.float64),  # wrong dtype, same itemsize
        [SECRET] * 4,  # not an array at all
        {"x": SECRET},
    ],
    ids=["int64", "shape5", "shape2x2", "float64", "list", "dict"],
)
async def test_array_with_wrong_dtype_or_shape(make_cluster, body) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.send(data(body))

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert err.peer == "party:2" and err.op_path == PATH and err.round == 1


def _handmade_frame(desc: list[object], blob: bytes) -> bytes:
    """A DATA frame whose array descriptor is written by hand (bypassing the encoder's checks)."""
    meta = msgpack.packb(
        {
            "k": int(MsgKind.DATA),
            "s": "party:2",
            "j": "j",
            "p": PATH,
            "r": 1,
            "b": msgpack.ExtType(1, msgpack.packb(desc)),
        }
    )
    body = struct.pack(">I", len(meta)) + meta + blob
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize(
    "desc",
    [
        [99, [4], 0, 32],  # dtype code not on the allowlist
        [2, [2**40], 0, 8 * 2**40],  # claims 8 TiB: must not allocate
        [2, [4], 0, 64],  # nbytes disagrees with shape
        [2, [8], 0, 64],  # extends past the blob
        [2, [-4], 0, 32],  # negative dimension
        [2, [1] * 40, 0, 8],  # too many dimensions
    ],
    ids=["dtype99", "huge", "nbytes", "pastblob", "negdim", "ndim"],
)
async def test_malformed_array_descriptor(make_cluster, desc) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        await ch.link.send([_handmade_frame(desc, b"\x01" * 32)])

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is DecodeError, repr(err)


async def test_unexpected_message_kind(make_cluster) -> None:  # type: ignore[no-untyped-def]
    async def attack(ch: Channel) -> None:
        # a second HELLO, written raw: our own state machine would refuse to send it
        await ch.link.send(to_wire(Message(MsgKind.HELLO, sender="party:2", body=hello_for_any())))

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert "party:2" in str(err) and "HELLO" in str(err)


def hello_for_any() -> dict[str, str]:
    return {"cluster": "x", "job": "j", "spec": "s"}


async def test_flood_of_unasked_messages_is_bounded(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """Messages for rounds nobody asks for: held up to a cap, then refused (no unbounded buffer)."""
    from mpc_runtime.runtime.mailbox import MAX_HELD_PER_SENDER

    async def attack(ch: Channel) -> None:
        small = np.zeros(1, dtype=np.uint64)
        parts = []
        for r in range(MAX_HELD_PER_SENDER + 10):
            parts += ch.wire.send(data(small, path="main/flood#0", rnd=r + 1))
        await ch.link.send(parts)

    err, *_ = await attack_session(make_cluster, attack)
    assert type(err) is RemoteProtocolError, repr(err)
    assert str(MAX_HELD_PER_SENDER) in str(err)
