"""Constant-round comparison and equality for n parties from one-time truth tables: 4 rounds.

Function-dependent preprocessing: the dealer, who knows the mask ``r``, hands out XOR-shared
lookup tables whose entries are themselves masked, so a chain of table lookups needs one opening
per stage and no AND gates (one-time truth tables: Ishai, Kushilevitz, Meldgaard, Orlandi,
Paskin-Cherniavsky, "On the Power of Correlated Randomness in Secure Computation", TCC 2013; the
masked-opening comparison of Catrina & de Hoogh, SCN 2010).  Material kinds ``ltt`` and ``eqt``
(dealer only).  Any n; semi-honest; the dealer must not collude with a party.

:func:`msb` (``[x < y]`` as ``MSB(d)``), with ``c' = c mod 2^63`` cut into 16 blocks ``C_j`` of
4 bits (block 15: bits 60..62), ``R_j`` the same blocks of ``r' = r mod 2^63``, outcome codes
0 (``C_j < R_j``), 1 (equal), 2 (greater), and dealer-secret masks ``s_j``, ``s2_g`` in Z_3 and
a bit ``tb``:

1. (round 1) open ``c = d + r``.
2. (round 2) local lookup in ``t1`` (16 tables of 16 entries of 2 bits): entry ``(j, u)`` is
   ``(cmp(u, R_j) + s_j) mod 3``; open the 16 looked-up codes ``o_j`` (32 bits; each uniform).
3. (round 3) groups ``g`` of 4 blocks: index ``w = sum_i o_{4g+i} 3^i`` into ``t2`` (4 tables
   of 81 entries of 2 bits, table ``g`` in words ``3g .. 3g + 2``):
   ``(comb(o - s) + s2_g) mod 3``, ``comb`` = the most significant non-equal outcome; open the
   4 codes (8 bits).
4. (round 4) index ``w = sum_g o2_g 3^g`` into ``t3`` (81 bits):
   ``[comb(o2 - s2) = 0] xor r_63 xor tb``; open it (1 bit) as ``u``; then
   ``u xor c_63 = MSB(d) xor tb`` and ``[MSB(d)] = v + [tb] - 2 v [tb]`` with the additive ``t``.

:func:`is_zero` (``[d == 0] = [c == r]``): 16 blocks of 4 bits of all 64 bits; ``e1``: bit
``[u == R_j] xor s_j`` (16 x 16 bits); open 16 bits; ``e2`` word 0: for group ``g`` and
``w`` = the 4 opened bits, ``AND_i (w_i xor s_{4g+i}) xor s2_g``; open 4 bits; ``e2`` word 1:
``AND_g (w_g xor s2_g) xor tb``; open 1 bit; B2A as above.  **4 rounds**.

Costs per party, m elements, n parties (online payload bytes sent):

* ``lt``: **4 rounds**, ``(n - 1) * (8 m + 4 m + m + ceil(m / 8))`` (13.125 per element and
  peer); material per element: 8 + 64 + 96 + 16 + 8 = 192 bytes (party 0 receives 184 of them
  as corrections, the others a seed).
* ``eq``: **4 rounds**, ``(n - 1) * (8 m + 2 m + ceil(m / 2) + ceil(m / 8))`` (10.625);
  material 8 + 32 + 16 + 8 = 64 bytes per element.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``,
``mpc_runtime.preprocessing.requests``, ``protocols.compare_bits``, ``protocols.types``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import RemoteProtocolError
from mpc_runtime.preprocessing.requests import Component, Material
from mpc_runtime.runtime import Context
from protocols.compare_bits import CHUNK, open_xor_inplace, unpack_bits
from protocols.types import U64

__all__ = ["REQUEST_ELEMENTS", "ROUNDS", "is_zero", "material_plan", "msb", "payload_bytes"]

ROUNDS = 4
REQUEST_ELEMENTS = 1 << 19
Opener = Callable[[Context, U64, U64], Awaitable[U64]]
U32 = npt.NDArray[np.uint32]

_SH16 = np.arange(16, dtype=np.uint64) * np.uint64(4)
_G192 = np.arange(4, dtype=np.int64) * 192


def _base3_table() -> npt.NDArray[np.int64]:
    """A byte of four 2-bit codes (first code lowest) -> ``sum d_i 3^i``, or -1 if a code is 3."""
    codes = (np.arange(256)[:, None] >> (2 * np.arange(4))[None, :]) & 3
    value = (codes * np.array([1, 3, 9, 27])).sum(axis=1)
    return np.where((codes == 3).any(axis=1), -1, value).astype(np.int64)


_BASE3 = _base3_table()


def material_plan(op: str, m: int) -> list[list[Component]]:
    """One request per :data:`REQUEST_ELEMENTS` elements (party 0's corrections of an ``ltt``
    request of that size are 96 MB)."""
    kind = "ltt" if op == "lt" else "eqt"
    step = REQUEST_ELEMENTS
    return [[Component(kind, (min(step, m - s),))] for s in range(0, m, step)]


def payload_bytes(op: str, m: int, n: int) -> int:
    if op == "lt":
        return (n - 1) * (13 * m + -(-m // 8))
    return (n - 1) * (10 * m + -(-m // 2) + -(-m // 8))


Spans = list[tuple[int, int, Material, int]]


async def _material(ctx: Context, op: str, m: int) -> tuple[Spans, Material]:
    """This comparison's tables, fetched in requests of bounded size: the pieces of at most
    :data:`CHUNK` elements ``(start, end, material, material start)`` and the additive arrays
    ``r`` and ``t`` put together (the tables stay where they are)."""
    mats: list[Material] = []
    for comps in material_plan(op, m):
        mats.extend(await ctx.material(comps))
    spans: Spans = []
    start = 0
    for mat in mats:
        n = mat["r"].shape[0]
        spans.extend(
            (s, min(start + n, s + CHUNK), mat, start) for s in range(start, start + n, CHUNK)
        )
        start += n
    whole = {
        k: mats[0][k] if len(mats) == 1 else np.concatenate([x[k] for x in mats]) for k in "rt"
    }
    return spans, whole


def _indices(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Opened bytes of four codes -> base-3 table indices; a code 3 means a peer sent garbage."""
    w = _BASE3[codes]
    if w.size and int(w.min()) < 0:
        raise RemoteProtocolError("a peer opened an invalid comparison code")
    return w


def _pack4(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """(k, 4 j) 2-bit codes -> (k, j) bytes, code 4 i + q at bits 2 q of byte i."""
    out = codes[:, 0::4].copy()
    for q in (1, 2, 3):
        out |= codes[:, q::4] << np.uint8(2 * q)
    return out


def _stage1_lt(c: U64, t1: U64) -> npt.NDArray[np.uint8]:
    """Our shares of the 16 masked block outcomes, 2 bits each: four bytes per element."""
    k = c.shape[0]
    by = c.view(np.uint8).reshape(k, 8)
    nib = np.empty((k, 8, 2), dtype=np.uint32)  # the public 4-bit blocks of c'
    np.bitwise_and(by, 15, out=nib[:, :, 0], casting="unsafe")
    np.right_shift(by, 4, out=nib[:, :, 1], casting="unsafe")
    blocks = nib.reshape(k, 16)
    blocks[:, 15] &= np.uint32(7)  # block 15 is bits 60..62
    blocks <<= np.uint32(1)
    codes = np.right_shift(t1.view(np.uint32), blocks, out=blocks)  # block j: 16 x 2 bits
    codes &= np.uint32(3)
    return _pack4(codes.astype(np.uint8))


def _stage2_lt(opened: npt.NDArray[np.uint8], t2: U64) -> npt.NDArray[np.uint8]:
    k = t2.shape[0]
    pos = 2 * _indices(opened.reshape(k, 4)) + _G192  # bit 2 w of words 3 g .. 3 g + 2
    flat = (pos >> 6) + 12 * np.arange(k)[:, None]
    entry = t2.reshape(-1)[flat] >> (pos & 63).astype(np.uint64)
    return _pack4((entry & np.uint64(3)).astype(np.uint8))[:, 0]


def _stage3_lt(opened: npt.NDArray[np.uint8], t3: U64) -> npt.NDArray[np.uint8]:
    k = t3.shape[0]
    w = _indices(opened)
    word = t3.reshape(-1)[(w >> 6) + 2 * np.arange(k)]
    out: npt.NDArray[np.uint8] = ((word >> (w & 63).astype(np.uint64)) & np.uint64(1)).astype(
        np.uint8
    )
    return out


def _to_arith(v8: npt.NDArray[np.uint8], t: U64, first: bool) -> U64:
    """``[z] = v + [t] - 2 v [t]`` for opened bits ``v`` and additive daBit shares ``t``."""
    v = v8.astype(np.uint64)
    out = np.negative(v)
    out ^= t
    out += v
    if first:
        out += v
    return out


async def _open(ctx: Context, parts: list[Any], dtype: Any) -> Any:
    """One round: open the XOR shares ``parts`` (concatenated), sent as bytes."""
    share = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
    return (await open_xor_inplace(ctx, share.view(np.uint8))).view(dtype)


async def msb(ctx: Context, d: U64, opener: Opener) -> U64:
    """Additive shares of MSB(d) for a flat shared d: 4 rounds."""
    m = d.size
    spans, whole = await _material(ctx, "lt", m)
    c = await opener(ctx, d, whole["r"])  # round 1
    del d
    parts = [_stage1_lt(c[s:e], mat["t1"][s - a : e - a]) for s, e, mat, a in spans]
    v1 = await _open(ctx, parts, np.uint8)  # round 2: (m, 4) bytes
    parts = [_stage2_lt(v1[s:e], mat["t2"][s - a : e - a]) for s, e, mat, a in spans]
    v2 = await _open(ctx, parts, np.uint8)  # round 3
    bits = np.concatenate([_stage3_lt(v2[s:e], mat["t3"][s - a : e - a]) for s, e, mat, a in spans])
    u = unpack_bits(await _open(ctx, [np.packbits(bits, bitorder="little")], np.uint8), m)
    u ^= (c >> np.uint64(63)).astype(np.uint8)  # round 4 done; u = MSB(d) xor tb
    return _to_arith(u, whole["t"], ctx.is_first)


def _stage1_eq(c: U64, e1: U64) -> npt.NDArray[np.uint8]:
    """Our shares of the 16 masked block equalities: two bytes per element."""
    k = c.shape[0]
    by = c.view(np.uint8).reshape(k, 8)
    nib = np.empty((k, 8, 2), dtype=np.uint16)  # the public 4-bit blocks of c
    np.bitwise_and(by, 15, out=nib[:, :, 0], casting="unsafe")
    np.right_shift(by, 4, out=nib[:, :, 1], casting="unsafe")
    blocks = nib.reshape(k, 16)
    bits = np.right_shift(e1.view(np.uint16), blocks, out=blocks)  # block j: 16 x 1 bit
    bits &= np.uint16(1)
    return np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")


def _stage2_eq(opened: npt.NDArray[np.uint8], e2: U64) -> npt.NDArray[np.uint8]:
    """Our shares of the 4 masked group equalities (a nibble per element)."""
    k = e2.shape[0]
    nib = np.empty((k, 2, 2), dtype=np.uint64)  # group g's 4 opened bits = table index
    np.bitwise_and(opened.reshape(k, 2), 15, out=nib[:, :, 0], casting="unsafe")
    np.right_shift(opened.reshape(k, 2), 4, out=nib[:, :, 1], casting="unsafe")
    pos = nib.reshape(k, 4)
    pos += np.arange(4, dtype=np.uint64) * np.uint64(16)
    bits = np.right_shift(e2[:, 0:1], pos, out=pos)
    bits &= np.uint64(1)
    out: npt.NDArray[np.uint8] = bits[:, 0] | bits[:, 1] << 1 | bits[:, 2] << 2 | bits[:, 3] << 3
    return out.astype(np.uint8)


async def is_zero(ctx: Context, d: U64, opener: Opener) -> U64:
    """Additive shares of [d == 0] for a flat shared d: 4 rounds."""
    m = d.size
    spans, whole = await _material(ctx, "eq", m)
    c = await opener(ctx, d, whole["r"])  # round 1
    del d
    parts = [_stage1_eq(c[s:e], mat["e1"][s - a : e - a]) for s, e, mat, a in spans]
    v1 = await _open(ctx, parts, np.uint8)  # round 2: (m, 2) bytes
    nib = np.concatenate([_stage2_eq(v1[s:e], mat["e2"][s - a : e - a]) for s, e, mat, a in spans])
    if m % 2:
        nib = np.concatenate([nib, np.zeros(1, dtype=np.uint8)])
    v2 = await _open(ctx, [nib[0::2] | (nib[1::2] << np.uint8(4))], np.uint8)  # round 3
    w = np.empty(2 * v2.size, dtype=np.uint64)
    w[0::2] = v2 & np.uint8(15)
    w[1::2] = v2 >> np.uint8(4)
    bits = np.concatenate(
        [((mat["e2"][s - a : e - a, 1] >> w[s:e]) & np.uint64(1)) for s, e, mat, a in spans]
    ).astype(np.uint8)
    u = unpack_bits(await _open(ctx, [np.packbits(bits, bitorder="little")], np.uint8), m)
    return _to_arith(u, whole["t"], ctx.is_first)  # round 4
