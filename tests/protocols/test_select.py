"""maximum / argmax tournaments against numpy, ties, and exact round counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value, share_input
from protocols.select import argmax, index_from_onehot, maximum, top_two
from tests.protocols.helpers import NS, cost


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("m", [1, 2, 3, 5, 8])
async def test_argmax_matches_numpy(n: int, m: int) -> None:
    rng = np.random.default_rng(100 * n + m)
    x = rng.integers(-1000, 1000, size=m)
    if m >= 3:
        x[m - 1] = x[1] = x.max() + 5  # a tie: the lower index must win

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(m,))
        best, onehot = await argmax(ctx, v)
        mx = await maximum(ctx, v)
        idx = index_from_onehot(onehot)
        return [(await open_value(ctx, t)).view(np.int64) for t in (best, onehot, idx, mx)]

    runs = await run_memory(n, prog, inputs=[{"x": x}] + [{}] * (n - 1))
    want = int(np.argmax(x))  # numpy also returns the first maximum
    for r in runs:
        best, onehot, idx, mx = r.result
        assert int(best) == x.max() == int(mx)
        np.testing.assert_array_equal(onehot, np.eye(m, dtype=np.int64)[want])
        assert int(idx) == want
        levels = math.ceil(math.log2(m)) if m > 1 else 0
        assert cost(r, "main/argmax#0").rounds == 9 * levels
        assert cost(r, "main/maximum#0").rounds == 9 * levels


@pytest.mark.parametrize("m", [1, 2, 3, 6, 9])
async def test_top_two_matches_numpy(m: int) -> None:
    """The maximum, the id of its (first) position and the second-highest value, in
    18 ceil(log2 m) rounds."""
    rng = np.random.default_rng(m)
    x = rng.integers(0, 1000, size=m)
    if m >= 3:
        x[2] = x[m - 1] = x.max() + 1  # tied maxima: the earlier wins, the price equals it
    ids = [1000 + 7 * i for i in range(m)]

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(m,), bounds=(0, 2000))
        best, who, second = await top_two(ctx, v, ids)
        return [int((await open_value(ctx, t)).view(np.int64)) for t in (best, who, second)]

    runs = await run_memory(3, prog, inputs=[{"x": x}, {}, {}])
    order = sorted(range(m), key=lambda i: (-x[i], i))
    want = [int(x[order[0]]), ids[order[0]], int(x[order[1]]) if m > 1 else 0]
    for r in runs:
        assert r.result == want
        levels = math.ceil(math.log2(m)) if m > 1 else 0
        assert cost(r, "main/top_two#0").rounds == 18 * levels
