"""Job programs end to end on the in-memory mesh: results, what is revealed, input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpc_runtime.errors import InputError, MPCError
from mpc_runtime.runtime.memory import run_memory
from protocols import apps
from tests.protocols.helpers import NS, decls, outputs


@pytest.mark.parametrize("n", NS)
async def test_sum_and_average(n: int) -> None:
    vals = [3800 + 7 * p for p in range(n)]
    runs = await run_memory(
        n,
        apps.secure_sum_job,
        inputs=[{"value": v} for v in vals],
        outputs=outputs(n, "total"),
        declared=decls(n, "value"),
    )
    assert all(int(r.outputs["total"]) == sum(vals) for r in runs)
    assert all(r.ledger.total().rounds == 1 for r in runs)  # inputs from seeds, 1 reveal
    runs = await run_memory(
        n,
        apps.average_job,
        inputs=[{"value": v} for v in vals],
        outputs=outputs(n, "average"),
        declared=decls(n, "value"),
    )
    assert all(float(r.outputs["average"]) == pytest.approx(sum(vals) / n) for r in runs)


async def test_sum_vector_shape() -> None:
    vals = np.arange(12).reshape(3, 4)
    runs = await run_memory(
        3,
        apps.secure_sum_job,
        inputs=[{"value": v.tolist()} for v in vals],
        outputs=outputs(3, "total"),
        declared=decls(3, "value", shape=(4,)),
    )
    np.testing.assert_array_equal(runs[0].outputs["total"], vals.sum(axis=0))


@pytest.mark.parametrize("n", NS)
async def test_vote(n: int) -> None:
    choices = [p % 3 for p in range(n)]
    runs = await run_memory(
        n,
        apps.vote_job,
        inputs=[{"choice": c} for c in choices],
        params={"options": ["a", "b", "c"]},
        outputs=outputs(n, "tally"),
        declared=decls(n, "choice", lo=0, hi=2),
    )
    want = np.bincount(choices, minlength=3)
    for r in runs:
        assert set(r.outputs) == {"tally"}
        np.testing.assert_array_equal(r.outputs["tally"], want)


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("yes", [0, 1, 2, 3])
async def test_referendum_reveals_only_outcome(n: int, yes: int) -> None:
    if yes > n:
        pytest.skip("more yes votes than voters")
    votes = [1] * yes + [0] * (n - yes)
    runs = await run_memory(
        n,
        apps.referendum_job,
        inputs=[{"vote": v} for v in votes],
        outputs=outputs(n, "outcome"),
        declared=decls(n, "vote", lo=0, hi=1),
    )
    for r in runs:
        assert set(r.outputs) == {"outcome"}
        assert int(r.outputs["outcome"]) == int(2 * yes >= n)
        assert r.ledger.total().rounds == 8 + 1  # inputs from seeds


@pytest.mark.parametrize("n", NS)
async def test_first_price_auction(n: int) -> None:
    rng = np.random.default_rng(7 + n)
    bids = rng.integers(0, 10**6, size=n)
    if n >= 3:
        bids[2] = bids[1] = bids.max() + 1  # tie: the lowest party id (2) wins
    runs = await run_memory(
        n,
        apps.auction_job,
        inputs=[{"bid": int(b)} for b in bids],
        outputs=outputs(n, "winner", "winning_bid"),
        declared=decls(n, "bid", lo=0, hi=10**9),
    )
    winner = int(np.argmax(bids)) + 1
    losing = {int(b) for i, b in enumerate(bids) if i + 1 != winner and b != bids.max()}
    for r in runs:
        assert set(r.outputs) == {"winner", "winning_bid"}
        assert int(r.outputs["winner"]) == winner
        assert int(r.outputs["winning_bid"]) == bids.max()
        assert not losing & {int(v) for v in r.outputs.values()}
        assert r.ledger.total().rounds == 9 * math.ceil(math.log2(n)) + 2  # inputs from seeds


@pytest.mark.parametrize("n", NS)
async def test_second_price_auction(n: int) -> None:
    bids = [100 + 13 * ((p * 7) % n) for p in range(n)]
    runs = await run_memory(
        n,
        apps.auction_job,
        inputs=[{"bid": b} for b in bids],
        params={"second_price": True},
        outputs=outputs(n, "winner", "price"),
        declared=decls(n, "bid", lo=0, hi=10**9),
    )
    order = sorted(bids, reverse=True)
    for r in runs:
        assert set(r.outputs) == {"winner", "price"}  # the winning bid itself is not revealed
        assert int(r.outputs["winner"]) == bids.index(order[0]) + 1
        assert int(r.outputs["price"]) == order[1]


async def test_only_one_recipient_learns() -> None:
    runs = await run_memory(
        3,
        apps.secure_sum_job,
        inputs=[{"value": 1}, {"value": 2}, {"value": 3}],
        outputs={"total": ["party:2"]},
        declared=decls(3, "value"),
    )
    assert [set(r.outputs) for r in runs] == [set(), {"total"}, set()]


@pytest.mark.parametrize(
    ("job", "inputs", "params"),
    [
        (apps.vote_job, {"choice": 3}, {"options": ["a", "b", "c"]}),
        (apps.vote_job, {"choice": True}, {"options": ["a", "b"]}),
        (apps.referendum_job, {"vote": 2}, {}),
        (apps.auction_job, {"bid": -1}, {}),
        (apps.auction_job, {"bid": 2**62}, {}),
        (apps.secure_sum_job, {"value": 2**70}, {}),
        (apps.secure_sum_job, {"value": 1.5}, {}),
    ],
)
async def test_bad_input_fails_at_owner_everyone_stops(job, inputs, params) -> None:  # type: ignore[no-untyped-def]
    good = {"choice": 0, "vote": 1, "bid": 5, "value": 1}
    bounds = {"choice": (0, 2), "vote": (0, 1), "bid": (0, 10**9), "value": (-(2**31), 2**31)}
    (name,) = inputs
    lo, hi = bounds[name]
    runs = await run_memory(
        3,
        job,
        inputs=[good, inputs, good],
        params=params,
        declared=decls(3, name, lo=lo, hi=hi),
        outputs=outputs(3, "total", "tally", "outcome", "winner", "winning_bid"),
        round_timeout=2.0,
        return_exceptions=True,
    )
    assert isinstance(runs[1].error, InputError)
    assert all(isinstance(r.error, MPCError) for r in runs)
    assert all(not r.outputs for r in runs)
    # the owner failed before its first send: not a byte of its shares left it
    assert runs[1].ledger.total().payload_bytes_sent == 0
