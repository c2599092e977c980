"""lt / eq / gt / le / ge (the tree protocol) against numpy: edge cases, properties, exact rounds
and bytes; the packed-bit kernels against plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.runtime.memory import run_memory
from mpc_runtime.sharing.ring import INT_MAX, INT_MIN
from protocols.compare import eq, eq_payload_bytes, ge, gt, le, lt, lt_payload_bytes
from protocols.compare_bits import CHUNK, lt_combine, pair_gates, transpose
from protocols.io import open_value, share_inputs
from tests.protocols.helpers import NS, cost


def _cases(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    edge = [
        (0, 0),
        (0, 1),
        (1, 0),
        (-1, 0),
        (0, -1),
        (-1, -1),
        (5, 5),
        (-7, -6),
        (-6, -7),
        (INT_MIN, INT_MIN),
        (INT_MAX, INT_MAX),
        (INT_MIN, INT_MAX),
        (INT_MAX, INT_MIN),
        (INT_MIN, INT_MIN + 1),
        (INT_MIN + 1, INT_MIN),
        (INT_MAX - 1, INT_MAX),
        (INT_MAX, INT_MAX - 1),
        (INT_MIN, 0),
        (0, INT_MIN),
        (INT_MAX, 0),
        (0, INT_MAX),
        (INT_MAX, -1),
        (-1, INT_MAX),
    ]
    rx = rng.integers(INT_MIN, INT_MAX, size=60, endpoint=True)
    ry = rng.integers(INT_MIN, INT_MAX, size=60, endpoint=True)
    small = rng.integers(-3, 4, size=(20, 2))
    adj = rng.integers(INT_MIN, INT_MAX - 1, size=10)
    x = np.concatenate([[a for a, _ in edge], rx, small[:, 0], adj, adj + 1, rx[:5]])
    y = np.concatenate([[b for _, b in edge], ry, small[:, 1], adj + 1, adj, rx[:5]])
    return x.astype(np.int64), y.astype(np.int64)


@pytest.mark.parametrize("n", NS)
async def test_comparisons_match_numpy(n: int, provider: str) -> None:
    x, y = _cases(n)
    m = x.size

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,), bounds=(INT_MIN, INT_MAX)
        )
        a, b = v[1], v[2]
        outs = [await f(ctx, a, b) for f in (lt, eq, gt, le, ge)]
        return [(await open_value(ctx, o)).view(np.int64) for o in outs]

    runs = await run_memory(n, prog, inputs=[{"x": x}, {"x": y}] + [{}] * (n - 2))
    for r in runs:
        got_lt, got_eq, got_gt, got_le, got_ge = r.result
        np.testing.assert_array_equal(got_lt, x < y)
        np.testing.assert_array_equal(got_eq, x == y)
        np.testing.assert_array_equal(got_gt, x > y)
        np.testing.assert_array_equal(got_le, x <= y)
        np.testing.assert_array_equal(got_ge, x >= y)
        for op in ("lt#0", "eq#0", "gt#0", "le#0", "ge#0"):
            assert cost(r, f"main/{op}").rounds == 8
        assert cost(r, "main/lt#0").payload_bytes_sent == lt_payload_bytes(m, n)
        assert cost(r, "main/eq#0").payload_bytes_sent == eq_payload_bytes(m, n)
        # one material request per comparison: one dealer reply, or a few OT rounds
        offline = r.ledger.total("offline", prefix="main/lt#0").rounds
        assert offline == 1 if provider == "dealer" else offline >= 2


async def test_lt_refuses_operands_whose_difference_could_wrap() -> None:
    from mpc_runtime.errors import BoundsError
    from protocols.types import Shared

    async def prog(ctx):  # type: ignore[no-untyped-def]
        big = Shared(np.zeros(3, dtype=np.uint64), 0, -(2**63), 2**63 - 1)
        return await lt(ctx, big, big)

    runs = await run_memory(2, prog, return_exceptions=True)
    for r in runs:
        assert isinstance(r.error, BoundsError)
        assert "difference" in str(r.error) and r.ledger.total().rounds == 0


def test_byte_formulas_asymptotic() -> None:
    m = 128 * 1000
    assert lt_payload_bytes(m, 2) / m == pytest.approx(8 + 2 * 93 / 8 + 1 / 8)
    assert eq_payload_bytes(m, 3) / m == pytest.approx(2 * (8 + 2 * 63 / 8 + 1 / 8))
    # Small batches pay for whole 64-bit words per bit plane.
    assert lt_payload_bytes(1, 2) == 8 + 16 * 64 + 16 * 61 + 1
    assert eq_payload_bytes(1, 2) == 8 + 16 * 64 + 32 * 31 + 1


@pytest.mark.parametrize("m", [0, 1, 63, 64, 65, 1000])
async def test_odd_sizes(m: int) -> None:
    rng = np.random.default_rng(m)
    x = rng.integers(-50, 50, size=m)
    y = np.where(rng.random(m) < 0.3, x, rng.integers(-50, 50, size=m))

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,), bounds=(-99, 99)
        )
        a, b = await lt(ctx, v[1], v[2]), await eq(ctx, v[1], v[2])
        return (await open_value(ctx, a)), (await open_value(ctx, b))

    runs = await run_memory(3, prog, inputs=[{"x": x}, {"x": y}, {}])
    np.testing.assert_array_equal(runs[0].result[0], x < y)
    np.testing.assert_array_equal(runs[0].result[1], x == y)
    assert cost(runs[0], "main/lt#0").rounds == (8 if m else 0)


def test_transpose_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 64, 100, CHUNK + 77):
        x = rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
        planes = transpose(x)
        w = -(-n // 64)
        assert planes.shape == (64, w)
        bits = np.unpackbits(planes.view(np.uint8).reshape(64, -1), axis=1, bitorder="little")
        want = (x[None, :] >> np.arange(64, dtype=np.uint64)[:, None]) & np.uint64(1)
        np.testing.assert_array_equal(bits[:, :n], want)
        assert not bits[:, n:].any()


def test_level_kernels_match_plain_bits() -> None:
    """The in-word first levels compute the documented values (one party holds everything, so
    shares are values; masks zero)."""
    rng = np.random.default_rng(9)
    m = 300
    half = 64 * -(-m // 128)
    c = rng.integers(0, 2**64, size=m, dtype=np.uint64, endpoint=False)
    r = rng.integers(0, 2**64, size=m, dtype=np.uint64, endpoint=False)
    zeros = np.zeros(half, dtype=np.uint64)
    trip = {"a": zeros, "b": zeros, "c": zeros}

    def bit(v: np.ndarray, i: int) -> np.ndarray:
        return ((v >> np.uint64(i)) & np.uint64(1)).astype(int)

    for complement in (False, True):
        send = pair_gates(c, r, trip, half, complement)
        f = ~(c ^ r) if complement else r
        for u in (0, 1):  # element k at the even bits, k + half at the odd bits
            idx = np.arange(half) + u * half
            ok = idx < m
            fe = f[idx[ok]]
            for j in range(32):
                np.testing.assert_array_equal(bit(send[0][ok], 2 * j + u), bit(fe, 2 * j + 1))
                np.testing.assert_array_equal(bit(send[1][ok], 2 * j + u), bit(fe, 2 * j))
    # products of the pairs, then the first prefix level
    send = pair_gates(c, r, trip, half, False)
    z = send[0] & send[1]
    pairs = lt_combine(z, c, r.copy(), True, half)
    for j in range(32):
        lo, hi = 2 * j, 2 * j + 1
        g = [bit(r, i) & (1 - bit(c, i)) if i < 63 else bit(r, 63) ^ bit(c, 63) for i in (lo, hi)]
        e = [1 - (bit(r, i) ^ bit(c, i)) if i < 63 else np.ones(m, int) for i in (lo, hi)]
        np.testing.assert_array_equal(bit(pairs, lo), g[1] ^ (e[1] & g[0]))
        np.testing.assert_array_equal(bit(pairs, hi), e[1] & e[0])


async def test_eq_full_ring_and_shapes() -> None:
    # eq is exact on any values of the signed 64-bit range, even when x - y wraps; 2-D and 0-d.
    from protocols.types import public

    vals = np.array([[0, 2**63], [2**64 - 1, 12345]], dtype=np.uint64)
    other = np.array([[0, 2**63], [0, 12346]], dtype=np.uint64)

    async def prog(ctx):  # type: ignore[no-untyped-def]
        a = public(vals, ctx.is_first)
        b = public(other, ctx.is_first)
        e2 = await eq(ctx, a, b)
        e0 = await lt(ctx, public(0, ctx.is_first), public(12346, ctx.is_first))
        return (await open_value(ctx, e2)), (await open_value(ctx, e0))

    runs = await run_memory(3, prog)
    np.testing.assert_array_equal(runs[0].result[0], [[1, 1], [0, 0]])
    assert runs[0].result[1].shape == () and int(runs[0].result[1]) == 1


ints = st.integers(INT_MIN, INT_MAX)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(ints, ints | st.just(0)), min_size=1, max_size=6), st.booleans())
async def test_lt_eq_property(pairs: list[tuple[int, int]], same: bool) -> None:
    x = np.array([p[0] for p in pairs], dtype=np.int64)
    y = x.copy() if same else np.array([p[1] for p in pairs], dtype=np.int64)
    m = x.size

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,), bounds=(INT_MIN, INT_MAX)
        )
        a = await lt(ctx, v[1], v[2])
        b = await eq(ctx, v[1], v[2])
        return (await open_value(ctx, a)), (await open_value(ctx, b))

    runs = await run_memory(3, prog, inputs=[{"x": x}, {"x": y}, {}])
    np.testing.assert_array_equal(runs[0].result[0], x < y)
    np.testing.assert_array_equal(runs[0].result[1], x == y)


async def test_large_requests_are_split(monkeypatch: pytest.MonkeyPatch, provider: str) -> None:
    """Material beyond REQUEST_WORDS comes in several requests, split components put back."""
    import protocols.compare as compare_mod

    monkeypatch.setattr(compare_mod, "REQUEST_WORDS", 256)
    m = 700
    plan = compare_mod.material_plan("lt", m)
    assert len(plan) > 2 and any(len(r) > 1 for r in plan)
    assert all(c.size % 64 == 0 for r in plan for c in r[:-1] if c.size > 256 // 2)
    rng = np.random.default_rng(11)
    x, y = rng.integers(-999, 999, size=m), rng.integers(-999, 999, size=m)
    y[::5] = x[::5]

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,), bounds=(-999, 999)
        )
        a, b = await lt(ctx, v[1], v[2]), await eq(ctx, v[1], v[2])
        return (await open_value(ctx, a)), (await open_value(ctx, b))

    runs = await run_memory(3, prog, inputs=[{"x": x}, {"x": y}, {}])
    np.testing.assert_array_equal(runs[0].result[0], x < y)
    np.testing.assert_array_equal(runs[0].result[1], x == y)
    if provider == "dealer":  # one dealer round trip per request
        assert runs[0].ledger.total("offline", prefix="main/lt#0").rounds == len(plan)
