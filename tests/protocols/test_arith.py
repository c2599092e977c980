"""Input sharing, opening, sums and Beaver multiplication against numpy, with exact costs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.runtime.memory import run_memory
from protocols.arith import inner_product, mul, secure_sum
from protocols.io import open_value, share_input, share_inputs
from protocols.types import Shared
from tests.protocols.helpers import NS, cost

SMALL = 2**30


@pytest.mark.parametrize("via", ["seeds", "messages"])
@pytest.mark.parametrize("n", NS)
async def test_share_inputs_sum_rounds(n: int, via: str) -> None:
    """From pairwise seeds: 0 rounds, 0 bytes; by messages: 1 round, 8(n-1) B per element."""
    rng = np.random.default_rng(n)
    xs = rng.integers(-SMALL, SMALL, size=(n, 7))

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(ctx, ctx.inputs["x"], owners=ctx.parties, shape=(7,), via=via)
        s = secure_sum(ctx, v)
        return (await open_value(ctx, s)).view(np.int64)

    runs = await run_memory(n, prog, inputs=[{"x": x} for x in xs])
    one = via == "messages"
    for r in runs:
        np.testing.assert_array_equal(r.result, xs.sum(axis=0))
        c = cost(r, "main/share_inputs#0")
        assert c.rounds == int(one)
        assert c.payload_bytes_sent == 8 * (n - 1) * 7 * one
        assert cost(r, "main/open#0").rounds == 1
        assert r.ledger.total().rounds == 1 + one


@pytest.mark.parametrize("n", NS)
async def test_input_sharing_from_params_and_shares_uniform(n: int) -> None:
    """``params.input_sharing`` picks the path; seeded shares differ per call and per job."""

    async def prog(ctx):  # type: ignore[no-untyped-def]
        a = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(64,))
        b = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(64,))
        return a.share, b.share, ctx.ledger.total().rounds

    x = np.zeros(64, dtype=np.int64)
    for mode, rounds in (("seeds", 0), ("messages", 2)):
        runs = await run_memory(
            n, prog, inputs=[{"x": x}] + [{}] * (n - 1), params={"input_sharing": mode}
        )
        assert all(r.result[2] == rounds for r in runs)
        for r in runs:
            a, b = r.result[0], r.result[1]
            assert not np.array_equal(a, b)  # a fresh key per call
            assert len(np.unique(a)) == 64  # 64 random words: no repeats
        total = np.sum([r.result[0] for r in runs], axis=0, dtype=np.uint64)  # wraps mod 2^64
        assert not total.any()  # they still add up to the input (zeros)
    again = await run_memory(n, prog, inputs=[{"x": x}] + [{}] * (n - 1))
    assert not np.array_equal(again[1].result[0], runs[1].result[0])  # a fresh seed per mesh


async def test_unknown_input_sharing_is_refused() -> None:
    async def prog(ctx):  # type: ignore[no-untyped-def]
        return await share_input(ctx, 1, owner=1, shape=())

    runs = await run_memory(
        2, prog, params={"input_sharing": "carrier-pigeon"}, return_exceptions=True
    )
    assert all("input sharing must be one of seeds, messages" in str(r.error) for r in runs)


@pytest.mark.parametrize("via", ["seeds", "messages"])
@pytest.mark.parametrize("n", NS)
async def test_share_input_single_owner_scalar(n: int, via: str) -> None:
    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_input(ctx, ctx.inputs.get("x"), owner=n, shape=(), via=via)
        assert v.shape == ()
        return int((await open_value(ctx, v)).view(np.int64))

    runs = await run_memory(n, prog, inputs=[{}] * (n - 1) + [{"x": -42}])
    one = via == "messages"
    assert [r.result for r in runs] == [-42] * n
    assert all(cost(r, "main/share_input#0").rounds == one for r in runs)
    assert cost(runs[-1], "main/share_input#0").payload_bytes_sent == 8 * (n - 1) * one
    assert cost(runs[0], "main/share_input#0").payload_bytes_sent == 0


@pytest.mark.parametrize("n", NS)
async def test_mul_one_round_exact_bytes(n: int) -> None:
    rng = np.random.default_rng(10 + n)
    x = rng.integers(-(2**30), 2**30, size=(3, 4))
    y = rng.integers(-(2**29), 2**29, size=(3, 4))

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(3, 4), bounds=(-(2**30), 2**30)
        )
        z = await mul(ctx, v[1], v[2])
        ip = await inner_product(ctx, v[1], v[2])
        return (await open_value(ctx, z)), (await open_value(ctx, ip))

    runs = await run_memory(n, prog, inputs=[{"x": x}, {"x": y}] + [{}] * (n - 2))
    want = x * y  # exact: the bounds guarantee no wrap
    for r in runs:
        np.testing.assert_array_equal(r.result[0].view(np.int64), want)
        np.testing.assert_array_equal(r.result[1].view(np.int64), want.sum(axis=1))
        c = cost(r, "main/mul#0")
        assert c.rounds == 1
        assert c.payload_bytes_sent == 2 * 8 * (n - 1) * 12
        assert cost(r, "main/inner_product#0").rounds == 1


@pytest.mark.parametrize("n", NS)
async def test_fixed_point_mul(n: int) -> None:
    rng = np.random.default_rng(20 + n)
    x = rng.uniform(-100, 100, size=50)
    y = rng.uniform(-100, 100, size=50)
    k = rng.integers(-1000, 1000, size=50)
    f = 16

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(50,), frac_bits=f)
        w = await share_input(ctx, ctx.inputs.get("k"), owner=1, shape=(50,))
        ff = await mul(ctx, v[1], v[2])
        fi = await mul(ctx, v[1], w)
        assert ff.frac_bits == f and fi.frac_bits == f
        return (
            (await open_value(ctx, ff)).view(np.int64),
            (await open_value(ctx, fi)).view(np.int64),
        )

    runs = await run_memory(n, prog, inputs=[{"x": x, "k": k}, {"x": y}] + [{}] * (n - 2))
    xe = np.rint(x * 2**f).astype(np.int64)
    ye = np.rint(y * 2**f).astype(np.int64)
    for r in runs:
        exact = (xe * ye) >> f  # floor
        diff = r.result[0] - exact
        assert np.all((diff == 0) | (diff == 1))  # documented: +{0, 1} ulp
        np.testing.assert_array_equal(r.result[1], xe * k)  # fixed * int is exact
        assert cost(r, "main/mul#0").rounds == 2  # Beaver + truncation
        assert cost(r, "main/mul#1").rounds == 1


def test_shared_repr_hides_share() -> None:
    s = Shared(np.array([123456789, 987654321], dtype=np.uint64), 3, -8, 800)
    assert "123456789" not in repr(s) and "987654321" not in str(s)
    assert repr(s) == "Shared(shape=(2,), frac_bits=3, bounds=[-1, 100])"


B = 2**31 - 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(-B, B), st.integers(-B, B)), min_size=1, max_size=6))
async def test_mul_property(pairs: list[tuple[int, int]]) -> None:
    x = np.array([p[0] for p in pairs], dtype=np.int64)
    y = np.array([p[1] for p in pairs], dtype=np.int64)
    m = len(pairs)

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,))
        return await open_value(ctx, await mul(ctx, v[1], v[2]))

    runs = await run_memory(3, prog, inputs=[{"x": x}, {"x": y}, {}])
    np.testing.assert_array_equal(runs[0].result.view(np.int64), x * y)


async def test_a_product_that_could_wrap_is_refused_before_any_round() -> None:
    from mpc_runtime.errors import BoundsError

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(2,), bounds=(0, 2**40)
        )
        return await mul(ctx, v[1], v[2])

    runs = await run_memory(
        2, prog, inputs=[{"x": np.array([1, 2])}, {"x": np.array([3, 4])}], return_exceptions=True
    )
    for r in runs:
        assert isinstance(r.error, BoundsError)
        assert "product" in str(r.error) and "main/mul#0" in str(r.error)
        assert r.ledger.total(prefix="main/mul#0").rounds == 0
