"""Seeded dealer material: generate/expand and the relations it satisfies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.preprocessing import requests
from mpc_runtime.preprocessing.dealer import algebra as dealer
from mpc_runtime.preprocessing.requests import Component, Material
from mpc_runtime.sharing import additive
from mpc_runtime.sharing.prg import PRG

shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=7)


def _all_parties(components: list[Component], n: int) -> list[list[Material]]:
    seeds, corr = dealer.generate(components, n)
    assert len(seeds) == n and len(set(seeds)) == n and len(corr) == len(components)
    return [dealer.expand(components, seeds[i], i, corr if i == 0 else None) for i in range(n)]


def _check_relation(comp: Component, mats: list[Material]) -> None:
    def arith(name: str) -> np.ndarray:
        return additive.reconstruct([m[name] for m in mats])

    def xor(name: str) -> np.ndarray:
        return additive.reconstruct_xor([m[name] for m in mats])

    for m in mats:
        assert list(m) == [name for name, _ in requests.ARRAYS[comp.kind]]
        for arr in m.values():
            assert arr.shape == comp.shape
    if comp.kind == "triple":
        with np.errstate(over="ignore"):
            assert np.array_equal(arith("c"), np.multiply(arith("a"), arith("b")))
    elif comp.kind == "and":
        assert np.array_equal(xor("c"), xor("a") & xor("b"))
    elif comp.kind == "rbits":
        assert np.array_equal(arith("r"), xor("rb"))
    elif comp.kind == "bit":
        tb, t = xor("tb"), arith("t")
        assert tb.dtype == np.uint8 and np.all(tb <= 1)
        assert all(np.all(m["tb"] <= 1) for m in mats)
        assert np.array_equal(t, tb.astype(np.uint64))
    elif comp.kind == "trunc":
        assert comp.frac_bits is not None
        r = arith("r")
        low = r & np.uint64(2**63 - 1)
        assert np.array_equal(arith("r_hi"), low >> np.uint64(comp.frac_bits))
        assert np.array_equal(arith("r_msb"), r >> np.uint64(63))


components_st = st.lists(
    st.one_of(
        st.builds(Component, st.sampled_from(["triple", "and", "rbits", "bit"]), shapes),
        st.builds(Component, st.just("trunc"), shapes, st.integers(1, 62)),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(components_st, st.sampled_from([2, 3, 5]))
def test_relations_hold(components: list[Component], n: int) -> None:
    per_party = _all_parties(components, n)
    for k, comp in enumerate(components):
        _check_relation(comp, [per_party[i][k] for i in range(n)])


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("kind", ["triple", "and", "rbits", "bit"])
def test_each_kind(kind: str, n: int) -> None:
    comps = [Component(kind, (50, 3))]
    mats = _all_parties(comps, n)
    _check_relation(comps[0], [m[0] for m in mats])
    # Material is random, not constant.
    first = mats[0][0][requests.ARRAYS[kind][0][0]]
    assert len(np.unique(first)) > 1


def test_documented_prg_order() -> None:
    comps = [
        Component("triple", (4,)),
        Component("bit", (11,)),
        Component("rbits", (2, 2)),
        Component("trunc", (3,), frac_bits=16),
        Component("and", (5,)),
    ]
    seeds, corr = dealer.generate(comps, 3)
    # A non-zero party: every array, in table order.
    p = PRG(seeds[2])
    expect: list[dict[str, np.ndarray]] = [
        {"a": p.uint64(4), "b": p.uint64(4), "c": p.uint64(4)},
        {"tb": p.bits(11), "t": p.uint64(11)},
        {"rb": p.uint64((2, 2)), "r": p.uint64((2, 2))},
        {"r": p.uint64(3), "r_hi": p.uint64(3), "r_msb": p.uint64(3)},
        {"a": p.uint64(5), "b": p.uint64(5), "c": p.uint64(5)},
    ]
    got = dealer.expand(comps, seeds[2], 2, None)
    for g, e in zip(got, expect, strict=True):
        assert list(g) == list(e)
        assert all(np.array_equal(g[k], e[k]) for k in e)
    # Party 0: the dependent arrays are skipped in its stream and come from the corrections.
    p0 = PRG(seeds[0])
    got0 = dealer.expand(comps, seeds[0], 0, corr)
    assert np.array_equal(got0[0]["a"], p0.uint64(4))
    assert np.array_equal(got0[0]["b"], p0.uint64(4))
    assert np.array_equal(got0[0]["c"], corr[0]["c"])
    assert np.array_equal(got0[1]["tb"], p0.bits(11))
    assert np.array_equal(got0[2]["rb"], p0.uint64((2, 2)))
    assert np.array_equal(got0[3]["r"], p0.uint64(3))
    assert np.array_equal(got0[4]["a"], p0.uint64(5))
    assert got0[0]["c"] is not corr[0]["c"]  # a copy: the caller may drop the message


def test_non_zero_parties_get_only_seed_derived_arrays() -> None:
    comps = [Component("triple", (8,)), Component("bit", (8,))]
    seeds, _ = dealer.generate(comps, 3)
    a = dealer.expand(comps, seeds[1], 1, None)
    b = dealer.expand(comps, seeds[1], 1, None)
    for ma, mb in zip(a, b, strict=True):
        assert all(np.array_equal(ma[k], mb[k]) for k in ma)
    # The same seed at another index yields the same stream (the index only matters for 0).
    c = dealer.expand(comps, seeds[1], 4, None)
    assert np.array_equal(a[0]["c"], c[0]["c"])


def test_corrections_shape() -> None:
    comps = [Component(k, (3,)) for k in ("triple", "and", "rbits", "bit")]
    comps.append(Component("trunc", (3,), frac_bits=8))
    _, corr = dealer.generate(comps, 2)
    assert [list(c) for c in corr] == [["c"], ["c"], ["r"], ["t"], ["r_hi", "r_msb"]]
    assert all(next(iter(c.values())).dtype == np.uint64 for c in corr)


def test_expand_misuse() -> None:
    comps = [Component("triple", (3,))]
    seeds, corr = dealer.generate(comps, 2)
    with pytest.raises(LocalProtocolError):
        dealer.expand(comps, seeds[0], 0, None)
    with pytest.raises(LocalProtocolError):
        dealer.expand(comps, seeds[1], 1, corr)
    with pytest.raises(LocalProtocolError):
        dealer.expand(comps, seeds[1], -1, None)
    with pytest.raises(LocalProtocolError):
        dealer.expand(comps, b"short", 1, None)
    with pytest.raises(RemoteProtocolError):
        dealer.expand(comps, seeds[0], 0, [])
    with pytest.raises(RemoteProtocolError):
        dealer.expand(comps, seeds[0], 0, [{"c": np.zeros(4, dtype=np.uint64)}])  # wrong size
    with pytest.raises(RemoteProtocolError):
        dealer.expand(comps, seeds[0], 0, [{"c": np.zeros(3, dtype=np.int64)}])
    with pytest.raises(RemoteProtocolError):
        dealer.expand(comps, seeds[0], 0, [{"a": np.zeros(3, dtype=np.uint64)}])


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("nope", (3,)), {}),
        (("triple", (-1,)), {}),
        (("triple", (3,)), {"frac_bits": 4}),
        (("trunc", (3,)), {}),
        (("trunc", (3,)), {"frac_bits": 64}),
    ],
)
def test_bad_components(args: tuple[str, tuple[int, ...]], kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        Component(*args, **kwargs)


def test_component_normalizes_shape() -> None:
    assert Component("triple", 5).shape == (5,)  # type: ignore[arg-type]
    assert Component("triple", [2, 3]).shape == (2, 3)  # type: ignore[arg-type]
    assert Component("triple", (2, 3)).size == 6
    with pytest.raises(LocalProtocolError):
        dealer.generate(comps := [Component("triple", (1,))], 1)
    with pytest.raises(LocalProtocolError):
        dealer.generate(["triple"], 2)  # type: ignore[list-item]
    assert comps


def test_material_nbytes() -> None:
    comps = [Component("triple", (1000,)), Component("bit", (10,))]
    got = dealer.material_nbytes(comps, 3)
    assert got == {
        "seed_bytes": 16,
        "party0_correction_bytes": 8000 + 80,
        "party0_bytes": 16 + 8080,
        "other_party_bytes": 16,
        "total_bytes": 48 + 8080,
        "expanded_bytes_per_party": 24000 + 10 + 80,
    }
    seeds, corr = dealer.generate(comps, 3)
    assert sum(a.nbytes for c in corr for a in c.values()) == got["party0_correction_bytes"]
    mats = dealer.expand(comps, seeds[1], 1, None)
    assert sum(a.nbytes for m in mats for a in m.values()) == got["expanded_bytes_per_party"]
