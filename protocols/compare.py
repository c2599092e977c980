"""Secure comparison of shared 64-bit ring values: less-than and equality in 8 online rounds.

The operands' public bounds guarantee that ``d = x - y`` does not wrap (the subtraction of two
:class:`~mpc_runtime.sharing.shared.Shared` values refuses otherwise), so
``x < y  <=>  MSB(d) = 1`` and ``x == y <=> d == 0`` exactly.  Results are shared 0/1 integers
(``frac_bits = 0``, bounds ``[0, 1]``); fixed-point operands must have equal ``frac_bits``.

Protocol (Catrina & de Hoogh, "Improved Primitives for Secure Multiparty Integer Computation",
SCN 2010, for the masked-opening comparison and the log-depth prefix circuit; Escudero,
Ghosh, Keller, Rachuri, Scholl, "Improved Primitives for MPC over Mixed Arithmetic-Binary
Circuits", CRYPTO 2020, for a dealer mask ``r`` shared both arithmetically and bitwise
(edaBits-style ``rbits``); D. Beaver, CRYPTO 1991, for XOR-shared AND triples):

1. (1 round) open ``c = d + r`` (uniform, reveals nothing).  With ``c' = c mod 2^63`` and
   ``r' = r mod 2^63``: ``MSB(d) = c_63 xor r_63 xor [c' < r']``.
2. (6 rounds) ``[c' < r']`` for public ``c'`` and XOR-shared bits of ``r'``: per bit
   ``g_i = r_i and not c_i``, ``e_i = not (c_i xor r_i)`` (local), padded to 64 bits with
   ``g = 0, e = 1``; a 6-level prefix tree ``G = G_hi xor (E_hi and G_lo)``,
   ``E = E_hi and E_lo``.  Both ANDs of a level share one round; the last level needs only
   ``G``.  The bits taking part in a level are packed densely into uint64 words (across
   elements), so a level with ``b`` AND gates per element opens ``2 * b`` bits per element.
3. (1 round) B2A with a dealer bit ``t`` shared both ways: open ``v = z xor t`` (packed bits),
   ``[z] = v + [t] - 2 v [t]``.

Equality: ``d == 0  <=>  c == r``: AND over all 64 bits of ``e_i`` by a 6-level AND tree (one
AND per pair per level), then B2A; also 1 + 6 + 1 = **8 rounds**.

Costs per element per party, online (n parties, k = 64; bytes asymptotic in the number m of
elements, exact counts round each level up to whole 64-bit words and the B2A up to whole bytes):

* :func:`lt` / :func:`gt` / :func:`le` / :func:`ge`: **8 rounds** (``log2 k + 2``);
  ``(n - 1) * (8 + 2 * 125 / 8 + 1 / 8) = 39.375 * (n - 1)`` bytes: 8 to open ``c``; 125 AND
  gates (64 + 32 + 16 + 8 + 4 over levels 0..4 with two ANDs per pair, 1 at level 5) each
  opening 2 bits; 1 bit for B2A.  Exactly, for m elements,
  ``(n - 1) * (8 m + 16 * sum_l ceil(b_l m / 64) + ceil(m / 8))``, ``b = (64, 32, 16, 8, 4, 1)``.
* :func:`eq`: **8 rounds**, ``(n - 1) * (8 + 2 * 63 / 8 + 1 / 8) = 23.875 * (n - 1)`` bytes;
  exactly the same formula with ``b = (32, 16, 8, 4, 2, 1)``.

All material of one comparison (``rbits``, ``bit`` and six ``and`` components) is fetched in
one ``ctx.material`` call before the first round.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from mpc_runtime.sharing import beaver
from protocols.io import open_raw, open_xor_raw
from protocols.types import U64, Shared, contig

ROUNDS = 8
LT_AND_BITS = (64, 32, 16, 8, 4, 1)
"""AND gates per element at each prefix level of :func:`lt`."""
EQ_AND_BITS = (32, 16, 8, 4, 2, 1)
"""AND gates per element at each level of :func:`eq`."""

Bits = npt.NDArray[np.uint8]


def _words(nbits: int) -> int:
    return -(-nbits // 64)


def _bits(words: U64) -> Bits:
    """(m,) uint64 words -> (m, 64) uint8 bits, least significant first."""
    raw = np.asarray(words, dtype="<u8", order="C").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(raw, axis=1, bitorder="little")


def _pack(bits: Bits) -> U64:
    """Flat 0/1 bits -> uint64 words (little-endian bit order, zero padded)."""
    raw = np.packbits(bits.reshape(-1), bitorder="little")
    pad = (-raw.size) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros(pad, dtype=np.uint8)])
    return raw.view("<u8").astype(np.uint64, copy=False)


def _unpack(words: U64, count: int) -> Bits:
    raw = contig(words).view(np.uint8)
    return np.unpackbits(raw, count=count, bitorder="little")


async def _and(
    ctx: Context, lefts: Sequence[Bits], rights: Sequence[Bits], trip: Mapping[str, U64]
) -> list[Bits]:
    """One round: XOR shares of ``lefts[j] & rights[j]`` for all j (Beaver AND on packed words)."""
    sizes = [int(a.size) for a in lefts]
    total = sum(sizes)
    x = _pack(np.concatenate([a.reshape(-1) for a in lefts]))
    y = _pack(np.concatenate([b.reshape(-1) for b in rights]))
    if x.shape != trip["a"].shape:
        raise LocalProtocolError("AND material does not match the circuit size")
    d, e = beaver.mask_pair_xor(x, y, trip["a"], trip["b"])
    opened = await open_xor_raw(ctx, np.concatenate([d, e]))
    w = x.size
    z = beaver.finish_and(
        contig(opened[:w]),
        contig(opened[w:]),
        trip["a"],
        trip["b"],
        trip["c"],
        ctx.is_first,
    )
    flat = _unpack(z, total)
    out, start = [], 0
    for a, s in zip(lefts, sizes, strict=True):
        out.append(flat[start : start + s].reshape(a.shape))
        start += s
    return out


async def _b2a(ctx: Context, z: Bits, mat: Mapping[str, npt.NDArray[Any]]) -> U64:
    """One round: an XOR-shared bit vector -> additive shares of the same 0/1 values."""
    m = z.size
    tb: Bits = np.asarray(mat["tb"], dtype=np.uint8)
    v_share = np.packbits(np.bitwise_xor(z, tb), bitorder="little")
    v = _unpack(np.asarray(await open_xor_raw(ctx, v_share)), m).astype(np.uint64)
    t = mat["t"]
    # [z] = v + [t] - 2 v [t] = v + (1 - 2v) [t]
    coef = (np.uint64(1) - (v << np.uint64(1))).astype(np.uint64)
    out = np.multiply(t, coef, out=np.empty(m, dtype=np.uint64))
    if ctx.is_first:
        np.add(out, v, out=out)
    return out


def _components(m: int, and_bits: Sequence[int]) -> list[Component]:
    return [
        Component("rbits", (m,)),
        Component("bit", (m,)),
        *(Component("and", (_words(b * m),)) for b in and_bits),
    ]


async def _open_masked(ctx: Context, d: U64, r: U64) -> U64:
    return await open_raw(ctx, np.add(d, r, out=np.empty(d.shape, dtype=np.uint64)))


async def _msb(ctx: Context, d: U64) -> U64:
    """Additive shares of MSB(d) for a flat shared d: 8 rounds."""
    m = d.size
    mats = await ctx.material(_components(m, LT_AND_BITS))
    rb, bitmat, trips = mats[0], mats[1], mats[2:]
    c = await _open_masked(ctx, d, rb["r"])  # round 1
    cb = _bits(c)
    rbits = _bits(rb["rb"])
    first = ctx.is_first
    notc = 1 - cb[:, :63]
    g = np.zeros((m, 64), dtype=np.uint8)
    g[:, :63] = rbits[:, :63] & notc
    e = np.zeros((m, 64), dtype=np.uint8)
    e[:, :63] = rbits[:, :63] ^ notc if first else rbits[:, :63]
    e[:, 63] = 1 if first else 0
    for level, trip in enumerate(trips):  # rounds 2..7
        g_lo, g_hi, e_lo, e_hi = g[:, 0::2], g[:, 1::2], e[:, 0::2], e[:, 1::2]
        if level == len(trips) - 1:
            (t,) = await _and(ctx, [e_hi], [g_lo], trip)
            g = g_hi ^ t
        else:
            t1, t2 = await _and(ctx, [e_hi, e_hi], [g_lo, e_lo], trip)
            g, e = g_hi ^ t1, t2
    z = g[:, 0] ^ rbits[:, 63]
    if first:
        z = z ^ cb[:, 63]
    return await _b2a(ctx, z, bitmat)  # round 8


async def _is_zero(ctx: Context, d: U64) -> U64:
    """Additive shares of [d == 0] for a flat shared d: 8 rounds."""
    m = d.size
    mats = await ctx.material(_components(m, EQ_AND_BITS))
    rb, bitmat, trips = mats[0], mats[1], mats[2:]
    c = await _open_masked(ctx, d, rb["r"])
    e = _bits(rb["rb"])
    if ctx.is_first:
        e ^= 1 - _bits(c)
    for trip in trips:
        (e,) = await _and(ctx, [e[:, 1::2]], [e[:, 0::2]], trip)
    return await _b2a(ctx, e[:, 0], bitmat)


def _diff(x: Shared, y: Shared) -> tuple[U64, tuple[int, ...]]:
    if not isinstance(x, Shared) or not isinstance(y, Shared):
        raise LocalProtocolError("comparisons take two Shared values")
    if x.shape != y.shape:
        raise LocalProtocolError(f"comparison operands differ in shape: {x.shape} vs {y.shape}")
    return contig((x - y).share.reshape(-1)), x.shape  # x - y refuses a difference that could wrap


def _bit(share: U64, shape: tuple[int, ...]) -> Shared:
    return Shared(contig(share.reshape(shape)), 0, 0, 1)


def _one_minus(s: Shared, is_first: bool) -> Shared:
    return (-s).add_public(1, is_first)


async def lt(ctx: Context, x: Shared, y: Shared) -> Shared:
    """Shared ``[x < y]`` (0/1): 8 rounds."""
    ctx = ctx.scope("lt")
    d, shape = _diff(x, y)
    return _bit(await _msb(ctx, d), shape)


async def gt(ctx: Context, x: Shared, y: Shared) -> Shared:
    """Shared ``[x > y]``: ``lt(y, x)``, 8 rounds."""
    ctx = ctx.scope("gt")
    return await lt(ctx, y, x)


async def ge(ctx: Context, x: Shared, y: Shared) -> Shared:
    """Shared ``[x >= y]``: ``1 - lt(x, y)``, 8 rounds."""
    ctx = ctx.scope("ge")
    return _one_minus(await lt(ctx, x, y), ctx.is_first)


async def le(ctx: Context, x: Shared, y: Shared) -> Shared:
    """Shared ``[x <= y]``: ``1 - lt(y, x)``, 8 rounds."""
    ctx = ctx.scope("le")
    return _one_minus(await lt(ctx, y, x), ctx.is_first)


async def eq(ctx: Context, x: Shared, y: Shared) -> Shared:
    """Shared ``[x == y]`` (0/1): 8 rounds.

    Exact for any operands: ``x - y == 0 (mod 2^64)`` iff ``x == y`` for values inside the ring's
    no-wrap range, which every Shared value is, so the difference may wrap without harm.
    """
    ctx = ctx.scope("eq")
    if not isinstance(x, Shared) or not isinstance(y, Shared):
        raise LocalProtocolError("comparisons take two Shared values")
    if x.shape != y.shape or x.frac_bits != y.frac_bits:
        raise LocalProtocolError("eq operands differ in shape or frac_bits")
    d = contig(np.subtract(x.share, y.share).reshape(-1))
    return _bit(await _is_zero(ctx, d), x.shape)


def lt_payload_bytes(m: int, n: int, and_bits: Sequence[int] = LT_AND_BITS) -> int:
    """Exact online payload bytes one party sends for a comparison of m elements."""
    return (n - 1) * (8 * m + 16 * sum(_words(b * m) for b in and_bits) + -(-m // 8))


def eq_payload_bytes(m: int, n: int) -> int:
    """Exact online payload bytes one party sends for an equality test of m elements."""
    return lt_payload_bytes(m, n, EQ_AND_BITS)
