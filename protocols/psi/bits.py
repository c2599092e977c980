"""XOR-shared bits for the set-intersection circuits: AND gates, conversions, bit extraction.

A bit array here is a ``uint8`` numpy array of 0/1 values of any shape, XOR-shared (the secret
is the XOR of every party's array).  Local operations (XOR, NOT, moving bits around) cost
nothing; the protocols below each take **one online round** unless stated:

* :func:`and_bits` - Beaver AND on bits packed 64 to a word (D. Beaver, CRYPTO 1991, as in
  :mod:`protocols.compare`): every party opens ``x xor a`` and ``y xor b``:
  ``(n - 1) * 16 * ceil(g / 64)`` bytes for g gates.
* :func:`b2a` - XOR bit to an additive 0/1 share with a daBit ``t`` (``bit`` material): open
  ``v = z xor t`` (``(n - 1) * ceil(g / 8)`` bytes), ``[z] = v + [t] - 2 v [t]``.
* :func:`a2b_bit` - an additively shared *bit* to its XOR share: **local, 0 bytes**: the least
  significant bit of a sum is the XOR of the summands' least significant bits.
* :func:`low_bits` - the low ``k`` bits of an additively shared value known to lie in
  ``[0, 2^k)``: open ``c = x + r`` with an edaBit ``r`` (``rbits``: 8 bytes per element), then a
  borrow-lookahead subtractor ``(c - r) mod 2^k`` on the public bits of ``c`` and the XOR-shared
  bits of ``r`` (Kogge-Stone prefix, ``ceil(log2 k)`` AND rounds of at most ``2 (k - d)`` gates
  per element at distance d).  **1 + ceil(log2 k) rounds.**  The edaBit construction follows
  Escudero, Ghosh, Keller, Rachuri, Scholl, "Improved Primitives for MPC over Mixed
  Arithmetic-Binary Circuits", CRYPTO 2020.

Every opened value is masked by fresh uniform material, so it is uniform whatever the inputs.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``,
``mpc_runtime.preprocessing.requests``, ``mpc_runtime.errors``, ``protocols.io``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.preprocessing.requests import Component, Material
from mpc_runtime.runtime import Context
from mpc_runtime.sharing import beaver
from protocols.io import open_raw, open_xor_raw
from protocols.types import U64, contig

__all__ = [
    "Bits",
    "a2b_bit",
    "and_bits",
    "and_component",
    "b2a",
    "bits_of_words",
    "low_bits",
    "low_bits_and_gates",
    "low_bits_components",
    "pack",
    "prefix_levels",
    "unpack",
    "words",
]

Bits = npt.NDArray[np.uint8]


def words(nbits: int) -> int:
    """64-bit words that hold ``nbits`` bits."""
    return -(-int(nbits) // 64)


def pack(bits: Bits) -> U64:
    """Flat 0/1 bits -> uint64 words (little-endian bit order, zero padded)."""
    raw = np.packbits(bits.reshape(-1), bitorder="little")
    pad = (-raw.size) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros(pad, dtype=np.uint8)])
    return raw.view("<u8").astype(np.uint64, copy=False)


def unpack(w: U64, count: int) -> Bits:
    """The first ``count`` bits of uint64 words."""
    return np.unpackbits(contig(w).view(np.uint8), count=count, bitorder="little")


def bits_of_words(w: U64, width: int) -> Bits:
    """(m,) uint64 -> (m, width) bits, least significant first."""
    raw = np.asarray(w, dtype="<u8", order="C").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :width]


def and_component(gates: int) -> Component:
    """The ``and`` material for ``gates`` AND gates (one round of :func:`and_bits`)."""
    return Component("and", (max(1, words(gates)),))


async def and_bits(
    ctx: Context,
    lefts: Sequence[Bits],
    rights: Sequence[Bits],
    trip: Mapping[str, U64] | None = None,
) -> list[Bits]:
    """One round: XOR shares of ``lefts[j] & rights[j]`` for every j (same shapes pairwise)."""
    sizes = [int(a.size) for a in lefts]
    for a, b in zip(lefts, rights, strict=True):
        if a.shape != b.shape:
            raise LocalProtocolError("AND operands differ in shape")
    total = sum(sizes)
    if trip is None:
        (trip,) = await ctx.material([and_component(total)])
    x = pack(np.concatenate([a.reshape(-1) for a in lefts]) if lefts else np.zeros(0, np.uint8))
    y = pack(np.concatenate([b.reshape(-1) for b in rights]) if lefts else np.zeros(0, np.uint8))
    w = trip["a"].size
    if x.size > w:
        raise LocalProtocolError("AND material does not match the circuit size")
    if x.size < w:  # the material was rounded up to at least one word
        x = np.concatenate([x, np.zeros(w - x.size, dtype=np.uint64)])
        y = np.concatenate([y, np.zeros(w - y.size, dtype=np.uint64)])
    d, e = beaver.mask_pair_xor(x, y, trip["a"], trip["b"])
    opened = await open_xor_raw(ctx, np.concatenate([d, e]))
    z = beaver.finish_and(
        contig(opened[:w]), contig(opened[w:]), trip["a"], trip["b"], trip["c"], ctx.is_first
    )
    flat = unpack(z, total)
    out, start = [], 0
    for a, s in zip(lefts, sizes, strict=True):
        out.append(flat[start : start + s].reshape(a.shape))
        start += s
    return out


async def b2a(ctx: Context, z: Bits, mat: Material | None = None) -> U64:
    """One round: XOR-shared bits (any shape) -> additive shares of the same 0/1 values."""
    m = int(z.size)
    if mat is None:
        (mat,) = await ctx.material([Component("bit", (max(1, m),))])
    tb: Bits = np.asarray(mat["tb"], dtype=np.uint8)[:m]
    v_share = np.packbits(np.bitwise_xor(z.reshape(-1), tb), bitorder="little")
    v = unpack_bytes(np.asarray(await open_xor_raw(ctx, v_share)), m).astype(np.uint64)
    t = np.asarray(mat["t"], dtype=np.uint64)[:m]
    coef = (np.uint64(1) - (v << np.uint64(1))).astype(np.uint64)  # [z] = v + (1 - 2v) [t]
    out = np.multiply(t, coef, out=np.empty(m, dtype=np.uint64))
    if ctx.is_first:
        np.add(out, v, out=out)
    return contig(out.reshape(z.shape))


def unpack_bytes(raw: npt.NDArray[np.uint8], count: int) -> Bits:
    return np.unpackbits(contig(raw), count=count, bitorder="little")


def a2b_bit(share: U64) -> Bits:
    """XOR share of an additively shared 0/1 value: the low bit of our share (local)."""
    return np.bitwise_and(share, np.uint64(1)).astype(np.uint8)


def prefix_levels(k: int) -> list[int]:
    """Kogge-Stone distances 1, 2, 4, ... below k."""
    out, d = [], 1
    while d < k:
        out.append(d)
        d *= 2
    return out


def low_bits_and_gates(k: int) -> list[int]:
    """AND gates per element in each round of :func:`low_bits` (the last level skips P)."""
    levels = prefix_levels(k)
    return [(k - d) * (1 if i == len(levels) - 1 else 2) for i, d in enumerate(levels)]


def low_bits_components(m: int, k: int) -> list[Component]:
    return [Component("rbits", (max(1, m),))] + [
        and_component(g * m) for g in low_bits_and_gates(k)
    ]


async def low_bits(ctx: Context, x: U64, k: int) -> Bits:
    """XOR shares (m, k) of the low k bits of additively shared ``x`` in ``[0, 2^k)``.

    1 + ceil(log2 k) rounds (see the module docstring).
    """
    m = int(x.size)
    if not 1 <= k <= 63:
        raise LocalProtocolError("low_bits needs 1 <= k <= 63")
    mats = await ctx.material(low_bits_components(m, k))
    rb, trips = mats[0], mats[1:]
    r = np.asarray(rb["r"], dtype=np.uint64)[:m]
    c = await open_raw(ctx, np.add(x.reshape(-1), r, out=np.empty(m, dtype=np.uint64)))
    cb = bits_of_words(c, k)
    rbits = bits_of_words(np.asarray(rb["rb"], dtype=np.uint64)[:m], k)
    first = ctx.is_first
    # borrow_{j+1} = G_j xor (P_j and borrow_j): G = not c and r, P = not (c xor r) (c public)
    g = (rbits & (1 - cb)).astype(np.uint8)
    p = rbits ^ (1 - cb) if first else rbits.copy()
    levels = prefix_levels(k)
    for i, (d, trip) in enumerate(zip(levels, trips, strict=True)):
        last = i == len(levels) - 1
        hi_p, lo_g, lo_p = p[:, d:], g[:, :-d], p[:, :-d]
        if last:
            (t,) = await and_bits(ctx, [hi_p], [lo_g], trip)
        else:
            t, pp = await and_bits(ctx, [hi_p, hi_p], [lo_g, lo_p], trip)
            p = np.concatenate([p[:, :d], pp], axis=1)
        g = np.concatenate([g[:, :d], g[:, d:] ^ t], axis=1)
    borrow = np.zeros((m, k), dtype=np.uint8)
    borrow[:, 1:] = g[:, :-1]
    out = rbits ^ borrow
    if first:
        out ^= cb
    return contig(out)
