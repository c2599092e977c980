"""Sessions over an in-memory mesh: clean goodbyes, and every failure path naming its culprit.

A program exception stays on its party as a :class:`ProgramError` pointing at this file's line;
peers learn only that the party failed in its program (``SessionAborted`` with
``culprit == "party:k"`` and no exception text).  An ABORT relayed by a third party keeps the
original culprit; a peer that stops sending anything, heartbeats included, is named by
:class:`PeerUnresponsive` before any round times out; a peer whose stream ends without BYE is
lost.  ``run_memory`` is checked for 2 and 3 parties.

May import: pytest, asyncio, time, numpy, :mod:`mpc_runtime.runtime`, :mod:`mpc_runtime.transport`,
:mod:`mpc_runtime.wire`, :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import (
    BoundsError,
    InputError,
    MPCError,
    PeerLostError,
    PeerUnresponsive,
    ProgramError,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
)
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.memory import handshake_mesh, memory_mesh, run_memory
from mpc_runtime.runtime.session import Session, abort_of, aborted_by, program_error
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import DelayedLink, MemoryLink
from mpc_runtime.wire import Abort, State

JOB = "job"
SECRET = "secret-value-4242"
Mesh = dict[int, dict[int, Channel]]


def explode(text: str) -> None:
    """Stands for a bug in user code."""
    raise ValueError(text)


EXPLODE_LINE = explode.__code__.co_firstlineno + 2


async def build_mesh(n: int) -> Mesh:
    chans = memory_mesh(list(range(1, n + 1)))
    await handshake_mesh(chans, JOB)
    return chans


def sessions_for(mesh: Mesh, parties: list[int], round_timeout: float) -> list[Session]:
    return [Session(p, mesh[p], job=JOB, round_timeout=round_timeout) for p in parties]


async def run_all(
    sessions: list[Session], program: Callable[[Context], Awaitable[Any]], limit: float = 5.0
) -> list[Any]:
    """Every session's result or exception, within ``limit`` seconds."""
    async with asyncio.timeout(limit):
        return list(
            await asyncio.gather(*(s.run(program) for s in sessions), return_exceptions=True)
        )


# ---- the good path -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
async def test_run_memory(n: int) -> None:
    async def program(ctx: Context) -> int:
        x = np.array([ctx.inputs["x"]], dtype=np.uint64)
        got = await ctx.scope("sum").exchange({p: x for p in ctx.peers})
        return int(x[0] + sum(int(v[0]) for v in got.values())) * ctx.params["scale"]

    inputs = [{"x": 10 * p} for p in range(1, n + 1)]
    runs = await run_memory(n, program, inputs=inputs, params={"scale": 2}, round_timeout=1.0)
    total = 2 * sum(10 * p for p in range(1, n + 1))
    assert [r.party for r in runs] == list(range(1, n + 1))
    assert [r.result for r in runs] == [total] * n
    for r in runs:
        assert r.error is None
        t = r.ledger.total(prefix="main/sum#0")
        assert (t.rounds, t.messages_sent, t.messages_received) == (1, n - 1, n - 1)


async def test_goodbye_closes_every_channel_after_bye() -> None:
    mesh = await build_mesh(3)
    sessions = sessions_for(mesh, [1, 2, 3], 1.0)

    async def program(ctx: Context) -> int:
        await ctx.broadcast(ctx.party_id)
        return ctx.party_id

    assert await run_all(sessions, program) == [1, 2, 3]
    for s in sessions:
        assert s.mailbox.unclaimed() == 0 and s.mailbox.failure is None
    for chans in mesh.values():
        for ch in chans.values():
            assert ch.wire.our_state is State.CLOSING  # we said BYE and sent nothing after it
            assert ch.wire.their_state in (State.CLOSING, State.ENDED)  # and so did they


async def test_goodbye_refuses_messages_nobody_asked_for() -> None:
    mesh = await build_mesh(2)
    sessions = sessions_for(mesh, [1, 2], 1.0)

    async def program(ctx: Context) -> None:
        if ctx.party_id == 2:
            await ctx.send(1, b"unsolicited")

    one, _ = await run_all(sessions, program)
    assert isinstance(one, RemoteProtocolError)
    assert "never asked for" in one.message


# ---- program failures ----------------------------------------------------------------------


async def test_a_program_exception_stays_local_and_peers_learn_who_failed() -> None:
    async def program(ctx: Context) -> Any:
        step = ctx.scope("step")
        await step.exchange({p: 1 for p in step.peers})
        if ctx.party_id == 2:
            explode(SECRET)
        return await step.exchange({p: 2 for p in step.peers})

    started = time.monotonic()
    runs = await run_memory(3, program, round_timeout=5.0, return_exceptions=True)
    assert time.monotonic() - started < 2.5  # told at once, not after a round timeout
    one, two, three = (r.error for r in runs)
    assert isinstance(two, ProgramError)
    assert f"test_session.py:{EXPLODE_LINE}" in two.message
    assert "ValueError" in two.message and SECRET in two.message  # only on its own party
    assert two.op_path == "main/step#0"
    for err in (one, three):
        assert isinstance(err, SessionAborted)
        assert err.culprit == "party:2"
        assert err.code == "ProgramError"
        assert SECRET not in str(err) and "4242" not in str(err)
        assert "ValueError" not in str(err)
        assert "party:2 failed in its program at main/step#0" in err.message


async def test_an_input_refusal_names_its_owner() -> None:
    async def program(ctx: Context) -> Any:
        load = ctx.scope("load")
        if ctx.party_id == 1:
            raise InputError("input 'x' has 3 rows, expected 4")
        return await load.exchange({}, expect_from=[1])

    runs = await run_memory(2, program, round_timeout=5.0, return_exceptions=True)
    one, two = (r.error for r in runs)
    assert isinstance(one, InputError) and one.op_path == "main/load#0"
    assert isinstance(two, SessionAborted)
    assert two.culprit == "party:1"
    assert "party:1 refused its own input" in two.message


async def test_an_abort_relayed_by_a_third_party_keeps_the_culprit() -> None:
    """Party 2's own ABORT to party 3 is held up; party 3 hears of it from party 1 first."""
    mesh = await build_mesh(3)
    mesh[2][3].link = DelayedLink(mesh[2][3].link, 5.0)
    sessions = sessions_for(mesh, [1, 2, 3], 5.0)

    async def program(ctx: Context) -> Any:
        if ctx.party_id == 2:
            explode(SECRET)
        return await ctx.exchange({}, expect_from=[2])

    started = time.monotonic()
    one, two, three = await run_all(sessions, program)
    assert time.monotonic() - started < 2.5
    assert isinstance(two, ProgramError)
    assert isinstance(one, SessionAborted) and one.reporter == "party:2"
    assert isinstance(three, SessionAborted)
    assert three.reporter == "party:1"
    assert three.culprit == "party:2"
    assert three.code == "ProgramError"
    assert SECRET not in str(three)


async def test_stopping_from_outside_reaches_every_peer() -> None:
    mesh = await build_mesh(2)
    sessions = sessions_for(mesh, [1, 2], 5.0)

    async def program(ctx: Context) -> Any:
        return await ctx.exchange({}, expect_from=ctx.peers)  # waits for a message never sent

    async def stop_soon() -> None:
        await asyncio.sleep(0.05)
        sessions[0].fail(SessionAborted("the coordinator aborted the job", culprit="coordinator"))

    stopper = asyncio.create_task(stop_soon())
    one, two = await run_all(sessions, program, limit=3.0)
    await stopper
    assert isinstance(one, SessionAborted) and one.culprit == "coordinator"
    assert isinstance(two, SessionAborted) and two.culprit == "coordinator"
    assert two.reporter == "party:1"


# ---- lost and frozen peers -----------------------------------------------------------------


async def test_a_peer_whose_stream_ends_without_bye_is_lost() -> None:
    mesh = await build_mesh(2)
    sessions = sessions_for(mesh, [1, 2], 5.0)

    async def program(ctx: Context) -> Any:
        if ctx.party_id == 2:
            mesh[2][1].close()  # as if its process died
        return await ctx.exchange({}, expect_from=ctx.peers)

    started = time.monotonic()
    one, _ = await run_all(sessions, program)
    assert time.monotonic() - started < 2.5
    assert isinstance(one, PeerLostError)
    assert one.culprit == "party:2"
    assert "connection closed" in one.message
    assert one.op_path == "main"


async def test_a_frozen_peer_is_named_by_peer_unresponsive() -> None:
    """Party 3 completed its handshake and then froze: it never sends again, not even a PING.
    Parties 1 and 2 keep heartbeating each other, so only party 3 is blamed, and before the
    round timeout elapses for the exchange waiting on it."""
    rt = 1.0
    mesh = await build_mesh(3)
    link = mesh[1][3].link
    assert isinstance(link, MemoryLink)
    link.last_received = time.monotonic() - 0.6 * rt  # froze a little while ago
    sessions = sessions_for(mesh, [1, 2], rt)  # party 3 runs nothing

    async def program(ctx: Context) -> Any:
        return await ctx.exchange({p: 1 for p in ctx.peers})

    started = time.monotonic()
    one, two = await run_all(sessions, program)
    assert time.monotonic() - started < rt
    assert isinstance(one, PeerUnresponsive)
    assert one.culprit == one.peer == "party:3"
    assert not isinstance(one, RoundTimeout)
    assert isinstance(two, MPCError) and two.blamed == "party:3"
    assert two.code in (None, "PeerUnresponsive")


# ---- what is told to peers -----------------------------------------------------------------


def test_abort_of_a_program_error_carries_no_user_text() -> None:
    try:
        explode(SECRET)
    except ValueError as exc:
        err = program_error(exc, "main/x#0")
    assert f"test_session.py:{EXPLODE_LINE}" in err.message and SECRET in err.message
    abort = abort_of(err, "party:4")
    reason = "party:4 failed in its program at main/x#0"
    assert abort == Abort("ProgramError", reason, "party:4", "main/x#0", None)


def test_abort_of_a_relayed_abort_keeps_the_original() -> None:
    got = aborted_by("party:1", Abort("RoundTimeout", "party:3 was silent", "party:3", "m", 2))
    assert got.message == "party:3 was silent (reported by party:1)"
    assert (got.culprit, got.reporter, got.peer) == ("party:3", "party:1", "party:1")
    again = abort_of(got, "party:2")
    assert again == Abort("RoundTimeout", "party:3 was silent", "party:3", "m", 2)


def test_aborted_by_defaults_the_culprit_to_the_reporter_except_for_job_errors() -> None:
    assert aborted_by("party:1", Abort("PeerLostError", "lost")).culprit == "party:1"
    assert aborted_by("party:1", Abort("BoundsError", "may wrap")).culprit is None
    named = aborted_by("party:1", Abort("x", "party:1 stopped"))
    assert named.message == "party:1 stopped"  # the reporter is already named


def test_abort_of_other_errors() -> None:
    bounds = abort_of(BoundsError("sum may leave the ring", op_path="main/s#0"), "party:1")
    assert (bounds.code, bounds.culprit, bounds.op_path) == ("BoundsError", None, "main/s#0")
    lost = abort_of(PeerLostError("party:2 was lost", peer="party:2"), "party:1")
    assert (lost.code, lost.culprit, lost.reason) == (
        "PeerLostError",
        "party:2",
        "party:2 was lost",
    )


def test_aborted_by_names_a_reporter_whose_label_is_a_prefix_of_another() -> None:
    got = aborted_by("party:1", Abort("ProgramError", "party:12 failed in its program at main"))
    assert got.message.endswith("(reported by party:1)")
