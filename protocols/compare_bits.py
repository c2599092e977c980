"""Packed-bit kernels for the comparison protocols: bits live in uint64 words end to end.

What it is for: the local work of :mod:`protocols.compare` (the prefix-tree comparison) without
ever holding one byte per bit.  Three layouts appear:

* *per element*: one uint64 word per element (the opened ``c``, the mask bits ``rb``); the first
  level of a prefix tree is computed inside these words with shifts and masks, its AND gates
  (one per bit pair) packed two elements to a word (:func:`pair_gates`).
* *bit planes* (bit-sliced): ``(64, W)`` words, plane ``i`` holding bit ``i`` of 64 * W
  elements (element ``64 w + j`` at bit ``j`` of word ``w``), made by :func:`transpose`; every
  later tree level is plain XOR/AND on contiguous runs of planes, and each AND gate of a level
  is one bit of a dense word, so no bit is wasted on the wire.
* *packed bits*: one bit per element, 64 per word, element order (daBit XOR shares, B2A).

Everything works in place on preallocated arrays and in chunks of :data:`CHUNK` elements, so the
temporary memory of a comparison stays a few words per element and fresh pages are rarely
touched.  Beaver AND on words (D. Beaver, CRYPTO 1991): the parties open ``D = X ^ A`` and
``E = Y ^ B`` and set ``Z = C ^ (D & B) ^ (E & A)`` (``^ (D & E)`` on the first party).

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``protocols.types``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import ArraySpec, Context
from protocols.types import U64

__all__ = [
    "CHUNK",
    "b2a",
    "beaver_finish",
    "lt_combine",
    "open_add_inplace",
    "open_xor_inplace",
    "pair_gates",
    "transpose",
    "unpack_bits",
    "words",
]

CHUNK = 1 << 16
"""Elements per chunk of the per-element kernels (their working set stays in cache)."""

U8 = npt.NDArray[np.uint8]
_M1 = np.uint64(0x5555555555555555)
_M1_ODD = np.uint64(0xAAAAAAAAAAAAAAAA)
_HIGH = np.uint64(1 << 63)
_LOW63 = np.uint64((1 << 63) - 1)
_LOW62 = np.uint64((1 << 62) - 1)
_SH62, _SH63 = np.uint64(62), np.uint64(63)
_ONE = np.uint64(1)
_T8 = (
    (np.uint64(7), np.uint64(0x00AA00AA00AA00AA)),
    (np.uint64(14), np.uint64(0x0000CCCC0000CCCC)),
    (np.uint64(28), np.uint64(0x00000000F0F0F0F0)),
)


def words(nbits: int) -> int:
    """uint64 words holding ``nbits`` bits."""
    return -(-nbits // 64)


def transpose(x: U64, nwords: int | None = None) -> U64:
    """Per-element words ``x`` (n,) -> bit planes (64, W), ``W = nwords or ceil(n / 64)``:
    bit ``i`` of ``x[64 w + j]`` is bit ``j`` of ``planes[i, w]`` (missing elements are zero).

    Each group of 64 words is transposed as an 8 x 8 matrix of bytes (two strided copies) whose
    bytes are 8 x 8 bit matrices (three shift-and-mask steps, Hacker's Delight 7-3).
    """
    n = x.shape[0]
    nw = words(n) if nwords is None else nwords
    if nw * 64 < n:
        raise LocalProtocolError("transpose: too few output words for the input")
    out = np.zeros((8, 8, nw, 8), dtype=np.uint8)  # (byte b, bit k, word w, byte g)
    cw = CHUNK // 64
    y = np.empty((cw, 8, 8, 8), dtype=np.uint8)
    tmp = np.empty(cw * 64, dtype=np.uint64)
    full = n // 64
    for w0 in range(0, words(n), cw):
        w1 = min(words(n), w0 + cw)
        k = w1 - w0
        src = x[w0 * 64 : min(n, w1 * 64)]
        if w1 > full:  # the last, partial group: zero padded
            pad = np.zeros(k * 64, dtype=np.uint64)
            pad[: src.size] = src
            src = pad
        by = src.view(np.uint8).reshape(k, 8, 8, 8)  # (w, g, j, b): element 64 w + 8 g + j
        yk = y[:k]
        np.copyto(yk, by.transpose(0, 3, 1, 2))  # (w, b, g, j)
        y64 = yk.reshape(-1).view(np.uint64)
        t = tmp[: y64.size]
        for shift, mask in _T8:  # transpose each 8 x 8 bit matrix (rows = bytes j)
            np.right_shift(y64, shift, out=t)
            t ^= y64
            t &= mask
            y64 ^= t
            t <<= shift
            y64 ^= t
        np.copyto(out[:, :, w0:w1, :], yk.transpose(1, 3, 0, 2))  # now (w, b, g, k)
    return out.reshape(64, nw * 8).view(np.uint64)


def unpack_bits(packed: npt.NDArray[Any], count: int) -> U8:
    """The first ``count`` bits of packed words, as 0/1 bytes (element order)."""
    raw = np.ascontiguousarray(packed).view(np.uint8)
    return np.unpackbits(raw, count=count, bitorder="little")


async def open_add_inplace(ctx: Context, buf: U64) -> U64:
    """One round: broadcast our additive share ``buf`` and add the peers' shares into it."""
    flat = buf.reshape(-1)
    got = await ctx.broadcast(flat, expect=ArraySpec.like(flat))
    for p, v in got.items():
        if p != ctx.party_id:
            np.add(flat, v, out=flat)
    return buf


async def open_xor_inplace(ctx: Context, buf: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """One round: broadcast our XOR share ``buf`` and xor the peers' shares into it in place
    (``exchange`` returns only after our sends were handed to the transport)."""
    flat = buf.reshape(-1)
    got = await ctx.broadcast(flat, expect=ArraySpec.like(flat))
    for p, v in got.items():
        if p != ctx.party_id:
            np.bitwise_xor(flat, v, out=flat)
    return buf


def beaver_finish(d: U64, e: U64, trip: Mapping[str, U64], first: bool) -> U64:
    """XOR shares of ``X & Y`` from the opened ``d = X ^ A``, ``e = Y ^ B`` (flat, equal size),
    written over ``d`` (``e`` is clobbered): ``C ^ (D & B) ^ (E & (A ^ [first] D))``."""
    a, b, c = (trip[k].reshape(-1) for k in ("a", "b", "c"))
    if not d.size == e.size == a.size:
        raise LocalProtocolError("AND material does not match the circuit size")
    tmp = np.empty(min(CHUNK, d.size), dtype=np.uint64)
    for s in range(0, d.size, CHUNK):
        sl = slice(s, s + CHUNK)
        dk, ek = d[sl], e[sl]
        if first:
            t = tmp[: dk.size]
            np.bitwise_xor(a[sl], dk, out=t)
            ek &= t
        else:
            ek &= a[sl]
        dk &= b[sl]
        dk ^= c[sl]
        dk ^= ek
    return d


def pair_gates(c: U64, rb: U64, trip: Mapping[str, U64], half: int, complement: bool) -> U64:
    """Inputs of one AND per bit pair, masked for Beaver: the bits ``f`` of elements ``k`` and
    ``k + half`` share word ``k`` (element ``k`` at the even bits, ``k + half`` at the odd bits),
    so a word holds the 32 gates of each.  ``f = r`` (the mask bits), or with ``complement``
    ``f = ~(c ^ r)`` (only the first party applies ``~c``; pass ``complement`` there only).
    Returns the (2, half) send buffer ``[X ^ A, Y ^ B]`` with ``X`` = high and ``Y`` = low bit
    of every pair; elements beyond ``m`` are zero padding."""
    m = c.shape[0]
    send = np.zeros((2, half), dtype=np.uint64)
    a, b = trip["a"].reshape(-1), trip["b"].reshape(-1)
    if a.size != half or m > 2 * half:
        raise LocalProtocolError("AND material does not match the circuit size")
    k = min(CHUNK, half)
    fa, fb, t = (np.empty(k, dtype=np.uint64) for _ in range(3))
    for s in range(0, half, CHUNK):
        e = min(half, s + CHUNK)
        n = e - s
        fak, fbk, tk = fa[:n], fb[:n], t[:n]
        _bits_of(c, rb, s, e, complement, fak)
        _bits_of(c, rb, s + half, e + half, complement, fbk)
        x, y = send[0, s:e], send[1, s:e]
        np.right_shift(fak, _ONE, out=x)
        x &= _M1
        np.bitwise_and(fbk, _M1_ODD, out=tk)
        x |= tk
        np.bitwise_and(fak, _M1, out=y)
        fbk <<= _ONE
        fbk &= _M1_ODD
        y |= fbk
        x ^= a[s:e]
        y ^= b[s:e]
    return send


def _bits_of(c: U64, rb: U64, s: int, e: int, complement: bool, out: U64) -> None:
    """``r`` or ``~(c ^ r)`` for elements ``[s, e)`` (zero beyond the input)."""
    m = c.shape[0]
    lo, hi = min(s, m), min(e, m)
    n = hi - lo
    out[n:] = 0
    if n <= 0:
        return
    if complement:
        np.invert(c[lo:hi], out=out[:n])
        out[:n] ^= rb[lo:hi]
    else:
        np.copyto(out[:n], rb[lo:hi])


def lt_combine(z: U64, c: U64, rb: U64, first: bool, half: int) -> U64:
    """The first prefix level of ``[c' < r']`` per element word, from the products
    ``p_j = r_{2j+1} & r_{2j}`` (``z`` from :func:`pair_gates`, element ``k`` at the even bits
    of word ``k``, ``k + half`` at the odd bits).

    With ``g_i = r_i & ~c_i``, ``e_i = ~(c_i ^ r_i)`` and public ``n = ~c``, pair ``j`` (low bit
    ``l = 2j``, high ``h = 2j + 1``) has ``E = e_h & e_l = p ^ n_l r_h ^ n_h r_l ^ n_h n_l`` and
    ``G = g_h ^ (e_h & g_l) = n_h r_h ^ n_l (p ^ n_h r_l)``: linear in shares once ``p`` is
    known (the constant term on the first party only).  The top pair uses bit 63 as
    ``g = r_63 ^ c_63``, ``e = 1``, so ``G = r_63 ^ c_63 ^ n_62 r_62`` and ``E = e_62``, and the
    tree's top ``G`` is ``MSB(c - r)`` itself.  Returns ``(G, E)`` of pair ``j`` at bits
    ``2j``, ``2j + 1`` of each element's word (written over ``rb`` when it is writable).
    """
    m = c.shape[0]
    out = rb if rb.flags.writeable else np.empty(m, dtype=np.uint64)
    k = min(CHUNK, m)
    p, rl, rh, nl, nh, t = (np.empty(k, dtype=np.uint64) for _ in range(6))
    for s in range(0, m, CHUNK):
        e = min(m, s + CHUNK)
        n = e - s
        pk, rlk, rhk, nlk, nhk, tk = p[:n], rl[:n], rh[:n], nl[:n], nh[:n], t[:n]
        _products(z, s, e, half, pk)
        ck, rk = c[s:e], rb[s:e]
        np.bitwise_and(rk, _M1, out=rlk)
        np.right_shift(rk, _ONE, out=rhk)
        rhk &= _M1
        np.invert(ck, out=nlk)
        np.right_shift(nlk, _ONE, out=nhk)
        nhk &= _M1
        nlk &= _M1
        # top pair: G = r_63 ^ [first] c_63 ^ n_62 r_62, E = r_62 ^ [first] n_62 (bit 62)
        top_g = ((rk >> _SH63) ^ (rk >> _SH62 & nlk >> _SH62)) & _ONE
        top_e = (rk >> _SH62) & _ONE
        if first:
            top_g ^= ck >> _SH63
            top_e ^= (nlk >> _SH62) & _ONE
        np.bitwise_and(nhk, rlk, out=tk)
        pk ^= tk  # q = p ^ n_h r_l
        np.bitwise_and(nlk, pk, out=rlk)  # n_l q
        np.bitwise_and(nlk, rhk, out=tk)
        rhk &= nhk
        rhk ^= rlk  # G = n_h r_h ^ n_l q
        pk ^= tk  # E = q ^ n_l r_h (^ n_h n_l on the first party)
        if first:
            np.bitwise_and(nhk, nlk, out=tk)
            pk ^= tk
        pk &= _LOW62
        rhk &= _LOW62
        pk |= top_e << _SH62
        rhk |= top_g << _SH62
        ok = out[s:e]
        np.left_shift(pk, _ONE, out=ok)
        ok |= rhk
    return out


def _products(z: U64, s: int, e: int, half: int, out: U64) -> None:
    """The pair products of elements ``[s, e)`` at the even bits."""
    if e <= half:
        np.bitwise_and(z[s:e], _M1, out=out)
        return
    if s >= half:
        np.right_shift(z[s - half : e - half], _ONE, out=out)
        out &= _M1
        return
    cut = half - s
    np.bitwise_and(z[s:half], _M1, out=out[:cut])
    np.right_shift(z[: e - half], _ONE, out=out[cut:])
    out[cut:] &= _M1


async def b2a(ctx: Context, z: U64, m: int, mat: Mapping[str, U64]) -> U64:
    """One round: XOR-shared packed bits ``z`` (element order, at least ``m`` bits) -> additive
    shares of the same 0/1 values, with packed daBits (``pbit``: ``tb`` packed, ``t``
    additive).  Opens ``v = z ^ tb`` (``ceil(m / 8)`` bytes) and sets
    ``[z] = v + [t] - 2 v [t]``."""
    nbytes = -(-m // 8)
    tb = np.ascontiguousarray(mat["tb"]).reshape(-1).view(np.uint8)[:nbytes]
    share = np.bitwise_xor(np.ascontiguousarray(z).reshape(-1).view(np.uint8)[:nbytes], tb)
    v8 = unpack_bits(await open_xor_inplace(ctx, share), m)
    t = mat["t"].reshape(-1)
    out = np.empty(m, dtype=np.uint64)
    v = np.empty(min(CHUNK, m), dtype=np.uint64)
    for s in range(0, m, CHUNK):
        sl = slice(s, s + CHUNK)
        vk = v[: t[sl].size]
        np.copyto(vk, v8[sl], casting="unsafe")
        ok = out[sl]
        np.negative(vk, out=ok)  # all ones where v = 1: t ^ ones + 1 = -t
        ok ^= t[sl]
        ok += vk
        if ctx.is_first:
            ok += vk
    return out
