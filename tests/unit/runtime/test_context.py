"""The context: one ``exchange`` is one round, counted once; scopes; preprocessing material.

Sessions run over an in-memory mesh (real frames, real per-peer state machines) built here, so
the tests can read each channel's wire counters and compare them with the ledger: every message
is counted exactly once, with its frame size as the wire counted it and its payload's array
bytes.  Scopes give every party the same op paths whatever the interleaving; ``material`` runs
the provider under an offline child scope and books a dealer's bytes there.

May import: pytest, asyncio, numpy, :mod:`mpc_runtime.runtime`, :mod:`mpc_runtime.transport`,
:mod:`mpc_runtime.preprocessing`, :mod:`mpc_runtime.wire`, :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import LocalProtocolError, PreprocessingExhausted, RemoteProtocolError
from mpc_runtime.preprocessing.provider import Exchanger, Fetched, Provider
from mpc_runtime.preprocessing.requests import Component, Material
from mpc_runtime.runtime.arrays import ArraySpec
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.ledger import OFFLINE, ONLINE
from mpc_runtime.runtime.memory import handshake_mesh, memory_mesh, run_memory
from mpc_runtime.runtime.session import Session
from mpc_runtime.transport.channel import Channel
from mpc_runtime.wire import DEFAULT_MAX_FRAME, Message, MessageStream, MsgKind

JOB = "job"
Program = Callable[[Context], Awaitable[Any]]


Mesh = dict[int, dict[int, Channel]]


async def build_mesh(n: int) -> Mesh:
    """Channels between parties 1..n, in memory, HELLOs exchanged: ``mesh[me][peer]``."""
    chans = memory_mesh(list(range(1, n + 1)))
    await handshake_mesh(chans, JOB)
    return chans


async def run_mesh(
    n: int,
    program: Program,
    *,
    provider: Callable[[int], Provider] | None = None,
    round_timeout: float = 5.0,
    mesh: Mesh | None = None,
) -> tuple[list[Any], list[Session]]:
    """Run ``program`` on parties 1..n over ``mesh`` (default: a fresh one); results, sessions."""
    parties = list(range(1, n + 1))
    chans = mesh if mesh is not None else await build_mesh(n)
    sessions = [
        Session(
            p,
            chans[p],
            job=JOB,
            round_timeout=round_timeout,
            provider=provider(p) if provider else None,
        )
        for p in parties
    ]
    async with asyncio.timeout(10):
        results = await asyncio.gather(*(s.run(program) for s in sessions))
    return list(results), sessions


def frame_size(sender: int, path: str, rnd: int, body: object) -> int:
    """The size of the DATA frame that carries ``body``, computed independently of the run."""
    msg = Message(MsgKind.DATA, f"party:{sender}", JOB, path, rnd, body)
    return len(b"".join(MessageStream(DEFAULT_MAX_FRAME).send(msg)))


def payload_for(sender: int, receiver: int) -> np.ndarray[Any, Any]:
    return np.arange(7 * sender + receiver, dtype=np.uint64)


# ---- exchange counts -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
async def test_exchange_counts_one_round_and_each_message_once(n: int) -> None:
    mesh = await build_mesh(n)

    async def program(ctx: Context) -> dict[str, Any]:
        chans = mesh[ctx.party_id]
        before = {p: ch.bytes_sent for p, ch in chans.items()}
        got = await ctx.exchange({p: payload_for(ctx.party_id, p) for p in ctx.peers})
        sent = {p: chans[p].bytes_sent - before[p] for p in ctx.peers}
        return {"got": got, "sent": sent}

    results, sessions = await run_mesh(n, program, mesh=mesh)
    for s, res in zip(sessions, results, strict=True):
        me, peers = s.me, [p for p in range(1, n + 1) if p != s.me]
        for p in peers:
            np.testing.assert_array_equal(res["got"][p], payload_for(p, me))
            assert res["sent"][p] == frame_size(me, "main", 1, payload_for(me, p))
        t = s.ledger.total()
        assert t.rounds == 1
        assert t.messages_sent == t.messages_received == n - 1
        assert t.bytes_sent == sum(res["sent"].values())
        assert t.bytes_received == sum(frame_size(p, "main", 1, payload_for(p, me)) for p in peers)
        assert t.payload_bytes_sent == sum(payload_for(me, p).nbytes for p in peers)
        assert t.payload_bytes_received == sum(payload_for(p, me).nbytes for p in peers)
        assert s.ledger.paths() == [(ONLINE, "main")]
        assert s.ledger.total(OFFLINE).rounds == 0
        # What this party's ledger says it received is what the senders' wires say they sent.
        assert t.bytes_received == sum(results[p - 1]["sent"][me] for p in peers)
    totals = [s.ledger.total() for s in sessions]
    assert sum(t.bytes_sent for t in totals) == sum(t.bytes_received for t in totals)


async def test_every_exchange_is_one_more_round() -> None:
    async def program(ctx: Context) -> int:
        total = 0
        for i in range(4):
            got = await ctx.exchange({p: [i, ctx.party_id] for p in ctx.peers})
            total += sum(v[1] for v in got.values())
        return total

    results, sessions = await run_mesh(3, program)
    assert results == [4 * (2 + 3), 4 * (1 + 3), 4 * (1 + 2)]
    for s in sessions:
        t = s.ledger.total()
        assert (t.rounds, t.messages_sent, t.messages_received) == (4, 8, 8)
        assert t.payload_bytes_sent == 0  # no arrays: payload bytes count array bytes only


async def test_one_sided_rounds() -> None:
    async def program(ctx: Context) -> Any:
        if ctx.party_id == 1:
            await ctx.send(2, np.ones(5, np.uint64))
            return None
        return await ctx.receive(1, expect=ArraySpec(np.uint64, (5,)))

    results, sessions = await run_mesh(2, program)
    np.testing.assert_array_equal(results[1], np.ones(5, np.uint64))
    one, two = (s.ledger.total() for s in sessions)
    assert (one.rounds, one.messages_sent, one.messages_received) == (1, 1, 0)
    assert (two.rounds, two.messages_sent, two.messages_received) == (1, 0, 1)
    assert one.bytes_sent == two.bytes_received > 40


async def test_broadcast_includes_our_own_value() -> None:
    async def program(ctx: Context) -> dict[int, Any]:
        return await ctx.broadcast(ctx.party_id * 10)

    results, _ = await run_mesh(3, program)
    assert all(r == {1: 10, 2: 20, 3: 30} for r in results)


async def test_exchange_refuses_a_party_that_is_not_a_peer() -> None:
    async def program(ctx: Context) -> str:
        for bad in ({9: 1}, {ctx.party_id: 1}):
            with pytest.raises(LocalProtocolError, match="not a peer"):
                await ctx.exchange(bad, expect_from=())
        with pytest.raises(LocalProtocolError):
            await ctx.exchange({}, expect_from=[7])
        return "ok"

    results, _ = await run_mesh(2, program)
    assert results == ["ok", "ok"]


async def test_naming_a_sender_twice_is_our_own_error() -> None:
    async def program(ctx: Context) -> Any:
        if ctx.party_id == 2:
            return None
        with pytest.raises(LocalProtocolError) as info:
            await ctx.exchange({}, expect_from=[2, 2])
        return info.value.blamed

    results, _ = await run_mesh(2, program)
    assert results == [None, None]


async def test_expect_refuses_an_array_of_another_shape_naming_the_sender() -> None:
    async def program(ctx: Context) -> Any:
        if ctx.party_id == 2:
            await ctx.send(1, np.zeros(3, np.uint32))
            return None
        with pytest.raises(RemoteProtocolError) as info:
            await ctx.receive(2, expect=ArraySpec(np.uint64, (3,)))
        return info.value

    results, _ = await run_mesh(2, program)
    err = results[0]
    assert err.culprit == "party:2" and (err.op_path, err.round) == ("main", 1)


# ---- scopes --------------------------------------------------------------------------------


async def test_scopes_give_every_party_the_same_paths() -> None:
    async def op(ctx: Context, tag: int) -> list[int]:
        inner = ctx.scope("open")
        got = await inner.exchange({p: [tag, ctx.party_id] for p in ctx.peers})
        return sorted(v[0] for v in got.values())

    async def program(ctx: Context) -> Any:
        a, b = ctx.scope("mul"), ctx.scope("mul")
        c = ctx.scope("cmp")
        assert [str(x.path) for x in (a, b, c)] == ["main/mul#0", "main/mul#1", "main/cmp#0"]
        # Run concurrently, started in a different order on every party.
        pairs = [(a, 1), (b, 2), (c, 3)]
        if ctx.party_id % 2 == 0:
            pairs.reverse()
        got = await asyncio.gather(*(op(x, tag) for x, tag in pairs))
        return sorted(got)

    results, sessions = await run_mesh(3, program)
    assert all(r == [[1, 1], [2, 2], [3, 3]] for r in results)
    paths = [s.ledger.paths() for s in sessions]
    assert paths[0] == paths[1] == paths[2]
    assert paths[0] == [
        (ONLINE, "main/cmp#0/open#0"),
        (ONLINE, "main/mul#0/open#0"),
        (ONLINE, "main/mul#1/open#0"),
    ]
    for s in sessions:
        assert s.ledger.total(prefix="main/mul#0").rounds == 1
        assert s.ledger.by_op(depth=2)["main/mul"].rounds == 2


async def test_bad_scope_names() -> None:
    async def program(ctx: Context) -> None:
        for bad in ("", "a/b", "a#1"):
            with pytest.raises(LocalProtocolError):
                ctx.scope(bad)

    await run_mesh(2, program)


# ---- preprocessing material ------------------------------------------------------------------

DEALER_BYTES = 1234


class EchoProvider:
    """An interactive provider: one exchange among the parties, plus a dealer's bytes."""

    name = "echo"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    async def fetch(self, ex: Exchanger, path: str, components: Sequence[Component]) -> Fetched:
        assert isinstance(ex, Context)
        await ex.exchange({p: np.zeros(8, np.uint64) for p in ex.peers})
        self.seen.append((path, str(ex.path), ex.phase))
        mats: list[Material] = [
            {name: np.zeros(c.shape, np.uint64) for name in ("a", "b", "c")} for c in components
        ]
        return Fetched(mats, third_party_bytes=DEALER_BYTES, third_party_requests=1)


async def test_material_runs_offline_under_a_child_scope() -> None:
    providers = {p: EchoProvider() for p in (1, 2)}

    async def program(ctx: Context) -> int:
        mul = ctx.scope("mul")
        mats = await mul.material([Component("triple", (4,))])
        await mul.material([Component("triple", (2,)), Component("triple", (3,))])
        await mul.exchange({p: 1 for p in mul.peers})
        return mats[0]["a"].shape[0]

    results, sessions = await run_mesh(2, program, provider=providers.__getitem__)
    assert results == [4, 4]
    for s in sessions:
        assert providers[s.me].seen == [
            ("main/mul#0/pre#0", "main/mul#0/pre#0", OFFLINE),
            ("main/mul#0/pre#1", "main/mul#0/pre#1", OFFLINE),
        ]
        off = s.ledger.total(OFFLINE, prefix="main/mul#0/pre#0")
        assert off.rounds == 1 + 1  # the provider's exchange and the dealer request
        assert off.messages_sent == 1 + 1
        assert off.payload_bytes_received == 64 + DEALER_BYTES
        assert off.bytes_received > DEALER_BYTES + 64
        assert s.ledger.total(OFFLINE).rounds == 4
        on = s.ledger.total(ONLINE)
        assert (on.rounds, on.messages_sent) == (1, 1)
        assert s.ledger.paths()[-1] == (ONLINE, "main/mul#0")


async def test_material_from_the_in_process_dealer() -> None:
    comp = Component("triple", (5,))

    async def program(ctx: Context) -> Any:
        return (await ctx.material([comp]))[0]

    runs = await run_memory(3, program)
    a, b, c = (sum(r.result[k] for r in runs) for k in "abc")
    np.testing.assert_array_equal(c, a * b)  # uint64: mod 2^64
    for r in runs:
        off = r.ledger.total(OFFLINE, prefix="main/pre#0")
        assert off.rounds == 1 and off.bytes_received >= 16
        assert r.ledger.total(ONLINE).rounds == 0


async def test_material_without_a_provider() -> None:
    async def program(ctx: Context) -> str:
        with pytest.raises(PreprocessingExhausted):
            await ctx.material([Component("triple", (1,))])
        return "ok"

    results, _ = await run_mesh(2, program)
    assert results == ["ok", "ok"]


async def test_who_is_here() -> None:
    async def program(ctx: Context) -> tuple[Any, ...]:
        return (ctx.party_id, ctx.parties, ctx.n, ctx.peers, ctx.is_first, ctx.index, ctx.job)

    results, _ = await run_mesh(3, program)
    assert results == [
        (1, (1, 2, 3), 3, (2, 3), True, 0, JOB),
        (2, (1, 2, 3), 3, (1, 3), False, 1, JOB),
        (3, (1, 2, 3), 3, (1, 2), False, 2, JOB),
    ]
