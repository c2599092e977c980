"""The serving mesh: many jobs over one set of channels, routed by job id (runtime.session).

Each test builds an in-memory mesh (real wire frames, HELLO exchanged) wrapped in a
:class:`ServedMesh` per party and runs real :class:`Session` s over per-job channel views.

May import: pytest, numpy, asyncio, mpc_runtime.runtime, mpc_runtime.wire, mpc_runtime.errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import MPCError, RemoteProtocolError
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.mailbox import MAX_HELD_PER_SENDER
from mpc_runtime.runtime.memory import handshake_mesh, memory_mesh
from mpc_runtime.runtime.session import ServedMesh, Session
from mpc_runtime.wire import Control, Data, Message, MsgKind
from mpc_runtime.wire.control import Agree

ROUND = 2.0
Program = Callable[[Context], Awaitable[Any]]


async def served(n: int = 3) -> tuple[dict[int, ServedMesh], dict[int, list[MPCError]]]:
    parties = list(range(1, n + 1))
    chans = memory_mesh(parties)
    await handshake_mesh(chans, "")
    downs: dict[int, list[MPCError]] = {p: [] for p in parties}
    meshes = {
        p: ServedMesh(p, chans[p], round_timeout=ROUND, on_down=downs[p].append) for p in parties
    }
    for m in meshes.values():
        m.start()
    return meshes, downs


async def run_job(meshes: dict[int, ServedMesh], job: str, program: Program) -> list[Any]:
    """Run ``program`` as job ``job`` on every party; results (or exceptions) by party order."""
    views = {p: m.open_job(job) for p, m in meshes.items()}
    sessions = [Session(p, views[p], job=job, round_timeout=ROUND) for p in meshes]
    return list(await asyncio.gather(*(s.run(program) for s in sessions), return_exceptions=True))


def summing(offset: int) -> Program:
    async def program(ctx: Context) -> int:
        got = await ctx.broadcast(np.array([ctx.party_id + offset], dtype=np.int64))
        return int(sum(int(v[0]) for v in got.values()))

    return program


async def close_all(meshes: dict[int, ServedMesh]) -> None:
    await asyncio.gather(*(m.close() for m in meshes.values()))


async def test_jobs_one_after_another_share_the_channels() -> None:
    meshes, downs = await served()
    try:
        for k in range(3):
            assert await run_job(meshes, f"job-{k}", summing(10 * k)) == [6 + 30 * k] * 3
        for p, m in meshes.items():
            assert m.failure is None and not downs[p]
            assert not m.jobs and {"job-0", "job-1", "job-2"} <= set(m.ended)
            for ch in m.channels.values():  # job_bye never ends the connection itself
                assert ch.wire.our_state.value == "open" and ch.wire.their_state.value == "open"
    finally:
        await close_all(meshes)


async def test_concurrent_jobs_are_routed_by_their_job_id() -> None:
    meshes, _ = await served()
    try:
        a, b = await asyncio.gather(
            run_job(meshes, "a", summing(100)), run_job(meshes, "b", summing(1000))
        )
        assert a == [306] * 3 and b == [3006] * 3
    finally:
        await close_all(meshes)


async def test_a_failed_job_leaves_the_mesh_up_for_the_next() -> None:
    meshes, downs = await served()

    async def failing(ctx: Context) -> None:
        if ctx.party_id == 2:
            raise ValueError("boom")
        await ctx.broadcast(np.array([1], dtype=np.int64))

    try:
        results = await run_job(meshes, "bad", failing)
        assert all(isinstance(r, MPCError) for r in results)
        for p in (1, 3):
            assert results[p - 1].blamed == "party:2", results[p - 1]
        assert await run_job(meshes, "good", summing(0)) == [6] * 3
        assert all(m.failure is None for m in meshes.values())
        assert not any(downs.values())
    finally:
        await close_all(meshes)


async def test_an_agreement_sent_before_the_job_is_opened_is_held() -> None:
    meshes, _ = await served(2)
    try:
        shared = meshes[1].channels[2]
        await shared.send_op("early", Agree("ab" * 32))
        await asyncio.sleep(0.05)  # routed before party 2 opened the job
        view = meshes[2].open_job("early")[1]
        event = await asyncio.wait_for(view.next_event(), 1.0)
        assert isinstance(event, Control) and isinstance(event.op, Agree)
        meshes[2].close_job("early")
    finally:
        await close_all(meshes)


async def test_late_messages_of_an_ended_job_are_dropped_quietly() -> None:
    meshes, downs = await served(2)
    try:
        assert await run_job(meshes, "done", summing(0)) == [3, 3]
        late = Message(MsgKind.DATA, "party:1", "done", "main", 9, np.zeros(1, np.int64))
        await meshes[1].channels[2].send(late)
        await asyncio.sleep(0.05)
        assert meshes[2].dropped == 1
        assert meshes[2].failure is None and not downs[2]
        assert await run_job(meshes, "next", summing(1)) == [5, 5]
    finally:
        await close_all(meshes)


async def test_a_lost_peer_fails_open_jobs_naming_it_and_downs_the_mesh() -> None:
    meshes, downs = await served()

    async def waits_for_3(ctx: Context) -> Any:
        return await ctx.receive(3)

    views = {p: meshes[p].open_job("j") for p in (1, 2)}
    sessions = [Session(p, views[p], job="j", round_timeout=ROUND) for p in (1, 2)]
    running = asyncio.gather(*(s.run(waits_for_3) for s in sessions), return_exceptions=True)
    await asyncio.sleep(0.05)
    for ch in meshes[3].channels.values():  # party 3's process dies: its connections drop
        ch.close()
    results = await asyncio.wait_for(running, ROUND)
    for r in results:
        assert isinstance(r, MPCError) and r.blamed == "party:3", r
        assert "party:3" in str(r)
    for p in (1, 2):
        assert downs[p] and downs[p][0].blamed == "party:3"
        assert meshes[p].failure is not None
        with pytest.raises(MPCError):
            meshes[p].open_job("after")
    await close_all(meshes)


async def test_a_flooding_peer_fails_only_its_job() -> None:
    meshes, downs = await served(2)
    try:
        view = meshes[2].open_job("flood")[1]
        data = Data("flood", "main", 1, np.zeros(1))
        for _ in range(MAX_HELD_PER_SENDER + 1):
            view.deliver(data)
        with pytest.raises(RemoteProtocolError, match="party:1 sent more than"):
            while True:
                await view.next_event()
        meshes[2].close_job("flood")
        assert meshes[2].failure is None and not downs[2]
    finally:
        await close_all(meshes)
