"""The constant-round (truth tables) and FSS comparisons against numpy: results, exact rounds and
bytes, selection by job parameter, the errors when a variant cannot serve a job, and the bench
ops that time them (their material plans must match what the protocols ask for)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import UsageError
from mpc_runtime.runtime.memory import run_memory
from mpc_runtime.sharing.ring import INT_MAX, INT_MIN
from protocols import bench
from protocols.compare import (
    eq,
    eq_payload_bytes,
    ge,
    gt,
    le,
    lt,
    lt_payload_bytes,
    material_plan,
    rounds,
)
from protocols.io import open_value, share_inputs
from tests.protocols.helpers import cost

CASES = [("constant", 2), ("constant", 3), ("constant", 5), ("fss", 2)]


def _data(seed: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(INT_MIN, INT_MAX, size=m, endpoint=True)
    y = rng.integers(INT_MIN, INT_MAX, size=m, endpoint=True)
    y[::4] = x[::4]  # equal pairs
    y[1::9] = x[1::9] + 1  # neighbours (differ in the low block only)
    y[2::9] = x[2::9] - 1
    y[3::11] = x[3::11] ^ (1 << 40)  # differ in one high block
    edges = [(INT_MIN, INT_MAX), (INT_MAX, INT_MIN), (INT_MIN, INT_MIN), (0, -1), (-1, 0)]
    for k, (a, b) in enumerate(edges[:m]):
        x[k], y[k] = a, b
    return x.astype(np.int64), y.astype(np.int64)


async def _run(n: int, variant: str | None, x: np.ndarray, y: np.ndarray, **kw: Any) -> Any:
    m = x.size

    async def prog(ctx):  # type: ignore[no-untyped-def]
        v = await share_inputs(
            ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,), bounds=(INT_MIN, INT_MAX)
        )
        a, b = v[1], v[2]
        outs = [await f(ctx, a, b, variant=variant) for f in (lt, eq, gt, le, ge)]
        return [(await open_value(ctx, o)).view(np.int64) for o in outs]

    return await run_memory(n, prog, inputs=[{"x": x}, {"x": y}] + [{}] * (n - 2), **kw)


@pytest.mark.parametrize(("variant", "n"), CASES)
async def test_variants_match_numpy(variant: str, n: int, provider: str) -> None:
    x, y = _data(n, 300)
    m = x.size
    if provider == "ot":  # dealer-only material: the OT provider refuses it in one clear line
        runs = await _run(n, variant, x, y, return_exceptions=True)
        for r in runs:
            assert isinstance(r.error, UsageError)
            assert "dealer-only" in str(r.error) and "\n" not in str(r.error)
        return
    runs = await _run(n, variant, x, y)
    for r in runs:
        got_lt, got_eq, got_gt, got_le, got_ge = r.result
        np.testing.assert_array_equal(got_lt, x < y)
        np.testing.assert_array_equal(got_eq, x == y)
        np.testing.assert_array_equal(got_gt, x > y)
        np.testing.assert_array_equal(got_le, x <= y)
        np.testing.assert_array_equal(got_ge, x >= y)
        for op in ("lt#0", "eq#0", "gt#0", "le#0", "ge#0"):
            assert cost(r, f"main/{op}").rounds == rounds(variant)
        assert cost(r, "main/lt#0").payload_bytes_sent == lt_payload_bytes(m, n, variant)
        assert cost(r, "main/eq#0").payload_bytes_sent == eq_payload_bytes(m, n, variant)
        # all material before the first round: one dealer request (fss: one per key chunk)
        assert r.ledger.total("offline", prefix="main/lt#0").rounds == len(
            material_plan("lt", m, variant)
        )


def test_rounds_and_bytes() -> None:
    assert rounds() == 8 and rounds("tree") == 8
    assert rounds("constant") == 4 and rounds("fss") == 1
    m = 8000
    assert lt_payload_bytes(m, 3, "constant") == 2 * (13 * m + m // 8)
    assert eq_payload_bytes(m, 3, "constant") == 2 * (10 * m + m // 2 + m // 8)
    assert lt_payload_bytes(m, 2, "fss") == eq_payload_bytes(m, 2, "fss") == 8 * m


@pytest.mark.dealer_only
async def test_params_select_the_variant() -> None:
    x, y = _data(1, 40)
    for name, want in (("constant", 4), ("tree", 8)):
        runs = await _run(3, None, x, y, params={"comparison": name})
        assert cost(runs[0], "main/lt#0").rounds == want
        np.testing.assert_array_equal(runs[0].result[0], x < y)


@pytest.mark.dealer_only
async def test_fss_refuses_more_than_two_parties() -> None:
    x, y = _data(2, 10)
    runs = await _run(3, None, x, y, params={"comparison": "fss"}, return_exceptions=True)
    for r in runs:
        assert isinstance(r.error, UsageError) and "exactly 2 parties" in str(r.error)
        assert cost(r, "main/lt#0").rounds == 0  # refused before any round
        assert r.ledger.total("offline").rounds == 0


@pytest.mark.dealer_only
async def test_unknown_variant() -> None:
    x, y = _data(3, 4)
    runs = await _run(2, None, x, y, params={"comparison": "fast"}, return_exceptions=True)
    assert all(isinstance(r.error, UsageError) for r in runs)


@pytest.mark.dealer_only
@pytest.mark.parametrize(("variant", "n"), [("constant", 3), ("fss", 2)])
async def test_shapes_and_full_ring_eq(variant: str, n: int) -> None:
    from protocols.types import public

    vals = np.array([[0, 2**63], [2**64 - 1, 12345]], dtype=np.uint64)
    other = np.array([[0, 2**63], [0, 12346]], dtype=np.uint64)

    async def prog(ctx):  # type: ignore[no-untyped-def]
        e2 = await eq(ctx, public(vals, ctx.is_first), public(other, ctx.is_first), variant=variant)
        e0 = await lt(ctx, public(0, ctx.is_first), public(12346, ctx.is_first), variant=variant)
        return (await open_value(ctx, e2)), (await open_value(ctx, e0))

    runs = await run_memory(n, prog)
    np.testing.assert_array_equal(runs[0].result[0], [[1, 1], [0, 0]])
    assert runs[0].result[1].shape == () and int(runs[0].result[1]) == 1


@pytest.mark.dealer_only
@pytest.mark.parametrize(
    ("op", "n"),
    [("lt", 3), ("eq", 3), ("lt-constant", 3), ("eq-constant", 5), ("lt-fss", 2), ("eq-fss", 2)],
)
async def test_bench_ops(op: str, n: int) -> None:
    """The bench job runs each comparison op on its prefetched plan and verifies the result."""
    size = 150
    runs = await run_memory(
        n,
        bench.bench_job,
        params={"op": op, "size": size, "repeat": 2, "seed": 4},
        outputs={"checksum": ["party:1"]},
    )
    reports = [r.outputs["bench"] for r in runs]
    assert reports[0]["verified"] is True
    for rep in reports:
        assert rep["online"]["rounds"] == bench.expected_rounds(op, size)  # the last repetition


def test_bench_plans() -> None:
    assert bench.expected_rounds("lt-fss", 10) == 1
    assert bench.expected_rounds("eq-constant", 10) == 4
    assert bench.material_plan("lt-fss", 10) == material_plan("lt", 10, "fss")


@pytest.mark.dealer_only
@pytest.mark.parametrize(("variant", "n"), [("constant", 3), ("fss", 2)])
async def test_material_in_several_requests(
    monkeypatch: pytest.MonkeyPatch, variant: str, n: int
) -> None:
    from protocols import compare_const, compare_fss

    monkeypatch.setattr(compare_const, "REQUEST_ELEMENTS", 64)
    monkeypatch.setattr(compare_fss, "KEY_CHUNK", 64)
    x, y = _data(5, 150)
    assert len(material_plan("lt", x.size, variant)) == 3
    runs = await _run(n, variant, x, y)
    np.testing.assert_array_equal(runs[0].result[0], x < y)
    np.testing.assert_array_equal(runs[0].result[1], x == y)
    assert runs[0].ledger.total("offline", prefix="main/lt#0").rounds == 3
