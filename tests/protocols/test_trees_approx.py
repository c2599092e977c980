"""protocols.trees.approx and .batch: the shared sigmoid, the reciprocal, batched rounds.

The sigmoid's public coefficients are re-derived here from their definition (Chebyshev-weighted
least squares of degree 4 per piece), its error is checked against the documented bound on a
dense grid both in plaintext and on shares, ``p`` stays in ``[0, 1]`` and ``h >= 0``; the
reciprocal is accurate to the working precision over the whole normalization range; batched
products, truncations and comparisons equal their one-at-a-time versions in fewer rounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value, share_input
from protocols.trees import approx
from protocols.trees.batch import eq_public, ge_public, lt_many, mul_many, truncate_many

F = 16


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_coefficients_are_the_documented_fit() -> None:
    pieces = [(0, 2), (2, 4), (4, 6), (6, 8), (8, 11)]
    k = np.arange(400)
    for (a, b), want in zip(pieces, approx._POS_COEF, strict=True):
        c = (a + b) / 2
        xs = c + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / 400)
        coef, *_ = np.linalg.lstsq(np.vander(xs - c, 5, increasing=True), _sig(xs), rcond=None)
        assert np.round(coef * 2**approx.SIG_COEF_BITS).astype(np.int64).tolist() == list(want)


def test_plaintext_approximation_error() -> None:
    m = np.linspace(-20, 20, 400_001)
    err = np.abs(approx.sigmoid_reference(m) - _sig(m))
    assert err.max() <= approx.SIG_MAX_ERROR
    inner = (m > -11) & (m < 11)
    vals = approx.sigmoid_reference(m[inner])
    assert vals.min() > 1.1 * 2.0**-F and vals.max() < 1 - 1.1 * 2.0**-F  # p provably in [0, 1]


async def test_shared_sigmoid_on_a_grid() -> None:
    m = np.concatenate([np.linspace(-14, 14, 1401), [-11, -8, -2, 0, 2, 8, 11, 2**-16, -(2**-16)]])

    async def prog(ctx: Any) -> Any:
        x = await share_input(
            ctx, m if ctx.party_id == 1 else None, 1, shape=m.shape, frac_bits=F, bounds=(-100, 100)
        )
        p, h = await approx.sigmoid(ctx, x)
        return [(await open_value(ctx, v)).view(np.int64) / 2.0**F for v in (p, h)]

    runs = await run_memory(3, prog)
    p, h = runs[0].result
    assert np.abs(p - _sig(m)).max() <= approx.SIG_MAX_ERROR + 1.1 * 2.0**-F
    assert p.min() >= 0 and p.max() <= 1 and h.min() >= 0
    assert np.abs(h - _sig(m) * (1 - _sig(m))).max() <= 2 * approx.SIG_MAX_ERROR + 2.0**-F
    sig_ops = runs[0].ledger.total(prefix="main/sigmoid#0")
    assert sig_ops.rounds == 17


async def test_reciprocal_over_its_range() -> None:
    lam, top = 1.0, 2600.0
    d = np.concatenate(
        [[1.0, 1.0001, 3.99, 4.0, 4.01, 15.99, 16.0, top], np.geomspace(1, top, 200)]
    )

    async def prog(ctx: Any) -> Any:
        x = await share_input(
            ctx, d if ctx.party_id == 2 else None, 2, shape=d.shape, frac_bits=F, bounds=(lam, top)
        )
        plan = approx.recip_plan(lam, top, F)
        bits = await ge_public(ctx, approx.threshold_pairs(x, plan))
        s, hs = approx.scales(ctx, bits, plan, x.shape)
        r = await approx.reciprocal(ctx, x, s, F)
        return (await open_value(ctx, r)).view(np.int64) / 2.0**F, (await open_value(ctx, s)).view(
            np.int64
        ) / 2.0**plan.s_bits

    runs = await run_memory(3, prog)
    x, s = runs[0].result
    dq = np.round(d * 2**F) / 2**F
    assert np.all((dq * s >= 0.25) & (dq * s < 1))  # normalized into [1/4, 1)
    assert np.abs(x * s * dq - 1).max() < 3 * 2.0**-F


@pytest.mark.dealer_only
async def test_batched_rounds_equal_separate_ones() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(-1000, 1000, size=(5, 3))
    b = rng.integers(-1000, 1000, size=7)

    async def prog(ctx: Any) -> Any:
        x = await share_input(
            ctx,
            a if ctx.party_id == 1 else None,
            1,
            shape=a.shape,
            frac_bits=8,
            bounds=(-1000, 1000),
        )
        y = await share_input(
            ctx,
            b if ctx.party_id == 2 else None,
            2,
            shape=b.shape,
            frac_bits=4,
            bounds=(-1000, 1000),
        )
        prods = await mul_many(ctx, [(x, x, 8), (y, y, 0), (x, x, 3)])
        (tr,) = await truncate_many(ctx, [(y, 2)])
        lt = await lt_many(ctx, [(x, x.mul_public(2)), (y, y)])
        eq = await eq_public(ctx, y, np.round(b * 16).astype(np.int64))
        outs = [*prods, tr, *lt, eq]
        return [(await open_value(ctx, v)).view(np.int64) for v in outs], [
            v.frac_bits for v in outs
        ]

    runs = await run_memory(3, prog)
    (xx8, yy, xx3, tr, lt1, lt2, eq), fracs = runs[0].result
    ea, eb = np.round(a * 256).astype(np.int64), np.round(b * 16).astype(np.int64)
    assert fracs == [8, 8, 13, 2, 0, 0, 0]
    assert np.all(np.abs(xx8 - (ea * ea >> 8)) <= 1) and np.array_equal(yy, eb * eb)
    assert np.all(np.abs(xx3 - (ea * ea >> 3)) <= 1) and np.all(np.abs(tr - (eb >> 2)) <= 1)
    assert np.array_equal(lt1, (ea < 2 * ea).astype(int)) and not lt2.any() and eq.all()
    led = runs[0].ledger
    assert led.total(prefix="main/mul_many#0").rounds == 2  # 1 Beaver + 1 truncation
    assert led.total(prefix="main/lt_many#0").rounds == 8
