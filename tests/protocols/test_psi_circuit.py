"""Circuit PSI against Python sets and numpy: random and adversarial sets, n in {2, 3},
payload sums, the revealed intersection, the merge plan, and exact rounds and bytes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value
from protocols.psi import jobs
from protocols.psi.circuit import circuit_psi
from protocols.psi.costs import circuit_cost, reveal_cost
from protocols.psi.hashing import hash_identifiers, offsets, prepare_set
from protocols.psi.merge import plan
from tests.protocols.helpers import cost

SALT = "test-salt"
ALL = ["cardinality", "payload_sum", "intersection"]


def _expected(sets: list[list[Any]], pays: dict[int, list[int]]) -> tuple[int, int, list[int]]:
    common = set.intersection(*(set(s) for s in sets))
    total = 0
    for p, w in pays.items():
        per: dict[Any, int] = {}
        for x, v in zip(sets[p - 1], w, strict=True):
            per[x] = per.get(x, 0) + v  # repeated identifiers add their payloads
        total += sum(per[x] for x in common)
    keys = sorted(int(k) + 1 for k in hash_identifiers(sorted(common, key=str), SALT))
    return len(common), total, keys


async def _run(
    sets: list[list[Any]],
    sizes: list[int],
    pays: dict[int, list[int]],
    want: list[str],
) -> list[Any]:
    n = len(sets)
    szs = {p: sizes[p - 1] for p in range(1, n + 1)}
    offs = offsets(szs)
    bounds = {p: (0, 1000) for p in pays}

    async def prog(ctx: Any) -> tuple[int, int, list[int]]:
        p = ctx.party_id
        mine = prepare_set(
            sets[p - 1],
            salt=SALT,
            size=szs[p],
            offset=offs[p],
            payloads=pays.get(p),
            payload_bounds=bounds.get(p),
        )
        res = await circuit_psi(ctx, mine, sizes=szs, payloads=bounds, want=want)
        card = int(await open_value(ctx, res.cardinality))
        total = int(await open_value(ctx, res.payload_sum)) if res.payload_sum else 0
        inter: list[int] = []
        if res.intersection is not None:
            opened = (await open_value(ctx, res.intersection)).view(np.int64)
            assert opened.shape == (min(sizes),)
            k = int(np.count_nonzero(opened))
            assert not opened[k:].any(), "common keys first, then zeros"
            inter = opened[:k].tolist()
        return card, total, inter

    runs = await run_memory(n, prog)
    return [r.result for r in runs]


CASES: dict[str, list[list[Any]]] = {
    "empty": [[], ["a", "b"]],
    "disjoint": [["a", "b", "c"], ["d", "e"]],
    "identical": [["a", "b", "c", "d"], ["d", "c", "b", "a"]],
    "duplicates": [["a", "a", "b", "b", "c"], ["b", "c", "c", "z"]],
    "one": [["only"], ["x", "only", "y"]],
    "both_empty": [[], []],
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_adversarial_sets_two_parties(case: str) -> None:
    sets = CASES[case]
    sizes = [max(1, len(set(s))) + 1 for s in sets]
    pays = {2: [ord(str(x)[0]) for x in sets[1]]}
    got = await _run(sets, sizes, pays, ALL)
    want = _expected(sets, pays)
    for r in got:
        assert r == want


@pytest.mark.parametrize("case", ["empty", "disjoint", "identical", "duplicates", "one"])
async def test_adversarial_sets_three_parties(case: str) -> None:
    a, b = CASES[case]
    sets = [a, b, sorted(set(a) | set(b))[:3] + ["w"]]
    sizes = [len(set(s)) + 1 for s in sets]
    pays = {1: [3] * len(a), 3: list(range(len(sets[2])))}
    got = await _run(sets, sizes, pays, ALL)
    assert got[0] == got[1] == got[2] == _expected(sets, pays)


@pytest.mark.parametrize("n", [2, 3])
async def test_random_sets_against_python_and_numpy(n: int) -> None:
    rng = np.random.default_rng(10 + n)
    universe = 60
    sets = [rng.integers(0, universe, size=int(rng.integers(10, 30))).tolist() for _ in range(n)]
    sizes = [len(set(s)) + int(rng.integers(0, 4)) for s in sets]
    pays = {p: rng.integers(0, 50, size=len(sets[p - 1])).tolist() for p in range(1, n + 1)}
    got = await _run(sets, sizes, pays, ALL)
    card, total, keys = _expected(sets, pays)
    common = sorted(set.intersection(*(set(s) for s in sets)))
    # the payload sum by numpy: per party, payloads of the common identifiers
    ref = sum(
        int(np.sum(np.asarray(pays[p])[np.isin(sets[p - 1], common)])) for p in range(1, n + 1)
    )
    assert total == ref
    for r in got:
        assert r == (card, total, keys)


async def test_cardinality_only_skips_the_rest() -> None:
    got = await _run([["a", "b", "c"], ["b", "c", "d"]], [4, 5], {}, ["cardinality"])
    assert got[0] == (2, 0, [])


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("want", [["cardinality"], ALL, ["cardinality", "intersection"]])
async def test_rounds_and_bytes_match_the_formula(n: int, want: list[str]) -> None:
    sizes = {p: 5 + 3 * p for p in range(1, n + 1)}
    sets = [[f"x{i}" for i in range(p, p + 6)] for p in range(1, n + 1)]
    pays = {n: (0, 100)}
    decls = [InputDecl(p, "ids", "int", (sizes[p],), 0, -1, 2**62 - 1) for p in sizes]
    decls.append(InputDecl(n, "payload", "int", (sizes[n],), 0, *pays[n]))
    outs = {w: [f"party:{p}" for p in range(1, n + 1)] for w in want}
    runs = await run_memory(
        n,
        jobs.circuit_psi_job,
        inputs=[
            {"ids": sets[p - 1], **({"payload": [1] * 6} if p == n else {})}
            for p in range(1, n + 1)
        ],
        params={"salt": SALT, "outputs": want},
        outputs=outs,
        declared=decls,
    )
    for r in runs:
        c = circuit_cost(sizes, n, r.party, want=want, payloads=pays)
        for w in want:
            size = min(sizes.values()) if w == "intersection" else 1
            rc = reveal_cost(size, range(1, n + 1), r.party)
            c.add(rc.rounds, rc.bytes_sent)
        got = cost(r, "main")
        assert (got.rounds, got.payload_bytes_sent) == (c.rounds, c.bytes_sent)
    assert int(runs[0].outputs["cardinality"]) == (5 if n == 2 else 4)


def _simulate(sizes: list[int], values: list[np.ndarray]) -> np.ndarray:
    """Run the public merge plan on plaintext (infinities as in the protocol)."""
    tree = plan(sizes)
    segs = [v.copy() for v in values]
    for level in tree.levels:
        buf = np.zeros(level.width, dtype=np.int64)
        for k, m in enumerate(level.merges):
            buf[m.base : m.base + m.a] = segs[2 * k]
            m.put_b(buf, segs[2 * k + 1])
        for layer in level.layers:
            lo, hi = buf[layer.lo], buf[layer.hi]
            s = hi < lo
            buf[layer.lo] = np.where(s, hi, lo)
            buf[layer.hi] = np.where(s, lo, hi)
            buf[layer.pub_lo], buf[layer.pub_hi] = buf[layer.pub_hi], buf[layer.pub_lo]
        out = [buf[m.base : m.base + m.a + m.b] for m in level.merges]
        segs = out + ([segs[-1]] if level.passthrough else [])
    return segs[0]


@pytest.mark.dealer_only  # plaintext only
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=20), min_size=2, max_size=5))
def test_the_merge_plan_merges_any_sorted_lists(lists: list[list[int]]) -> None:
    values = [np.sort(np.asarray(v, dtype=np.int64)) for v in lists]
    merged = _simulate([len(v) for v in lists], values)
    assert np.array_equal(merged, np.sort(np.concatenate(values)))
