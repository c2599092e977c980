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
        for name, layout in requests.ARRAYS[comp.kind]:
            dtype, shape = requests.array_shape(layout, comp.shape)
            assert m[name].dtype == dtype and m[name].shape == shape
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
    elif comp.kind == "pbit":
        bits = np.unpackbits(xor("tb").view(np.uint8), count=comp.size, bitorder="little")
        assert np.array_equal(arith("t").reshape(-1), bits.astype(np.uint64))
    elif comp.kind in TABLE_KINDS:
        _check_tables(comp.kind, [m for m in mats])
    elif comp.kind in ("dcf", "dpf"):
        _check_fss(comp.kind, mats)
    elif comp.kind == "trunc":
        assert comp.frac_bits is not None
        r = arith("r")
        low = r & np.uint64(2**63 - 1)
        assert np.array_equal(arith("r_hi"), low >> np.uint64(comp.frac_bits))
        assert np.array_equal(arith("r_msb"), r >> np.uint64(63))


TABLE_KINDS = ("ltt", "eqt")


def _table_entries(words: np.ndarray, width: int) -> np.ndarray:
    """(m, K) words -> (m, 64 K / width) entries of ``width`` bits, least significant first."""
    m = words.shape[0]
    per = 64 // width
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(width))[None, None, :]
    ent = (words.reshape(m, -1, 1) >> shifts) & np.uint64((1 << width) - 1)
    return ent.reshape(m, -1).astype(np.int64)


def _outcome(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a < b, 0, np.where(a == b, 1, 2))


def _check_tables(kind: str, mats: list[Material]) -> None:
    """Decode the tables from the reconstructed values and follow the protocol in the clear:
    for random public c, the chain of lookups gives MSB(c - r) (ltt) or [c == r] (eqt), and
    every opened intermediate is a valid code."""
    r = additive.reconstruct([m["r"] for m in mats]).reshape(-1)
    tb = additive.reconstruct([m["t"] for m in mats]).reshape(-1)
    assert np.all(tb <= 1)
    m = r.size
    if m == 0:
        return
    rng = np.random.default_rng(7)
    for trial in range(4):
        c = rng.integers(0, 2**64, size=m, dtype=np.uint64, endpoint=False)
        if trial == 1:
            c = r.copy()  # equal (eq) and the all-equal path (lt)
        elif trial == 2:
            c = r ^ np.uint64(1 << 63)  # equal low bits, different top bit
        rows = np.arange(m)
        if kind == "ltt":
            t1 = _table_entries(additive.reconstruct_xor([x["t1"] for x in mats]).reshape(m, -1), 2)
            t2 = _table_entries(additive.reconstruct_xor([x["t2"] for x in mats]).reshape(m, -1), 2)
            t3 = _table_entries(additive.reconstruct_xor([x["t3"] for x in mats]).reshape(m, -1), 1)
            blocks = [(c >> np.uint64(4 * j)) & np.uint64(15 if j < 15 else 7) for j in range(16)]
            o1 = np.stack([t1[rows, 16 * j + blocks[j].astype(np.int64)] for j in range(16)], 1)
            assert o1.max() <= 2
            w2 = [sum(o1[:, 4 * g + i] * 3**i for i in range(4)) for g in range(4)]
            o2 = np.stack([t2[rows, 96 * g + w2[g]] for g in range(4)], 1)
            assert o2.max() <= 2
            u = t3[rows, sum(o2[:, g] * 3**g for g in range(4))] ^ (c >> np.uint64(63)).astype(int)
            want = ((c - r) >> np.uint64(63)).astype(int)
        else:
            e1 = _table_entries(additive.reconstruct_xor([x["e1"] for x in mats]).reshape(m, -1), 1)
            e2 = additive.reconstruct_xor([x["e2"] for x in mats]).reshape(m, 2)
            nib = [(c >> np.uint64(4 * j)) & np.uint64(15) for j in range(16)]
            b1 = np.stack([e1[rows, 16 * j + nib[j].astype(np.int64)] for j in range(16)], 1)
            w2 = [sum(b1[:, 4 * g + i] << i for i in range(4)) for g in range(4)]
            b2 = np.stack(
                [(e2[:, 0] >> (w2[g] + 16 * g).astype(np.uint64)) & np.uint64(1) for g in range(4)],
                1,
            ).astype(int)
            w3 = np.sum([b2[:, g] << g for g in range(4)], axis=0).astype(np.uint64)
            u = ((e2[:, 1] >> w3) & np.uint64(1)).astype(int)
            want = (c == r).astype(int)
        np.testing.assert_array_equal(u ^ tb.astype(int), want)


def _check_fss(kind: str, mats: list[Material]) -> None:
    r = additive.reconstruct([m["r"] for m in mats]).reshape(-1)
    for name, _ in requests.ARRAYS[kind]:
        if requests.SHARING[kind][name] == "public":
            assert np.array_equal(mats[0][name], mats[1][name])
    rng = np.random.default_rng(3)
    low = r & np.uint64(2**63 - 1)
    lead = {name: layout.startswith("[") for name, layout in requests.ARRAYS[kind]}
    flat = [
        {k: (v.reshape(v.shape[0], -1) if lead[k] else v.reshape(-1)) for k, v in m.items()}
        for m in mats
    ]
    for point in (rng.integers(0, 2**63, size=r.size, dtype=np.uint64), low, low - np.uint64(1), r):
        if kind == "dcf":
            x = point & np.uint64(2**63 - 1)
            y = requests.dcf_eval(0, x, flat[0]) + requests.dcf_eval(1, x, flat[1])
            beta = np.uint64(1) - ((r >> np.uint64(63)) << np.uint64(1))
            want = np.where(x < low, beta, np.uint64(0))
            assert np.array_equal(
                additive.reconstruct([m["w"] for m in mats]).reshape(-1), r >> np.uint64(63)
            )
        else:
            x = point
            y = requests.dpf_eval(0, x, flat[0]) + requests.dpf_eval(1, x, flat[1])
            want = (x == r).astype(np.uint64)
        assert np.array_equal(y, want)


components_st = st.lists(
    st.one_of(
        st.builds(
            Component,
            st.sampled_from(["triple", "and", "rbits", "bit", "pbit", "ltt", "eqt"]),
            shapes,
        ),
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


@pytest.mark.parametrize("kind", ["dcf", "dpf"])
def test_fss_keys(kind: str) -> None:
    comps = [Component(kind, (70,)), Component(kind, (2, 3)), Component(kind, ())]
    mats = _all_parties(comps, 2)
    for k, comp in enumerate(comps):
        _check_relation(comp, [m[k] for m in mats])
    with pytest.raises(LocalProtocolError, match="2 parties"):
        dealer.generate(comps, 3)
    seeds, _ = dealer.generate(comps, 2)
    assert len(seeds[0]) == len(seeds[1]) == 16 + dealer.material_nbytes(comps, 2)["public_bytes"]


def test_fss_public_part_checked() -> None:
    comps = [Component("dpf", (4,))]
    seeds, corr = dealer.generate(comps, 2)
    with pytest.raises(RemoteProtocolError, match="public"):
        dealer.expand(comps, seeds[1][:-8], 1, None)
    assert corr == [{}]


def test_tables_mask_their_codes() -> None:
    """The codes a party opens are uniform: the first-stage outcome of block 0 for c = 0 over
    many elements (r uniform) hits 0, 1, 2 about equally often."""
    from scipy import stats

    comps = [Component("ltt", (3000,))]
    mats = _all_parties(comps, 3)
    t1 = additive.reconstruct_xor([m[0]["t1"] for m in mats])
    code = (t1[:, 0] & np.uint64(3)).astype(int)  # block 0, c-digit 0
    counts = np.bincount(code, minlength=4)
    assert counts[3] == 0
    assert stats.chisquare(counts[:3]).pvalue > 1e-6


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("kind", ["triple", "and", "rbits", "bit", "pbit", "ltt", "eqt"])
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
    want_c = corr[0]["c"].copy()
    received_c = corr[0]["c"]  # what the frame decoded to
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
    assert np.array_equal(got0[0]["c"], want_c)
    assert np.array_equal(got0[0]["a"], p0.uint64(4))
    assert np.array_equal(got0[0]["b"], p0.uint64(4))
    assert np.array_equal(got0[1]["tb"], p0.bits(11))
    assert np.array_equal(got0[2]["rb"], p0.uint64((2, 2)))
    assert np.array_equal(got0[3]["r"], p0.uint64(3))
    assert np.array_equal(got0[4]["a"], p0.uint64(5))
    # Taken as they are (no second copy of the corrections next to the received frame) and
    # consumed: the caller's dict holds a placeholder of the same size, so sizes stay countable.
    assert np.shares_memory(got0[0]["c"], received_c)
    assert not corr[0]["c"].any() and corr[0]["c"].shape == (4,) and corr[0]["c"].nbytes == 32
    assert not np.shares_memory(corr[0]["c"], received_c)


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
    comps = [Component(k, (3,)) for k in ("triple", "and", "rbits", "bit", "pbit", "ltt", "eqt")]
    comps.append(Component("trunc", (3,), frac_bits=8))
    _, corr = dealer.generate(comps, 2)
    assert [list(c) for c in corr] == [
        ["c"],
        ["c"],
        ["r"],
        ["t"],
        ["t"],
        ["t1", "t2", "t3", "t"],
        ["e1", "e2", "t"],
        ["r_hi", "r_msb"],
    ]
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
        "public_bytes": 0,
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


@pytest.mark.parametrize(
    ("kind", "per_element", "corrections", "public"),
    [
        ("pbit", None, 8, 0),
        ("ltt", 192, 184, 0),
        ("eqt", 64, 56, 0),
        ("dcf", 1568, 8, 1536),
        ("dpf", 1072, 0, 1048),
    ],
)
def test_material_nbytes_new_kinds(
    kind: str, per_element: int | None, corrections: int, public: int
) -> None:
    m = 128
    comps = [Component(kind, (m,))]
    got = dealer.material_nbytes(comps, 2)
    assert got["party0_correction_bytes"] == corrections * m
    assert got["public_bytes"] == public * m
    if per_element is not None:
        assert got["expanded_bytes_per_party"] == per_element * m
    seeds, corr = dealer.generate(comps, 2)
    assert sum(a.nbytes for c in corr for a in c.values()) == got["party0_correction_bytes"]
    assert len(seeds[1]) == got["other_party_bytes"]
    dealer.expand(comps, seeds[0], 0, corr)
    assert dealer.correction_nbytes(corr) == got["party0_correction_bytes"]  # still countable
    mats = dealer.expand(comps, seeds[1], 1, None)
    assert sum(a.nbytes for m_ in mats for a in m_.values()) == got["expanded_bytes_per_party"]
