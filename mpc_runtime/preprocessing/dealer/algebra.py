"""Seeded preprocessing material from a dealer (CrypTen-style seed compression).

The dealer draws one fresh 16-byte seed per party.  Parties ``1 .. n-1`` receive only their
seed; party ``0`` receives its seed plus one *correction* array for each dependent array of the
request.  Every party expands its seed with :func:`expand`; the dealer, knowing all seeds,
computed party 0's corrections so that the shares reconstruct to the material of
:mod:`mpc_runtime.preprocessing.requests`.

Dependent arrays (party 0 takes them from its corrections instead of its seed): ``triple.c``,
``and.c``, ``rbits.r``, ``bit.t``, ``pbit.t``, ``trunc.r_hi`` and ``trunc.r_msb``, ``ltt.t1``,
``ltt.t2``, ``ltt.t3``, ``ltt.t``, ``eqt.e1``, ``eqt.e2``, ``eqt.t`` and ``dcf.w`` (``dpf`` has
none: its mask ``r`` is the sum of the drawn shares, its correction words are public).  A
correction is the true value minus (for XOR-shared arrays: xor) the other parties' seed-derived
shares.

Public arrays (``dcf.cs``, ``cv``, ``ct``, ``cf`` and ``dpf.cs``, ``ct``, ``cf``: the correction
words both keys of a distributed comparison or point function share) are nobody's seed
expansion: the dealer sends them to every party after its seed, so what party ``i`` receives as
its "seed" is ``16`` seed bytes followed by the public arrays of the request (components in
order, arrays in table order, C order, little-endian uint64).  Requests without public arrays
get exactly the 16-byte seed.

PRG consumption order (the wire contract between dealer and parties): one
:class:`~mpc_runtime.sharing.prg.PRG` per party keyed by its seed; components in list order;
within a component the non-public arrays in the order of the requests table, each with its full
shape (:func:`~mpc_runtime.preprocessing.requests.array_shape`): bit arrays by ``PRG.bits``, all
others by ``PRG.uint64``.  Party 0 draws nothing for a dependent array; parties ``1 .. n-1`` draw
every non-public array.  The true values are: additive arrays are sums of all parties' shares,
XOR arrays XORs; for rbits ``r := xor of all rb words``; for bit / pbit ``t := xor of all tb
bits``; the tables of ``ltt`` / ``eqt`` and the keys of ``dcf`` / ``dpf`` are made from the
true mask ``r`` and fresh dealer randomness as :mod:`protocols.compare_const` and
:mod:`mpc_runtime.preprocessing.requests` document.

Cost: the dealer sends ``16`` bytes (plus the public arrays) to each of parties 1..n-1 and
``16 + 8 * (dependent words)`` (plus the public arrays) to party 0.

Security model: the dealer sees every value of the material (never an input or a share of one);
it must not collude with any party.  Seeds come from ``os.urandom``.

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg` and
:mod:`mpc_runtime.preprocessing.requests`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.preprocessing.requests import (
    ARRAYS,
    DCF_BITS,
    DPF_BITS,
    SHARING,
    Component,
    Material,
    array_shape,
    check_components,
    dcf_prg,
)
from mpc_runtime.sharing.prg import PRG, SEED_BYTES, new_seed

__all__ = ["DEPENDENT", "correction_nbytes", "expand", "generate", "material_nbytes"]

DEPENDENT: dict[str, tuple[str, ...]] = {
    "triple": ("c",),
    "and": ("c",),
    "rbits": ("r",),
    "bit": ("t",),
    "pbit": ("t",),
    "trunc": ("r_hi", "r_msb"),
    "ltt": ("t1", "t2", "t3", "t"),
    "eqt": ("e1", "e2", "t"),
    "dcf": ("w",),
    "dpf": (),
}
"""The dependent arrays of each kind: party 0 gets them as corrections, not from its seed."""

U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
_LOW63 = np.uint64(2**63 - 1)
_ZERO = np.zeros((), dtype=np.uint64)
CHUNK = 1 << 12
"""Elements per chunk when making truth tables (bounds the dealer's temporary memory)."""
FSS_CHUNK = 1 << 14
"""Elements per chunk when making FSS keys (one fixed-key AES call per tree level and chunk)."""


def _public(kind: str) -> list[str]:
    return [name for name, _ in ARRAYS[kind] if SHARING[kind][name] == "public"]


def _shape_of(comp: Component, name: str) -> tuple[int, ...]:
    layout = dict(ARRAYS[comp.kind])[name]
    return array_shape(layout, comp.shape)[1]


def _draw_component(prg: PRG, comp: Component, party_index: int) -> Material:
    """Draw this party's seed-derived arrays for one component, in the documented order."""
    deps = DEPENDENT[comp.kind]
    out: Material = {}
    for name, layout in ARRAYS[comp.kind]:
        if SHARING[comp.kind][name] == "public" or (party_index == 0 and name in deps):
            continue
        if layout == "bit":
            out[name] = prg.bits(comp.shape)
        else:
            out[name] = prg.uint64(array_shape(layout, comp.shape)[1])
    return out


def _sum(arrays: Sequence[U64], shape: tuple[int, ...]) -> U64:
    acc = np.zeros(shape, dtype=np.uint64)
    for a in arrays:
        np.add(acc, a, out=acc)
    return acc


def _xor(arrays: Sequence[npt.NDArray[Any]], shape: tuple[int, ...], dtype: Any) -> Any:
    acc = np.zeros(shape, dtype=dtype)
    for a in arrays:
        np.bitwise_xor(acc, a, out=acc)
    return acc


def _unpack(words: U64, count: int) -> U8:
    raw = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    return np.unpackbits(raw, count=count, bitorder="little")


def _true_values(comp: Component, drawn: list[Material]) -> Material:
    """The reconstructed values of the dependent (and public) arrays, from every party's drawn
    arrays."""
    shape, kind = comp.shape, comp.kind
    if kind == "triple":
        a, b = _sum([m["a"] for m in drawn], shape), _sum([m["b"] for m in drawn], shape)
        return {"c": np.multiply(a, b, out=a)}
    if kind == "and":
        a = _xor([m["a"] for m in drawn], shape, np.uint64)
        b = _xor([m["b"] for m in drawn], shape, np.uint64)
        return {"c": np.bitwise_and(a, b, out=a)}
    if kind == "rbits":
        return {"r": _xor([m["rb"] for m in drawn], shape, np.uint64)}
    if kind == "bit":
        return {"t": _xor([m["tb"] for m in drawn], shape, np.uint8).astype(np.uint64)}
    if kind == "pbit":
        words = _xor([m["tb"] for m in drawn], _shape_of(comp, "tb"), np.uint64)
        return {"t": _unpack(words, comp.size).astype(np.uint64).reshape(shape)}
    if kind == "trunc":
        if comp.frac_bits is None:  # enforced by Component; keeps the type checker honest
            raise LocalProtocolError("a trunc component needs frac_bits")
        r = _sum([m["r"] for m in drawn], shape)
        low = np.bitwise_and(r, _LOW63)
        return {
            "r_hi": np.right_shift(low, np.uint64(comp.frac_bits)),
            "r_msb": np.right_shift(r, np.uint64(63)),
        }
    r = _sum([m["r"] for m in drawn], shape).reshape(-1)
    if kind == "ltt":
        return _chunked(_ltt_tables, r, shape)
    if kind == "eqt":
        return _chunked(_eqt_tables, r, shape)
    if kind in ("dcf", "dpf"):
        point = kind == "dpf"
        keys = _fss_gen(r, drawn[0]["s"].reshape(2, -1), drawn[1]["s"].reshape(2, -1), point)
        if not point:
            keys["w"] = (r >> np.uint64(63)).reshape(shape)
        return keys
    raise LocalProtocolError(f"unknown preprocessing kind {kind!r}")


# ---- one-time truth tables (ltt, eqt) ------------------------------------------------------
def _random(count: int) -> U64:
    return PRG(new_seed()).uint64((count,))


def _trits(shape: tuple[int, ...]) -> U8:
    """Uniform values in Z_3 (from 64-bit words: bias below 2^-63)."""
    n = int(np.prod(shape))
    return (_random(n) % np.uint64(3)).astype(np.uint8).reshape(shape)


def _bits(shape: tuple[int, ...]) -> U8:
    n = int(np.prod(shape))
    return (_random(n) & np.uint64(1)).astype(np.uint8).reshape(shape)


def _pack(values: npt.NDArray[Any], width: int, words: int) -> U64:
    """(m, k) values of ``width`` bits -> (m, words) uint64, value j at bit ``width * j``."""
    m, k = values.shape
    per = 64 // width
    flat = np.zeros((m, words * per), dtype=np.uint64)
    flat[:, :k] = values
    buf = flat.reshape(m, words, per)
    buf <<= (np.arange(per, dtype=np.uint64) * np.uint64(width))[None, None, :]
    out: U64 = np.bitwise_or.reduce(buf, axis=2)
    return out


def _combine(codes: U8) -> U8:
    """Comparison outcomes (0 lt, 1 eq, 2 gt) of digits, least significant first on the last
    axis -> the outcome of the whole number: the most significant non-equal digit decides."""
    res = np.ones(codes.shape[:-1], dtype=np.uint8)
    for i in range(codes.shape[-1]):
        d = codes[..., i]
        res = np.where(d != 1, d, res)
    return res


_DIGITS3 = (np.arange(81)[:, None] // 3 ** np.arange(4)[None, :] % 3).astype(np.uint8)
_DIGITS2 = (np.arange(16)[:, None] >> np.arange(4)[None, :] & 1).astype(np.uint8)
_POW3 = np.array([1, 3, 9, 27], dtype=np.int64)


def _lookup_tables() -> dict[str, U64]:
    """Every table a mask can need, indexed by its (public-free) parameters: made once, so the
    dealer only gathers rows.  ``T1[3 R + s]``: a block's 16 codes for block value R and mask s;
    ``T2[3 S + s2]``: a group's 81 codes for the group's four block masks ``S`` (base 3) and its
    own mask ``s2``; ``T3[2 S2 + b]``: the 81 final bits for the group masks ``S2`` and
    ``b = r_63 xor tb``; ``E1[2 R + s]``, ``E2[2 S + s2]``, ``E3[2 S2 + tb]`` the same for
    equality (masks bits, ``S`` base 2)."""
    u = np.arange(16)
    cmp = np.where(u[None, :] < u[:, None], 0, np.where(u[None, :] == u[:, None], 1, 2))  # [R, u]
    t1 = (cmp[:, None, :] + np.arange(3)[None, :, None]) % 3  # [R, s, u]
    s_all = _DIGITS3  # [S, i]: the four masks of a group
    plain = (_DIGITS3[None, :, :] + 3 - s_all[:, None, :]) % 3  # [S, w, i]
    comb = _combine(plain)  # [S, w]
    t2 = (comb[:, None, :] + np.arange(3)[None, :, None]) % 3  # [S, s2, w]
    final = (comb == 0).astype(np.uint8)  # [S2, w]
    t3 = final[:, None, :] ^ np.arange(2, dtype=np.uint8)[None, :, None]  # [S2, b, w]
    e1 = (u[None, :] == u[:, None]).astype(np.uint8)[:, None, :] ^ np.arange(2)[None, :, None]
    and4 = np.bitwise_and.reduce(_DIGITS2[None, :, :] ^ _DIGITS2[:, None, :], axis=2)  # [S, w]
    e23 = and4[:, None, :] ^ np.arange(2, dtype=np.uint8)[None, :, None]  # [S, s2, w]
    return {
        "T1": _pack(t1.reshape(48, 16), 2, 1).reshape(48),
        "T2": _pack(t2.reshape(243, 81), 2, 3),
        "T3": _pack(t3.reshape(162, 81), 1, 2),
        "E1": _pack(e1.reshape(32, 16), 1, 1).reshape(32),
        "E2": _pack(e23.reshape(32, 16), 1, 1).reshape(32),
    }


_TABLES = _lookup_tables()


def _ltt_tables(r: U64) -> Material:
    """The tables of ``ltt`` for true masks ``r`` (see :mod:`protocols.compare_const`): fresh
    masks ``s`` (16 trits), ``s2`` (4 trits) and ``tb`` per element, then gathers."""
    m = r.size
    low = r & _LOW63
    blocks = (low[:, None] >> (np.arange(16, dtype=np.uint64) * np.uint64(4))) & np.uint64(15)
    s1, s2, tb = _trits((m, 16)), _trits((m, 4)), _bits((m,))
    t1 = _TABLES["T1"][blocks.astype(np.intp) * 3 + s1].astype(np.uint32).view(np.uint64)
    group = (s1.reshape(m, 4, 4).astype(np.int64) * _POW3).sum(axis=2)  # (m, 4)
    t2 = _TABLES["T2"][group * 3 + s2].reshape(m, 12)
    top = ((r >> np.uint64(63)).astype(np.uint8) ^ tb).astype(np.int64)
    t3 = _TABLES["T3"][(s2.astype(np.int64) * _POW3).sum(axis=1) * 2 + top]
    return {"t1": t1.reshape(m, 8), "t2": t2, "t3": t3, "t": tb.astype(np.uint64)}


def _eqt_tables(r: U64) -> Material:
    """The tables of ``eqt`` for true masks ``r`` (see :mod:`protocols.compare_const`)."""
    m = r.size
    blocks = (r[:, None] >> (np.arange(16, dtype=np.uint64) * np.uint64(4))) & np.uint64(15)
    s1, s2, tb = _bits((m, 16)), _bits((m, 4)), _bits((m,))
    e1 = _TABLES["E1"][blocks.astype(np.intp) * 2 + s1].astype(np.uint16).view(np.uint64)
    weights = 1 << np.arange(4)
    group = (s1.reshape(m, 4, 4).astype(np.int64) * weights).sum(axis=2)  # (m, 4)
    e2 = np.zeros((m, 2), dtype=np.uint64)
    e2[:, 0] = _TABLES["E2"][group * 2 + s2].astype(np.uint16).view(np.uint64).reshape(m)
    e2[:, 1] = _TABLES["E2"][(s2.astype(np.int64) * weights).sum(axis=1) * 2 + tb]
    return {"e1": e1.reshape(m, 4), "e2": e2, "t": tb.astype(np.uint64)}


def _chunked(make: Any, r: U64, shape: tuple[int, ...]) -> Material:
    parts = [make(r[i : i + CHUNK]) for i in range(0, r.size, CHUNK)] or [make(r[:0])]
    out: Material = {}
    for name in parts[0]:
        whole = np.concatenate([p[name] for p in parts], axis=0)
        out[name] = whole.reshape(shape + whole.shape[1:])
    return out


# ---- distributed comparison function keys (dcf) --------------------------------------------
def _fss_gen(r: U64, seed0: U64, seed1: U64, point: bool) -> Material:
    """Public correction words for keys with root seeds ``seed0`` / ``seed1`` ((2, m): low and
    high words).  ``point=False``: ``f(x) = beta [x < alpha]`` on 63 bits, ``alpha = r mod
    2^63``, ``beta = 1 - 2 (r >> 63)`` (Gen of Boyle et al., Eurocrypt 2021, Fig. 1);
    ``point=True``: ``f(x) = [x == r]`` on 64 bits (Gen of Boyle, Gilboa, Ishai, CCS 2016,
    Fig. 1).  Input bits from the most significant."""
    m = r.size
    bits = DPF_BITS if point else DCF_BITS
    out: Material = {
        "cs": np.empty((2 * bits, m), dtype=np.uint64),
        "ct": np.zeros((2, m), dtype=np.uint64),
        "cf": np.empty(m, dtype=np.uint64),
    }
    if not point:
        out["cv"] = np.empty((bits, m), dtype=np.uint64)
    for a in range(0, m, FSS_CHUNK):
        b = min(m, a + FSS_CHUNK)
        part = {k: v[..., a:b] for k, v in out.items()}
        _fss_gen_chunk(r[a:b], seed0[:, a:b], seed1[:, a:b], part, bits, point)
    return out


def _fss_gen_chunk(r: U64, seed0: U64, seed1: U64, out: Material, bits: int, point: bool) -> None:
    m = r.size
    one = np.uint64(1)
    alpha = r if point else r & _LOW63
    beta = one if point else one - ((r >> np.uint64(63)) << one)
    # Rows of the stacked PRG call: (party b, child x) at block 2 b + x of m elements.
    lo = np.concatenate([seed0[0], seed0[0], seed1[0], seed1[0]]) & ~one
    hi = np.concatenate([seed0[1], seed0[1], seed1[1], seed1[1]])
    nxt = [(lo[:m], hi[:m]), (lo[2 * m : 3 * m], hi[2 * m : 3 * m])]
    child = np.tile(np.repeat(np.arange(2, dtype=np.uint64), m), 2)
    ts = [np.zeros(m, dtype=np.uint64), np.ones(m, dtype=np.uint64)]
    va = np.zeros(m, dtype=np.uint64)
    for i in range(bits):
        a = (alpha >> np.uint64(bits - 1 - i)) & one
        cond = a.astype(bool)  # keep = right where alpha_i = 1; lose = the other child
        k_lo, k_hi, k_t, k_v = (arr.reshape(2, 2, m) for arr in dcf_prg(lo, hi, child))

        def keep(arr: U64, b: int, cond: npt.NDArray[np.bool_] = cond) -> U64:
            out: U64 = np.where(cond, arr[b, 1], arr[b, 0])
            return out

        def lose(arr: U64, b: int, cond: npt.NDArray[np.bool_] = cond) -> U64:
            out: U64 = np.where(cond, arr[b, 0], arr[b, 1])
            return out

        cw_lo, cw_hi = lose(k_lo, 0) ^ lose(k_lo, 1), lose(k_hi, 0) ^ lose(k_hi, 1)
        sign = one - (ts[1] << one)  # (-1)^t1 in the ring
        if not point:
            v_cw = sign * (lose(k_v, 1) - lose(k_v, 0) - va + beta * a)
            va = va - keep(k_v, 1) + keep(k_v, 0) + sign * v_cw
            out["cv"][i] = v_cw
        t_cw = [k_t[0, 0] ^ k_t[1, 0] ^ a ^ one, k_t[0, 1] ^ k_t[1, 1] ^ a]
        t_keep_cw = np.where(cond, t_cw[1], t_cw[0])
        nxt = []
        for b in (0, 1):
            mask = np.negative(ts[b])
            nxt.append((keep(k_lo, b) ^ (cw_lo & mask), keep(k_hi, b) ^ (cw_hi & mask)))
            ts[b] = keep(k_t, b) ^ (t_keep_cw & ts[b])
        lo = np.concatenate([nxt[0][0], nxt[0][0], nxt[1][0], nxt[1][0]])
        hi = np.concatenate([nxt[0][1], nxt[0][1], nxt[1][1], nxt[1][1]])
        out["cs"][2 * i], out["cs"][2 * i + 1] = cw_lo, cw_hi
        out["ct"][0] |= t_cw[0] << np.uint64(i)
        out["ct"][1] |= t_cw[1] << np.uint64(i)
    sign = one - (ts[1] << one)
    if point:  # beta at alpha: the leaves' outputs differ by exactly beta there
        va = np.negative(np.broadcast_to(beta, (m,)).astype(np.uint64))
    out["cf"][...] = sign * (nxt[1][1] - nxt[0][1] - va)


# ---- generate / expand -----------------------------------------------------------------------
def _corrections(comp: Component, drawn: list[Material], true: Material) -> Material:
    """Party 0's dependent arrays: the true value minus (xor) the other parties' shares."""
    others = drawn[1:]
    out: Material = {}
    for name in DEPENDENT[comp.kind]:
        shape = _shape_of(comp, name)
        value = np.array(true[name], dtype=np.uint64).reshape(shape)  # 0-d ufunc results
        # Explicit out=: ufuncs on 0-d arrays would return numpy scalars.
        if SHARING[comp.kind][name] == "xor":
            rest = _xor([m[name] for m in others], shape, np.uint64)
            out[name] = np.bitwise_xor(value, rest, out=value)
        else:
            out[name] = np.subtract(value, _sum([m[name] for m in others], shape), out=value)
    return out


def generate(components: Sequence[Component], n: int) -> tuple[list[bytes], list[Material]]:
    """The dealer: return ``n`` per-party seeds (16 bytes, then the request's public arrays)
    and party 0's corrections (one dict per component).

    Send ``seeds[i]`` to party ``i``, and the corrections to party 0 only.
    """
    check_components(components)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LocalProtocolError("the dealer needs n >= 2 parties")
    if n != 2 and any(c.kind in ("dcf", "dpf") for c in components):
        raise LocalProtocolError("FSS keys (dcf, dpf) need exactly 2 parties")
    seeds = [new_seed() for _ in range(n)]
    prgs = [PRG(s) for s in seeds]
    corrections: list[Material] = []
    public: list[bytes] = []
    for comp in components:
        drawn = [_draw_component(prg, comp, i) for i, prg in enumerate(prgs)]
        true = _true_values(comp, drawn)
        corrections.append(_corrections(comp, drawn, true))
        for name in _public(comp.kind):
            arr = np.ascontiguousarray(true[name], dtype="<u8").reshape(_shape_of(comp, name))
            public.append(arr.tobytes())
    tail = b"".join(public)
    return [s + tail for s in seeds], corrections


def _check_corrections(
    components: Sequence[Component], corrections: Sequence[Any], peer: str | None
) -> None:
    if len(corrections) != len(components):
        raise RemoteProtocolError(
            f"dealer sent corrections for {len(corrections)} components, expected"
            f" {len(components)}",
            peer=peer,
        )
    for k, (comp, corr) in enumerate(zip(components, corrections, strict=True)):
        deps = DEPENDENT[comp.kind]
        if not isinstance(corr, dict) or set(corr) != set(deps):
            raise RemoteProtocolError(
                f"component {k} ({comp.kind}): corrections must hold {', '.join(deps)}", peer=peer
            )
        for dep in deps:
            arr = corr[dep]
            if not isinstance(arr, np.ndarray) or arr.dtype != np.uint64:
                raise RemoteProtocolError(
                    f"component {k} ({comp.kind}): correction {dep!r} must be uint64", peer=peer
                )
            if arr.size != int(np.prod(_shape_of(comp, dep), dtype=np.int64)):
                raise RemoteProtocolError(
                    f"component {k} ({comp.kind}): correction {dep!r} has the wrong size",
                    peer=peer,
                )


def _public_nbytes(components: Sequence[Component]) -> int:
    total = 0
    for comp in components:
        for name in _public(comp.kind):
            total += 8 * int(np.prod(_shape_of(comp, name), dtype=np.int64))
    return total


def _split_public(
    components: Sequence[Component], tail: memoryview, peer: str | None
) -> list[Material]:
    if tail.nbytes != _public_nbytes(components):
        raise RemoteProtocolError("dealer sent public key material of the wrong size", peer=peer)
    out: list[Material] = []
    pos = 0
    for comp in components:
        got: Material = {}
        for name in _public(comp.kind):
            shape = _shape_of(comp, name)
            count = int(np.prod(shape, dtype=np.int64))
            words = np.frombuffer(tail, dtype="<u8", count=count, offset=pos)
            got[name] = words.astype(np.uint64, copy=False).reshape(shape)
            pos += 8 * count
        out.append(got)
    return out


def expand(
    components: Sequence[Component],
    seed: bytes,
    party_index: int,
    corrections: Sequence[Material] | None,
    *,
    peer: str | None = None,
) -> list[Material]:
    """This party's material: one dict of arrays per component (names as in the requests table).

    ``seed`` is what the dealer sent this party (16 seed bytes, then any public arrays).  Party 0
    must pass the corrections it received; every other party must pass ``None``
    (:class:`LocalProtocolError` otherwise).  The corrections are consumed: each array becomes
    the material as it is (a view of the received frame, not a copy: copying held the frame and
    the copies at once, +11 B of party 0's peak per comparison at 10^6) and is replaced in its
    dict by a read-only zero placeholder of the same shape (so byte counts taken afterwards stay
    right and the caller's dict no longer reaches the material).  The frame is released when
    the last material array of the reply is.  Corrections or public arrays that do not match the
    request (count, names, dtype, size) raise :class:`RemoteProtocolError` naming ``peer``.
    """
    check_components(components)
    if isinstance(party_index, bool) or not isinstance(party_index, int) or party_index < 0:
        raise LocalProtocolError("party_index must be a non-negative integer")
    if party_index == 0:
        if corrections is None:
            raise LocalProtocolError("party 0 needs the dealer's corrections to expand material")
        _check_corrections(components, corrections, peer)
    elif corrections is not None:
        raise LocalProtocolError("only party 0 receives corrections; pass None")
    has_public = _public_nbytes(components) > 0
    public = _split_public(components, memoryview(seed)[SEED_BYTES:], peer) if has_public else None
    prg = PRG(seed[:SEED_BYTES] if has_public else seed)
    out: list[Material] = []
    for k, comp in enumerate(components):
        mat = _draw_component(prg, comp, party_index)
        if party_index == 0 and corrections is not None:
            for dep in DEPENDENT[comp.kind]:
                got = corrections[k][dep]
                mat[dep] = np.asarray(got.reshape(_shape_of(comp, dep)), dtype=np.uint64)
                corrections[k][dep] = np.broadcast_to(_ZERO, got.shape)  # same nbytes, no buffer
                del got
        if public is not None:
            mat.update(public[k])
        out.append({name: mat[name] for name, _ in ARRAYS[comp.kind]})
    return out


def correction_nbytes(corrections: Sequence[Material] | None) -> int:
    if not corrections:
        return 0
    return sum(int(a.nbytes) for m in corrections for a in m.values())


def material_nbytes(components: Sequence[Component], n: int) -> dict[str, int]:
    """What a request costs to distribute (for reporting preprocessing cost).

    Keys: ``seed_bytes`` (per party), ``public_bytes`` (per party: public key material sent
    after the seed), ``party0_correction_bytes``, ``party0_bytes`` (seed + public +
    corrections), ``other_party_bytes`` (each of parties 1..n-1: seed + public),
    ``total_bytes`` (everything the dealer sends), ``expanded_bytes_per_party``.
    """
    check_components(components)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LocalProtocolError("n must be an integer >= 2")
    corr = 0
    expanded = 0
    for comp in components:
        for name, layout in ARRAYS[comp.kind]:
            dtype, shape = array_shape(layout, comp.shape)
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            expanded += nbytes
            if name in DEPENDENT[comp.kind]:
                corr += nbytes
    pub = _public_nbytes(components)
    return {
        "seed_bytes": SEED_BYTES,
        "public_bytes": pub,
        "party0_correction_bytes": corr,
        "party0_bytes": SEED_BYTES + pub + corr,
        "other_party_bytes": SEED_BYTES + pub,
        "total_bytes": n * (SEED_BYTES + pub) + corr,
        "expanded_bytes_per_party": expanded,
    }
