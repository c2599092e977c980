"""maximum / argmax tournaments against numpy, ties, and exact round counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value, share_input
from protocols.select import argmax, index_from_onehot, max_id, maximum, top_two
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


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("m", [1, 2, 3, 7, 16])
async def test_max_id_matches_numpy_with_one_product_per_merge(n: int, m: int) -> None:
    """Value and id packed into one element: the maximum and the smallest id among tied
    maxima, in 9 ceil(log2 m) + 9 rounds (the fallback to top_two would take 9 ceil(log2 m))."""
    rng = np.random.default_rng(7 * n + m)
    x = rng.integers(-500, 500, size=m)
    if m >= 3:
        x[m - 1] = x[1] = x.max() + 3  # tied maxima: the smaller id wins
    ids = [40 + 3 * i for i in range(m)]

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(m,), bounds=(-500, 600))
        best, who = await max_id(ctx, v, ids)
        return [int((await open_value(ctx, t)).view(np.int64)) for t in (best, who)]

    runs = await run_memory(n, prog, inputs=[{"x": x}] + [{}] * (n - 1))
    first = int(np.argmax(x))
    levels = math.ceil(math.log2(m)) if m > 1 else 0
    for r in runs:
        assert r.result == [int(x.max()), ids[first]]
        assert cost(r, "main/max_id#0").rounds == 9 * levels + 9


async def test_max_id_splits_every_low_part_exactly() -> None:
    """The final split is exact whatever the truncation's carry: every id offset, including 0
    and 2^B - 1, comes back for many random shares (the carry e differs between runs)."""
    m = 8
    for trial in range(12):
        winner = trial % m
        x = np.zeros(m, dtype=np.int64)
        x[winner] = 5 + trial

        async def prog(ctx):  # type: ignore[no-untyped-def]
            v = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(m,), bounds=(0, 100))
            best, who = await max_id(ctx, v, list(range(m)))
            return [int((await open_value(ctx, t)).view(np.int64)) for t in (best, who)]

        runs = await run_memory(3, prog, inputs=[{"x": x}, {}, {}])
        assert all(r.result == [5 + trial, winner] for r in runs)


async def test_max_id_falls_back_for_repeated_ids() -> None:
    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(3,), bounds=(0, 10))
        best, who = await max_id(ctx, v, [5, 5, 6])
        return [int((await open_value(ctx, t)).view(np.int64)) for t in (best, who)]

    runs = await run_memory(2, prog, inputs=[{"x": np.array([1, 9, 3])}, {}])
    assert all(r.result == [9, 5] for r in runs)
    assert all(cost(r, "main/max_id#0/top_two#0").rounds == 18 for r in runs)
