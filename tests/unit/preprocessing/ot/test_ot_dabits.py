"""daBits, edaBits and exact-truncation pairs: defining relations and uniformity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.preprocessing.ot import Exchanger, OTEngine
from mpc_runtime.preprocessing.ot.bitmatrix import PackPlan
from mpc_runtime.preprocessing.ot.dabits import EDABIT_PLAN, trunc_plan

from ._ot_support import P_REJECT, add, bit_p, byte_p, run_engine, xor

U = np.uint64


@pytest.mark.parametrize("n", [2, 3, 5])
async def test_dabits(n: int) -> None:
    m = 20_000 if n < 5 else 3000

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        return await engine.dabits(ex, m)

    res = await run_engine(n, call)
    for tb, t in res:
        assert tb.dtype == np.uint8 and tb.shape == (m,) and set(np.unique(tb)) <= {0, 1}
        assert t.dtype == np.uint64 and t.shape == (m,)
    bits = xor([r[0] for r in res])
    assert np.array_equal(bits.astype(U), add([r[1] for r in res]))
    ones = int(bits.sum())  # a fair coin: |ones - m/2| within 5 sigma
    assert abs(ones - m / 2) < 5 * (m / 4) ** 0.5
    assert byte_p(res[-1][1]) > P_REJECT  # one party's additive shares look uniform


@pytest.mark.parametrize("n", [2, 3])
async def test_edabits(n: int) -> None:
    m = 20_000

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        return await engine.edabits(ex, m)

    res = await run_engine(n, call, chunk_ots=64 * 64 * 50)  # several chunks
    rb = xor([r[0] for r in res])
    r = add([r[1] for r in res])
    assert np.array_equal(rb, r)
    assert byte_p(r) > P_REJECT and bit_p(r) > P_REJECT
    assert byte_p(res[0][0]) > P_REJECT and byte_p(res[0][1]) > P_REJECT


@pytest.mark.parametrize(("n", "f"), [(2, 16), (3, 20), (2, 0), (2, 62)])
async def test_trunc_pairs_relations(n: int, f: int) -> None:
    m = 20_000 if f in (16, 20) else 2000

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        return await engine.trunc_pairs(ex, m, f)

    res = await run_engine(n, call)
    r, hi, msb = (add([x[i] for x in res]) for i in range(3))
    assert np.array_equal(hi, (r & U(2**63 - 1)) >> U(f))
    assert np.array_equal(msb, r >> U(63))
    if m >= 20_000:
        assert byte_p(r) > P_REJECT and bit_p(r) > P_REJECT


def _online_truncate(shares: list[tuple[np.ndarray, ...]], x: np.ndarray, f: int) -> np.ndarray:
    """The exact-truncation online phase, on shares (party 0 adds the public terms)."""
    r = add([s[0] for s in shares])
    c = (x.astype(U) + U(2**62) + r).astype(U)  # the opened value (computed in the clear here)
    c63 = c >> U(63)
    out = []
    for i, (_, r_hi, r_msb) in enumerate(shares):
        b_share = r_msb * (U(1) - U(2) * c63)  # [b] = c63 + (1 - 2 c63)[r_msb]
        part = b_share * U(2 ** (63 - f)) - r_hi
        if i == 0:
            part = part + ((c & U(2**63 - 1)) >> U(f)) + c63 * U(2 ** (63 - f)) - U(2 ** (62 - f))
        out.append(part)
    return add(out).view(np.int64)


async def test_trunc_pairs_give_exact_truncation() -> None:
    f, m = 16, 4000
    rng = np.random.default_rng(7)
    x = rng.integers(-(2**62) + 1, 2**62, size=m, dtype=np.int64)
    x[:4] = [2**62 - 1, -(2**62) + 1, 0, -1]

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        return await engine.trunc_pairs(ex, m, f)

    res = await run_engine(3, call)
    got = _online_truncate(res, x, f)
    diff = got - (x >> f)  # arithmetic shift = floor division by 2^f
    assert set(np.unique(diff)) <= {0, 1}  # exact up to the last bit, at every value


def test_statistics_reject_wrong_material() -> None:
    """The thresholds above catch plausible mistakes (so passing them means something)."""
    rng = np.random.default_rng(3)
    good = rng.integers(0, 2**64, size=20_000, dtype=np.uint64)
    assert byte_p(good) > P_REJECT and bit_p(good) > P_REJECT
    assert bit_p(good & U(2**63 - 1)) < P_REJECT  # top bit never set (a 63-bit r)
    biased = np.packbits(rng.random((20_000, 64)) < 0.47, axis=1, bitorder="little")
    assert bit_p(biased.view("<u8").astype(U)) < P_REJECT  # bits with P(1) = 0.47
    # corrections packed with zero padding (fields of the triple plan, no widening)
    plan = PackPlan(tuple(64 - k for k in range(64)))
    vals = rng.integers(0, 2**64, size=(2000, 64), dtype=np.uint64)
    masks = np.array([(1 << (64 - k)) - 1 for k in range(64)], dtype=np.uint64)
    masks[0] = U(2**64 - 1)
    padded = plan.pack(vals & masks)
    assert byte_p(padded) < P_REJECT
    assert byte_p(plan.pack(vals)) > P_REJECT


async def test_ledger_matches_the_cost_formulas() -> None:
    """Payload bytes each party sends and rounds, per kind, against the documented formulas."""
    n, m, words, f = 3, 1000, 40, 16

    async def call(engine: OTEngine, ex: Any) -> Any:
        await engine.setup(ex)
        out = {}
        for kind in ("and", "dabits", "edabits", "trunc"):
            sub = ex.scope(kind)
            if kind == "and":
                await engine.and_triples(sub, words)
            elif kind == "dabits":
                await engine.dabits(sub, m)
            elif kind == "edabits":
                await engine.edabits(sub, m)
            else:
                await engine.trunc_pairs(sub, m, f)
            out[kind] = ex.ledger.total(prefix=str(sub.path))
        return out

    res = await run_engine(n, call)
    rows = -(-m // 64)
    for idx, counts in enumerate(res):
        lower, higher = idx, n - 1 - idx  # fold: u to lower parties, corrections to higher
        expect = {
            "and": (n - 1) * words * 64 * 16 + (n - 2) * words * 8,
            "dabits": lower * rows * 64 * 16 + higher * rows * 64 * 8,
            "edabits": lower * m * 1024 + higher * m * EDABIT_PLAN.words * 8,
            "trunc": lower * m * 1024 + higher * m * trunc_plan(f).words * 8,
        }
        for kind, value in expect.items():
            assert counts[kind].payload_bytes_sent == value, kind
        assert counts["and"].rounds == 2  # u, corrections (n >= 3)
        assert all(counts[k].rounds == n for k in ("dabits", "edabits", "trunc"))
