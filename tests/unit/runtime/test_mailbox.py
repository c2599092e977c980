"""The mailbox: DATA events routed by (op path, round, sender), whatever the arrival order.

Checked: messages are held until taken and handed to a waiter at once; every arrival order gives
the same routing (hypothesis); a duplicate or replayed key is refused naming the sender; a sender
may hold at most ``MAX_HELD_PER_SENDER`` unclaimed messages; ``fail_all`` wakes every waiter
with the first failure and later takes fail at once; a take that times out is a
:class:`RoundTimeout` naming the sender.

May import: pytest, hypothesis, asyncio, :mod:`mpc_runtime.runtime.mailbox`,
:mod:`mpc_runtime.wire` and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.errors import (
    LocalProtocolError,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
)
from mpc_runtime.runtime.mailbox import MAX_HELD_PER_SENDER, Mailbox
from mpc_runtime.wire import Data

T = 1.0
"""A timeout no passing test waits for."""


def ev(path: str, rnd: int, body: object = None, size: int = 10) -> Data:
    return Data("job", path, rnd, body, size)


async def test_held_until_taken() -> None:
    box = Mailbox()
    box.put("party:2", ev("main/a#0", 1, "x"))
    assert box.unclaimed() == 1
    got = await box.take("main/a#0", 1, "party:2", T)
    assert got.body == "x" and got.frame_bytes == 10
    assert box.unclaimed() == 0


async def test_a_waiter_gets_its_message_when_it_arrives() -> None:
    box = Mailbox()
    task = asyncio.create_task(box.take("main/a#0", 3, "party:2", T))
    await asyncio.sleep(0)
    box.put("party:2", ev("main/a#0", 3, "late"))
    assert (await task).body == "late"
    assert box.unclaimed() == 0


async def test_routing_distinguishes_path_round_and_sender() -> None:
    box = Mailbox()
    keys = [
        (p, r, s) for p in ("main/a#0", "main/a#1") for r in (1, 2) for s in ("party:2", "party:3")
    ]
    for p, r, s in keys:
        box.put(s, ev(p, r, (p, r, s)))
    for p, r, s in reversed(keys):
        assert (await box.take(p, r, s, T)).body == (p, r, s)


KEYS = [(f"main/op#{i % 3}", 1 + i // 6, f"party:{2 + (i // 3) % 2}") for i in range(12)]


@settings(max_examples=60, deadline=None)
@given(actions=st.permutations(range(2 * len(KEYS))))
def test_property_any_arrival_order(actions: list[int]) -> None:
    """Twelve keys; each key's put and take happen in any order relative to every other action:
    every take gets exactly its own message and nothing stays behind."""
    n = len(KEYS)

    async def scenario() -> None:
        box = Mailbox()
        takes: dict[int, asyncio.Task[Data]] = {}
        for a in actions:
            path, rnd, sender = KEYS[a % n]
            if a < n:
                box.put(sender, ev(path, rnd, a))
            else:
                takes[a - n] = asyncio.create_task(box.take(path, rnd, sender, T))
            await asyncio.sleep(0)
        for i, task in takes.items():
            assert (await task).body == i
        assert box.unclaimed() == 0

    asyncio.run(scenario())


async def test_duplicates_and_replays_are_refused() -> None:
    box = Mailbox()
    box.put("party:2", ev("main/a#0", 1))
    with pytest.raises(RemoteProtocolError) as held:
        box.put("party:2", ev("main/a#0", 1))
    await box.take("main/a#0", 1, "party:2", T)
    with pytest.raises(RemoteProtocolError) as replay:
        box.put("party:2", ev("main/a#0", 1))
    for err in (held.value, replay.value):
        assert err.peer == err.culprit == "party:2"
        assert (err.op_path, err.round) == ("main/a#0", 1)
        assert "duplicate" in err.message
    box.put("party:3", ev("main/a#0", 1))  # the same key from another sender is fine


async def test_a_message_handed_to_a_waiter_cannot_be_replayed() -> None:
    box = Mailbox()
    task = asyncio.create_task(box.take("main/a#0", 1, "party:2", T))
    await asyncio.sleep(0)
    box.put("party:2", ev("main/a#0", 1))
    await task
    with pytest.raises(RemoteProtocolError):
        box.put("party:2", ev("main/a#0", 1))


async def test_taking_twice_is_refused() -> None:
    box = Mailbox()
    box.put("party:2", ev("main/a#0", 1))
    await box.take("main/a#0", 1, "party:2", T)
    with pytest.raises(MPCError, match="already asked for"):
        await box.take("main/a#0", 1, "party:2", T)
    first = asyncio.create_task(box.take("main/b#0", 1, "party:2", T))
    await asyncio.sleep(0)
    with pytest.raises(MPCError, match="already asked for"):
        await box.take("main/b#0", 1, "party:2", T)
    box.put("party:2", ev("main/b#0", 1, "b"))
    assert (await first).body == "b"


async def test_taking_twice_does_not_blame_the_sender() -> None:
    box = Mailbox()
    box.put("party:2", ev("main/a#0", 1))
    await box.take("main/a#0", 1, "party:2", T)
    with pytest.raises(LocalProtocolError) as info:
        await box.take("main/a#0", 1, "party:2", T)
    assert info.value.blamed is None


async def test_per_sender_cap() -> None:
    box = Mailbox()
    for r in range(MAX_HELD_PER_SENDER):
        box.put("party:2", ev("main/flood#0", r))
    with pytest.raises(RemoteProtocolError, match="nobody asked for") as info:
        box.put("party:2", ev("main/flood#0", MAX_HELD_PER_SENDER))
    assert info.value.culprit == "party:2"
    box.put("party:3", ev("main/flood#0", 0))  # other senders are not affected
    await box.take("main/flood#0", 0, "party:2", T)
    box.put("party:2", ev("main/flood#0", MAX_HELD_PER_SENDER))  # a slot was freed
    assert box.unclaimed() == MAX_HELD_PER_SENDER + 1


async def test_messages_for_waiters_do_not_count_against_the_cap() -> None:
    box = Mailbox()
    for r in range(MAX_HELD_PER_SENDER):
        box.put("party:2", ev("main/held#0", r))
    task = asyncio.create_task(box.take("main/wanted#0", 1, "party:2", T))
    await asyncio.sleep(0)
    box.put("party:2", ev("main/wanted#0", 1, "ok"))
    assert (await task).body == "ok"


async def test_fail_all_wakes_waiters_with_the_first_failure() -> None:
    box = Mailbox()
    waiters = [
        asyncio.create_task(box.take("main/a#0", r, f"party:{p}", T))
        for r in (1, 2)
        for p in (2, 3)
    ]
    await asyncio.sleep(0)
    first = PeerLostError("party:3 was lost", peer="party:3", culprit="party:3")
    box.fail_all(first)
    box.fail_all(SessionAborted("later", culprit="party:2"))
    assert box.failure is first
    for i, w in enumerate(waiters):
        with pytest.raises(PeerLostError) as info:
            await w
        assert info.value.culprit == "party:3"
        assert info.value.op_path == "main/a#0"
        assert info.value.round == 1 + i // 2
    assert first.op_path is None  # the stored failure itself is not modified


async def test_takes_after_a_failure_fail_at_once() -> None:
    box = Mailbox()
    box.put("party:2", ev("main/a#0", 1, "early"))
    box.fail_all(PeerLostError("gone", culprit="party:3"))
    started = time.monotonic()
    with pytest.raises(PeerLostError) as info:
        await box.take("main/b#0", 4, "party:2", 5.0)
    assert time.monotonic() - started < 0.5
    assert (info.value.op_path, info.value.round) == ("main/b#0", 4)
    # A message that had already arrived is still handed out.
    assert (await box.take("main/a#0", 1, "party:2", T)).body == "early"


async def test_take_times_out_naming_the_sender() -> None:
    box = Mailbox()
    started = time.monotonic()
    with pytest.raises(RoundTimeout) as info:
        await box.take("main/mul#0", 2, "party:3", 0.05)
    assert time.monotonic() - started >= 0.05
    err = info.value
    assert err.peer == err.culprit == "party:3"
    assert (err.op_path, err.round) == ("main/mul#0", 2)
    assert "party:3" in err.message and "main/mul#0" in err.message
    # The key is free again: a late message can still be taken.
    box.put("party:3", ev("main/mul#0", 2, "late"))
    assert (await box.take("main/mul#0", 2, "party:3", T)).body == "late"
