"""Validity checks on contributions inside MPC, against plaintext: malicious values of any ring
magnitude are caught, honest ones pass, and only valid/invalid comes out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import BoundsError, RemoteProtocolError
from mpc_runtime.runtime.contrib import ContributionDecl, FeedBatch, memory_feeds
from mpc_runtime.runtime.memory import run_memory
from protocols.contributions import aggregate_job, auction_job
from protocols.validity import project, sketch_params, sketch_rows, validate

M = 2**64


def _ring(rows: list[list[int]]) -> np.ndarray:
    return np.array([[v % M for v in r] for r in rows], dtype=np.uint64)


async def _validity(decl: ContributionDecl, rows: np.ndarray, **kw: Any) -> list[bool]:
    feeds = memory_feeds(3, rows, batch=len(rows), **kw)

    async def job(ctx: Any) -> list[bool]:
        out: list[bool] = []
        async for batch in ctx.contributions():
            out += [bool(v) for v in await validate(ctx, batch)]
        return out

    runs = await run_memory(3, job, contribution=decl, feeds=feeds)
    assert runs[0].result == runs[1].result == runs[2].result
    return list(runs[0].result)


async def test_one_hot_ballots_including_wrap_attempts() -> None:
    decl = ContributionDecl("ballot", (4,), 0, 0, 1, ("one_hot",))
    rows = _ring([
        [0, 1, 0, 0], [1, 0, 0, 0],  # valid
        [1, 1, 0, 0], [2, 0, 0, 0], [-1, 2, 0, 0], [0, 0, 0, 0],  # invalid, small
        [1, 2**32, -(2**32), 0],  # squares wrap to 0 mod 2^64
        [2**63, 2**63, 1, 0],  # sums wrap to 1
        [1 - 2**63, 2**63, 0, 0],
    ])  # fmt: skip
    assert await _validity(decl, rows) == [True, True] + [False] * 7


async def test_bits_and_ranges_with_extreme_values() -> None:
    bits = ContributionDecl("approval", (3,), 0, 0, 1, ("bits",))
    rows = _ring([[1, 0, 1], [0, 0, 0], [2, 0, 0], [2**63, 0, 0], [-1, 0, 0], [1, 1, 1]])
    assert await _validity(bits, rows) == [True, True, False, False, False, True]
    rng = ContributionDecl("bid", (), 0, -5, 10**6, ("range",))
    values = [-5, 10**6, 0, -6, 10**6 + 1, 2**62, -(2**62), 2**63]
    got = await _validity(rng, np.array([v % M for v in values], dtype=np.uint64))
    assert got == [True, True, True, False, False, False, False, False]


async def test_valid_for_one_check_invalid_for_another() -> None:
    # every element in range [0, 1] (bits pass) but not one-hot; and in [-3, 3] but norm > 3
    ballot = ContributionDecl("ballot", (3,), 0, 0, 1, ("bits", "one_hot"))
    assert await _validity(ballot, _ring([[1, 1, 0], [0, 1, 0]])) == [False, True]
    norm = ContributionDecl("u", (3,), 0, -3, 3, ("range", "norm"), 3)
    rows = _ring([[2, 2, 2], [3, 0, 0], [1, -2, 2], [2**32, 0, 0]])
    assert await _validity(norm, rows) == [False, True, True, False]


async def test_incomplete_contributions_are_left_out_consistently() -> None:
    decl = ContributionDecl("ballot", (2,), 0, 0, 1, ("one_hot",))
    rows = _ring([[1, 0], [0, 1], [1, 0]])
    got = await _validity(decl, rows, complete=np.array([True, False, True]), incomplete_for=2)
    assert got == [True, False, True]


async def test_a_relay_that_sends_parties_different_batches_is_named() -> None:
    decl = ContributionDecl("ballot", (2,), 0, 0, 1, ("one_hot",))
    feeds = memory_feeds(3, _ring([[1, 0], [0, 1]]), batch=2)
    first = feeds[1]._batches[0]  # party 2 gets the ids in another order
    feeds[1]._batches[0] = FeedBatch(0, first.ids[::-1], first.shares, first.ok)

    async def job(ctx: Any) -> None:
        async for batch in ctx.contributions():
            await validate(ctx, batch)

    runs = await run_memory(3, job, contribution=decl, feeds=feeds, return_exceptions=True)
    errors = [r.error for r in runs]
    assert all(isinstance(e, RemoteProtocolError) for e in errors)
    assert all(e.blamed == "coordinator" for e in errors if isinstance(e, RemoteProtocolError))


def test_projection_is_exact_mod_2_64() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**63, (5, 3000), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    r = rng.integers(-1, 2, (7, 3000)).astype(np.float64)
    expected = np.zeros((5, 7), dtype=np.uint64)
    ri = r.astype(np.int64).view(np.uint64)
    for j in range(7):  # uint64 arithmetic wraps mod 2^64: the reference
        expected[:, j] = np.sum(x * ri[j], axis=1, dtype=np.uint64)
    assert np.array_equal(project(x, r), expected)


async def test_norm_sketch_accepts_honest_and_rejects_large_or_wrapping_updates() -> None:
    d, f = 2000, 12
    n_units = 2**f  # norm bound 1.0
    rng = np.random.default_rng(3)
    honest = rng.standard_normal((12, d))
    honest *= (np.linspace(0.5, 1.0, 12) / np.linalg.norm(honest, axis=1))[:, None]
    rows = np.trunc(honest * 2**f).astype(np.int64)
    cheats = np.zeros((6, d), dtype=np.int64)
    cheats[0] = rows[-1] * 5  # norm 5: spread out, passes with probability ~1e-10
    cheats[1, 17] = 2**40  # one enormous coordinate
    cheats[2, :2] = [2**62, 2**62]  # wraps in any square
    cheats[3, :] = 2**63 % M - M  # every coordinate 2^63
    cheats[4, 5] = 3 * n_units  # one coordinate at 3.0: norm 3, rejected for sure
    cheats[5, :] = 2**32  # squares vanish mod 2^64
    decl = ContributionDecl("u", (d,), f, -n_units, n_units, ("norm_sketch",), n_units)
    got = await _validity(decl, np.concatenate([rows, cheats]))
    assert got == [True] * 12 + [False] * 6


def test_sketch_parameters_and_their_limits() -> None:
    sk = sketch_params(100_000, 2**16)
    t = sk.row_bound / 2**16
    assert 8.0 < t < 8.2  # sqrt(2 ln(2 k 2^40)) for k = 72 rows
    u = 40 * math.log(2)
    assert math.isclose(sk.square_bound / 2**32, 32 + 2 * math.sqrt(32 * u) + 2 * u, rel_tol=1e-6)
    with pytest.raises(BoundsError):
        sketch_params(10**6, 2**40)


async def test_aggregate_and_mean_with_invalid_and_incomplete_mixed_in() -> None:
    decl = ContributionDecl("ballot", (3,), 0, 0, 1, ("one_hot",))
    rng = np.random.default_rng(11)
    rows = np.eye(3, dtype=np.int64)[rng.integers(0, 3, 40)]
    rows[3] = [1, 1, 0]
    rows[7] = [2, -1, 0]
    complete = np.ones(40, dtype=bool)
    complete[9] = False
    feeds = memory_feeds(3, rows, batch=16, complete=complete, incomplete_for=0)
    runs = await run_memory(
        3, aggregate_job, contribution=decl, feeds=feeds,
        outputs={"total": ["party:1"], "counts": ["party:1"]},
    )  # fmt: skip
    keep = np.ones(40, dtype=bool)
    keep[[3, 7, 9]] = False
    assert runs[0].outputs["total"].tolist() == rows[keep].sum(axis=0).tolist()
    assert runs[0].outputs["counts"].tolist() == [37, 3, 0, 0]
    assert runs[1].outputs == {}  # only the named recipient learns anything


@pytest.mark.parametrize("second", [False, True])
async def test_auction_over_contributions(second: bool) -> None:
    decl = ContributionDecl("bid", (), 0, 0, 1000, ("range",))
    bids = np.array([5, 700, 12, 700, 1001, 3, -1, 650], dtype=np.int64)
    feeds = memory_feeds(3, bids, batch=3)
    outs = ["winner", "price" if second else "winning_bid", "counts"]
    runs = await run_memory(
        3, auction_job, contribution=decl, feeds=feeds, params={"second_price": second},
        outputs={o: ["party:2"] for o in outs},
    )  # fmt: skip
    got = runs[1].outputs
    assert int(got["price" if second else "winning_bid"]) == 700  # a tie: both bids are 700
    assert got["counts"].tolist() == [6, 2, 0, 0]
    ids = [b.ids for b in memory_feeds(1, bids, batch=3)[0]._batches]
    first_700 = [i for chunk in ids for i in chunk][1]  # the earlier of the two 700 bids wins
    assert int(got["winner"]) == int.from_bytes(first_700[:7], "big")
    assert runs[0].outputs == {}


def test_sketch_rows_have_the_declared_distributions() -> None:
    """Chi-square goodness of fit: bound rows -1/0/1 with 1/4, 1/2, 1/4; norm rows -1/1 even."""
    from scipy import stats

    sk = sketch_params(5000, 2**10)
    r = sketch_rows(b"c" * 32, sk, 5000)
    bound, signs = r[: sk.bound_rows], r[sk.bound_rows :]
    counts = [np.count_nonzero(bound == v) for v in (-1, 0, 1)]
    total = bound.size
    assert stats.chisquare(counts, [total / 4, total / 2, total / 4]).pvalue > 1e-4
    assert set(np.unique(signs)) == {-1.0, 1.0}
    pos = np.count_nonzero(signs == 1)
    assert stats.binomtest(pos, signs.size, 0.5).pvalue > 1e-4
    assert not np.array_equal(r, sketch_rows(b"d" * 32, sk, 5000))  # fresh coins, fresh rows
