"""Failures over a real 3-party TLS mesh in one process: silence, loss, absence.

A silent peer is a RoundTimeout naming it and the op path; a lost peer is a PeerLostError on
the others within 2 s; a party that never shows up is a ConnectError from build_mesh naming it
after the connect deadline.  A party that learns of the failure from another party's ABORT
(rather than seeing it itself) ends with SessionAborted, which names the same peer.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from mpc_runtime.errors import (
    ConnectError,
    MPCError,
    PeerLostError,
    RoundTimeout,
    SessionAborted,
)
from mpc_runtime.runtime.context import ArraySpec
from mpc_runtime.runtime.session import Session
from tests.helpers.cluster import party_meshes

N = 1000
SPEC = ArraySpec(np.uint64, (N,))


def names(err: BaseException, label: str) -> bool:
    """True if a typed error names ``label`` as the peer at fault (directly or as 'lost')."""
    if not isinstance(err, MPCError):
        return False
    return err.peer == label or getattr(err, "lost", None) == label or label in str(err)


async def run_parties(nodes, round_timeout: float, programs):  # type: ignore[no-untyped-def]
    sessions = {
        p: Session(p, node.channels, job="j", round_timeout=round_timeout)
        for p, node in nodes.items()
    }
    tasks = {p: asyncio.create_task(sessions[p].run(programs[p])) for p in nodes}
    return sessions, tasks


async def two_rounds(ctx):  # type: ignore[no-untyped-def]
    x = np.arange(N, dtype=np.uint64)
    for _ in range(2):
        await ctx.scope("b").broadcast(x, expect=SPEC)
    return "ok"


async def test_mesh_runs_cleanly(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """The baseline the failure tests perturb: three parties, two rounds, clean goodbye."""
    _, cfg = make_cluster(3)
    async with asyncio.timeout(20), party_meshes(cfg) as nodes:
        _, tasks = await run_parties(nodes, 5.0, {p: two_rounds for p in nodes})
        assert await asyncio.gather(*tasks.values()) == ["ok"] * 3


async def test_silent_peer_is_a_round_timeout(make_cluster) -> None:  # type: ignore[no-untyped-def]
    round_timeout = 1.5
    _, cfg = make_cluster(3, round_timeout=round_timeout)
    forever = asyncio.Event()

    async def silent_after_one_round(ctx):  # type: ignore[no-untyped-def]
        await ctx.scope("b").broadcast(np.arange(N, dtype=np.uint64), expect=SPEC)
        await forever.wait()  # connected, but never sends round 2

    async with asyncio.timeout(30), party_meshes(cfg) as nodes:
        programs = {1: two_rounds, 2: two_rounds, 3: silent_after_one_round}
        _, tasks = await run_parties(nodes, round_timeout, programs)
        started = time.monotonic()
        done, _ = await asyncio.wait([tasks[1], tasks[2]], timeout=round_timeout + 4)
        elapsed = time.monotonic() - started
        tasks[3].cancel()
        assert len(done) == 2, "an honest party hung on a silent peer"
    errors = {p: tasks[p].exception() for p in (1, 2)}
    for p, err in errors.items():
        assert isinstance(err, (RoundTimeout, SessionAborted)), (p, repr(err))
        assert names(err, "party:3"), (p, repr(err))
    timeouts = [e for e in errors.values() if isinstance(e, RoundTimeout)]
    assert timeouts, errors
    for err in timeouts:
        assert err.peer == "party:3" and err.op_path == "main/b#1" and err.round == 1
        assert "party:3" in str(err) and "main/b#1" in str(err)
    assert elapsed < round_timeout + 3.5


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_lost_peer_is_peer_lost_within_2s(make_cluster, how: str) -> None:  # type: ignore[no-untyped-def]
    """Party 3's connections go away mid-protocol (clean close, or a crash-like abort)."""
    _, cfg = make_cluster(3, round_timeout=10.0)
    crashed = asyncio.Event()

    async def dies_after_one_round(ctx):  # type: ignore[no-untyped-def]
        await ctx.scope("b").broadcast(np.arange(N, dtype=np.uint64), expect=SPEC)
        await asyncio.sleep(0.2)
        for ch in nodes[3].channels.values():
            if how == "abort":
                ch.link.abort()
            else:
                ch.close()
        crashed.set()
        await asyncio.Event().wait()

    async def slow_two_rounds(ctx):  # type: ignore[no-untyped-def]
        x = np.arange(N, dtype=np.uint64)
        await ctx.scope("b").broadcast(x, expect=SPEC)
        await ctx.scope("b").broadcast(x, expect=SPEC)

    async with asyncio.timeout(30), party_meshes(cfg) as nodes:
        programs = {1: slow_two_rounds, 2: slow_two_rounds, 3: dies_after_one_round}
        _, tasks = await run_parties(nodes, 10.0, programs)
        await asyncio.wait_for(crashed.wait(), 10)
        started = time.monotonic()
        done, _ = await asyncio.wait([tasks[1], tasks[2]], timeout=4)
        elapsed = time.monotonic() - started
        tasks[3].cancel()
        assert len(done) == 2, "an honest party did not notice the lost peer"
    errors = {p: tasks[p].exception() for p in (1, 2)}
    for p, err in errors.items():
        assert isinstance(err, (PeerLostError, SessionAborted)), (p, repr(err))
        assert names(err, "party:3"), (p, repr(err))
    assert any(isinstance(e, PeerLostError) and e.peer == "party:3" for e in errors.values())
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


async def test_party_that_never_shows_up_is_a_connect_error(make_cluster) -> None:  # type: ignore[no-untyped-def]
    connect = 2.0
    _, cfg = make_cluster(3, connect=connect)
    started = time.monotonic()
    with pytest.raises((ConnectError, ExceptionGroup)) as info:
        async with asyncio.timeout(connect + 10), party_meshes(cfg, pids=[1, 2]):
            pass
    elapsed = time.monotonic() - started
    errs = info.value.exceptions if isinstance(info.value, ExceptionGroup) else [info.value]
    assert len(errs) == 2, errs  # both parties that came fail
    for err in errs:
        assert isinstance(err, ConnectError), repr(err)
        assert err.peer == "party:3" and "party:3" in str(err), repr(err)
    assert connect - 0.2 <= elapsed < connect + 3.0, f"took {elapsed:.2f}s"


async def test_party_that_never_shows_up_lowest_id(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """Party 1 (the one everyone dials) is missing: 2 and 3 name it; 3 also still meets 2."""
    connect = 2.0
    _, cfg = make_cluster(3, connect=connect)
    started = time.monotonic()
    with pytest.raises((ConnectError, ExceptionGroup)) as info:
        async with asyncio.timeout(connect + 10), party_meshes(cfg, pids=[2, 3]):
            pass
    elapsed = time.monotonic() - started
    errs = info.value.exceptions if isinstance(info.value, ExceptionGroup) else [info.value]
    assert len(errs) == 2, errs
    for err in errs:
        assert isinstance(err, ConnectError), repr(err)
        assert err.peer == "party:1", repr(err)
        assert "party:2" not in str(err) and "party:3" not in str(err).replace("party 3:", "")
    assert elapsed < connect + 3.0, f"took {elapsed:.2f}s"
