"""The reveal policy is enforced at the source: outputs go only to the recipients a job names.

Over the in-memory mesh (real wire frames): a reveal of an undeclared output, or to a recipient
the job does not list, raises UnauthorizedReveal on the party that asked before a single byte of
that reveal leaves it; a permitted reveal reaches exactly its recipients and nobody else.
"""

from __future__ import annotations

from typing import Any

import pytest

from mpc_runtime.errors import MPCError, UnauthorizedReveal
from mpc_runtime.runtime.ledger import ONLINE
from mpc_runtime.runtime.memory import run_memory
from protocols.io import share_inputs

SECRET = 424242


async def _shared_total(ctx: Any) -> Any:
    got = await share_inputs(ctx, ctx.inputs.get("x", 0), owners=ctx.parties, shape=())
    total = got[ctx.parties[0]]
    for p in ctx.parties[1:]:
        total = total + got[p]
    return total


def _reveal_paths(run: Any) -> list[str]:
    return [path for phase, path in run.ledger.paths() if phase == ONLINE and "reveal" in path]


@pytest.mark.parametrize("n", [2, 3, 5])
async def test_output_reaches_only_its_recipient(n: int) -> None:
    async def prog(ctx: Any) -> None:
        total = await _shared_total(ctx)
        await ctx.reveal("total", total)

    runs = await run_memory(
        n, prog, inputs=[{"x": SECRET + i} for i in range(n)], outputs={"total": ["party:2"]}
    )
    expected = sum(SECRET + i for i in range(n))
    for run in runs:
        if run.party == 2:
            assert int(run.outputs["total"]) == expected
            led = run.ledger.total(ONLINE, prefix=_reveal_paths(run)[0])
            assert led.messages_received == n - 1 and led.messages_sent == 0
        else:
            assert run.outputs == {}
            # a non-recipient receives nothing in the reveal round; it only sends to party 2
            led = run.ledger.total(ONLINE, prefix=_reveal_paths(run)[0])
            assert led.messages_received == 0 and led.messages_sent == 1


async def test_undeclared_output_is_refused_before_anything_is_sent() -> None:
    async def prog(ctx: Any) -> None:
        total = await _shared_total(ctx)
        await ctx.reveal("not_in_the_job", total)

    runs = await run_memory(
        3,
        prog,
        inputs=[{"x": 1}, {"x": 2}, {"x": 3}],
        outputs={"total": ["party:1"]},
        return_exceptions=True,
    )
    for run in runs:
        assert isinstance(run.error, UnauthorizedReveal)
        assert "not_in_the_job" in str(run.error)
        assert run.outputs == {}
        assert _reveal_paths(run) == []  # no reveal round ever happened


async def test_reveal_to_an_unlisted_party_is_refused() -> None:
    async def prog(ctx: Any) -> None:
        total = await _shared_total(ctx)
        await ctx.reveal("total", total, to=["party:3"])

    runs = await run_memory(
        3,
        prog,
        inputs=[{"x": 1}, {"x": 2}, {"x": 3}],
        outputs={"total": ["party:1"]},
        return_exceptions=True,
    )
    for run in runs:
        assert isinstance(run.error, UnauthorizedReveal), run.error
        assert "party:3" in str(run.error) and "party:1" in str(run.error)
        assert run.outputs == {}
        assert _reveal_paths(run) == []


async def test_one_party_asking_for_more_stops_everyone_without_leaking() -> None:
    """Party 3 (a buggy or curious script) asks to reveal to itself; the others reveal properly."""

    async def prog(ctx: Any) -> None:
        total = await _shared_total(ctx)
        if ctx.party_id == 3:
            await ctx.reveal("total", total, to=["party:3"])
        else:
            await ctx.reveal("total", total)

    runs = await run_memory(
        3,
        prog,
        inputs=[{"x": 10}, {"x": 20}, {"x": 30}],
        outputs={"total": ["party:1"]},
        return_exceptions=True,
        round_timeout=2.0,
    )
    by = {r.party: r for r in runs}
    assert isinstance(by[3].error, UnauthorizedReveal)
    assert by[3].outputs == {}
    # party 3 sent nothing for the reveal, so party 1 cannot have reconstructed the output
    assert isinstance(by[1].error, MPCError) and "total" not in by[1].outputs
    assert by[2].outputs == {}


def test_policy_narrowing_is_checked_without_a_session() -> None:
    from mpc_runtime.ids import Identity
    from mpc_runtime.runtime.reveal import RevealPolicy

    pol = RevealPolicy({"y": [Identity.party(1), Identity.recipient("analyst")]})
    assert pol.recipients("y", ["recipient:analyst"]) == {Identity.recipient("analyst")}
    for bad in (["party:2"], ["recipient:eve"], ["coordinator"], ["nonsense label"]):
        with pytest.raises(UnauthorizedReveal):
            pol.recipients("y", bad)
    with pytest.raises(UnauthorizedReveal):
        pol.recipients("z")


async def test_an_output_is_revealed_at_most_once() -> None:
    async def prog(ctx: Any) -> None:
        total = await _shared_total(ctx)
        await ctx.reveal("total", total)
        await ctx.reveal("total", total + total)

    runs = await run_memory(
        2, prog, inputs=[{"x": 1}, {"x": 2}], outputs={"total": ["party:1"]}, return_exceptions=True
    )
    for run in runs:
        assert isinstance(run.error, UnauthorizedReveal)
        assert "already revealed" in str(run.error)
    assert int(runs[0].outputs["total"]) == 3  # the first reveal stands; the second never ran


async def test_reveal_decodes_fixed_point_from_the_shared_value() -> None:
    async def prog(ctx: Any) -> None:
        got = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=ctx.parties, shape=(), frac_bits=16, bounds=(-10, 10)
        )
        await ctx.reveal("s", got[1] + got[2])

    runs = await run_memory(
        2, prog, inputs=[{"x": -0.65}, {"x": 0.25}], outputs={"s": ["party:1", "party:2"]}
    )
    for run in runs:
        assert float(run.outputs["s"]) == pytest.approx(-0.4, abs=2**-15)


async def test_unnamed_openings_are_refused_where_the_policy_forbids_them() -> None:
    from mpc_runtime.ids import Identity
    from mpc_runtime.runtime.memory import handshake_mesh, memory_mesh
    from mpc_runtime.runtime.reveal import RevealPolicy
    from mpc_runtime.runtime.session import Session
    from protocols.io import open_value

    chans = memory_mesh([1, 2])
    await handshake_mesh(chans, "j")

    async def prog(ctx: Any) -> None:
        total = await _shared_total(ctx)
        await open_value(ctx, total)

    sessions = [
        Session(
            p, chans[p], job="j", round_timeout=2.0, policy=RevealPolicy({"t": [Identity.party(1)]})
        )
        for p in (1, 2)
    ]
    import asyncio

    res = await asyncio.gather(*(s.run(prog) for s in sessions), return_exceptions=True)
    assert all(isinstance(r, UnauthorizedReveal) for r in res)
