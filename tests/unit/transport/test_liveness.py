"""Heartbeats and frozen-peer detection over real channels whose ``last_heard`` we control.

``Liveness.suspect`` names the channel silent longest once it missed several heartbeats,
``frozen_error`` names it as a :class:`PeerUnresponsive` culprit, and ``run`` pings channels that
have been quiet and reports the first frozen one exactly once.  A channel's ``last_heard`` is its
memory link's ``last_received``, which the tests set directly.

May import: pytest, asyncio, :mod:`mpc_runtime.transport`, :mod:`mpc_runtime.wire`,
:mod:`mpc_runtime.ids` and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from mpc_runtime.errors import PeerUnresponsive
from mpc_runtime.ids import Identity
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import memory_link_pair
from mpc_runtime.transport.liveness import Liveness, heartbeat_interval
from mpc_runtime.wire import Hello, HelloEvent

RT = 0.5
"""Round timeout of these tests: heartbeats every 0.1 s, checks every 0.05 s."""


class Peer:
    """Our open channel to party ``pid``, its memory link, and the far end's channel."""

    def __init__(self, pid: int, me: int = 1) -> None:
        self.link, far = memory_link_pair()
        self.ch = Channel(self.link, Identity.party(pid), Identity.party(me), 1 << 20)
        self.far = Channel(far, Identity.party(me), Identity.party(pid), 1 << 20)

    async def open(self) -> Peer:
        await self.ch.send_hello(Hello("c"))
        await self.far.send_hello(Hello("c"))
        for ch in (self.ch, self.far):
            async with asyncio.timeout(1.0):
                assert isinstance(await ch.next_event(), HelloEvent)
        return self

    def silent_for(self, seconds: float) -> None:
        self.link.last_received = time.monotonic() - seconds


async def peers(*pids: int) -> list[Peer]:
    return [await Peer(p).open() for p in pids]


def test_heartbeat_interval() -> None:
    assert heartbeat_interval(5.0) == 1.0
    assert heartbeat_interval(100.0) == 1.0
    assert heartbeat_interval(0.5) == 0.1


async def test_suspect_needs_several_missed_heartbeats() -> None:
    assert Liveness(list, RT).suspect() is None
    ps = await peers(2, 3, 4)
    lv = Liveness(lambda: [p.ch for p in ps], RT)
    assert lv.suspect() is None  # everyone just spoke
    ps[1].silent_for(2.0 * lv.interval)
    assert lv.suspect() is None  # not yet 2.5 heartbeats
    ps[1].silent_for(3.0 * lv.interval)
    assert lv.suspect() is ps[1].ch
    ps[2].silent_for(4.0 * lv.interval)
    assert lv.suspect() is ps[2].ch  # the one silent longest


async def test_frozen_error_names_the_peer() -> None:
    (p,) = await peers(3)
    p.silent_for(7.0)
    lv = Liveness(lambda: [p.ch], RT)
    err = lv.frozen_error(p.ch)
    assert isinstance(err, PeerUnresponsive)
    assert err.peer == err.culprit == err.blamed == "party:3"
    assert "party:3" in err.message and "0.5s" in err.message
    assert "7." in err.message


async def _run_for(lv: Liveness, seconds: float, found: list[PeerUnresponsive]) -> bool:
    """Run the watchdog for ``seconds``; True if it returned by itself."""

    async def on_frozen(err: PeerUnresponsive) -> None:
        found.append(err)

    task = asyncio.create_task(lv.run(on_frozen))
    try:
        await asyncio.wait_for(asyncio.shield(task), seconds)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    return True


async def test_run_pings_only_channels_that_have_been_quiet() -> None:
    quiet, busy = await peers(2, 3)
    quiet.ch.last_sent = time.monotonic() - 10.0
    busy.ch.last_sent = time.monotonic() + 60.0  # as if it had just sent, for the whole test
    before = (quiet.ch.wire.messages_sent, busy.ch.wire.messages_sent)
    lv = Liveness(lambda: [quiet.ch, busy.ch], RT)
    found: list[PeerUnresponsive] = []
    assert not await _run_for(lv, 3 * lv.interval, found)
    assert quiet.ch.wire.messages_sent > before[0]
    assert time.monotonic() - quiet.ch.last_sent < 1.0
    assert busy.ch.wire.messages_sent == before[1]
    assert found == []


async def test_run_reports_the_first_frozen_peer_exactly_once() -> None:
    live, frozen_a, frozen_b = await peers(2, 3, 4)
    frozen_a.silent_for(100.0)
    frozen_b.silent_for(200.0)
    lv = Liveness(lambda: [live.ch, frozen_a.ch, frozen_b.ch], RT)
    found: list[PeerUnresponsive] = []
    assert await _run_for(lv, 1.0, found)  # it returns after reporting
    assert [e.culprit for e in found] == ["party:3"]


async def test_a_silent_peer_is_reported_and_a_heartbeating_one_is_not() -> None:
    """Two live parties heartbeat each other through their own watchdogs; a third never speaks."""
    talker = await Peer(2).open()
    mute = await Peer(3).open()
    mine = Liveness(lambda: [talker.ch, mute.ch], RT)
    theirs = Liveness(lambda: [talker.far], RT)

    async def drain(ch: Channel) -> None:
        while True:
            await ch.next_event()

    their_reports: list[PeerUnresponsive] = []

    async def record(err: PeerUnresponsive) -> None:
        their_reports.append(err)

    helpers = [
        asyncio.create_task(drain(talker.ch)),
        asyncio.create_task(drain(talker.far)),
        asyncio.create_task(theirs.run(record)),
    ]
    started = time.monotonic()
    mute.silent_for(0.0)
    found: list[PeerUnresponsive] = []
    try:
        assert await _run_for(mine, 4 * RT, found)
    finally:
        for t in helpers:
            t.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
    assert [e.culprit for e in found] == ["party:3"]
    assert time.monotonic() - started >= RT
    assert their_reports == []
    assert time.monotonic() - talker.ch.last_heard < RT
