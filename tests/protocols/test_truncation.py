"""Exact truncation: floor(x / 2^f) + {0, 1} at every value of the documented range, never the
2^(64-f) error of probabilistic truncation (which hit about 2^-16 of values before)."""

from __future__ import annotations

import numpy as np
import pytest

from mpc_runtime.runtime.memory import run_memory
from mpc_runtime.sharing.ring import INT_MAX, INT_MIN
from protocols.arith import mul, truncate
from protocols.io import open_value, share_input, share_inputs

F = 16


def _edges() -> np.ndarray:
    base = [0, 1, -1, 2, -2, 2**F - 1, 2**F, -(2**F), -(2**F) - 1, INT_MIN, INT_MIN + 1, INT_MAX]
    base += [INT_MAX - 1, 2**61, -(2**61), 2**62 - 2**F, -(2**62) + 2**F, 12345, -12345]
    return np.array(base, dtype=np.int64)


@pytest.mark.dealer_only
@pytest.mark.parametrize("n", [2, 3])
async def test_truncate_a_million_values_including_the_range_edges(n: int) -> None:
    rng = np.random.default_rng(n)
    vals = np.concatenate(
        [
            _edges(),
            rng.integers(INT_MIN, INT_MAX, size=500_000, endpoint=True),
            rng.integers(-(2**40), 2**40, size=500_000),
        ]
    )
    m = vals.size

    async def prog(ctx):  # type: ignore[no-untyped-def]
        x = await share_input(
            ctx, ctx.inputs.get("x"), 1, shape=(m,), frac_bits=0, bounds=(INT_MIN, INT_MAX)
        )
        x = type(x)(x.share, F, x.lo, x.hi)  # reinterpret as fixed point with F bits
        t = await truncate(ctx, x, F)
        return (await open_value(ctx, t)).view(np.int64)

    runs = await run_memory(n, prog, inputs=[{"x": vals}] + [{}] * (n - 1), round_timeout=60)
    err = runs[0].result - (vals >> F)
    assert set(np.unique(err).tolist()) <= {0, 1}
    assert int(np.count_nonzero(err)) > 0  # the documented last-bit rounding does occur


@pytest.mark.dealer_only
async def test_fixed_times_fixed_a_million_products_has_no_large_error() -> None:
    rng = np.random.default_rng(7)
    m = 1_000_000
    x = rng.uniform(-100, 100, size=m)
    y = rng.uniform(-100, 100, size=m)
    x[:4] = [0.0, 0.0, 99.99, -99.99]
    y[:4] = [0.0, 5.5, 99.99, 99.99]

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,), frac_bits=F, bounds=(-100, 100)
        )
        return (await open_value(ctx, await mul(ctx, v[1], v[2]))).view(np.int64)

    runs = await run_memory(2, prog, inputs=[{"x": x}, {"x": y}], round_timeout=60)
    xe = np.rint(x * 2**F).astype(np.int64)
    ye = np.rint(y * 2**F).astype(np.int64)
    err = runs[0].result - ((xe * ye) >> F)
    assert set(np.unique(err).tolist()) <= {0, 1}
    assert runs[0].result[0] == 0  # zero stays zero (the old failure mode hit 0 too)


async def test_truncation_edges_under_every_provider() -> None:
    """The edges and 20,000 random values, under both providers (the conftest runs both)."""
    rng = np.random.default_rng(9)
    vals = np.concatenate([_edges(), rng.integers(INT_MIN, INT_MAX, size=20_000, endpoint=True)])
    m = vals.size

    async def prog(ctx):  # type: ignore[no-untyped-def]
        x = await share_input(
            ctx, ctx.inputs.get("x"), 1, shape=(m,), frac_bits=0, bounds=(INT_MIN, INT_MAX)
        )
        x = type(x)(x.share, F, x.lo, x.hi)
        return (await open_value(ctx, await truncate(ctx, x, F))).view(np.int64)

    runs = await run_memory(3, prog, inputs=[{"x": vals}, {}, {}], round_timeout=60)
    err = runs[0].result - (vals >> F)
    assert set(np.unique(err).tolist()) <= {0, 1}
