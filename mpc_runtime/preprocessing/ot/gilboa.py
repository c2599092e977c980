"""Correlated OT over Z_2^64 from random OT: Gilboa's product shares, and random OT => AND shares.

Gilboa, "Two Party RSA Key Generation" (CRYPTO 1999), as used for triples in MASCOT (Keller,
Orsini, Scholl, CCS 2016) and MP-SPDZ's semi2k.  The OTs of a batch are laid out ``t = 64 e + k``
(element e, field k), so the receiver's choice words ARE its multiplicands' bits.  Given a random
OT (sender: ``x0, x1``; receiver: ``x_c``) and a sender correlation ``v`` for field k of width
``w_k``:

* sender sends ``d = x1 - x0 - v mod 2^w_k`` and keeps ``-x0``;
* receiver keeps ``x_c - c d = x0 + c v mod 2^w_k``.

The two shares add to ``c v``.  Weighted by ``2^k`` and summed over k = 0..63 this is a share of
``v * b`` for the receiver's 64-bit b (only the low ``64 - k`` bits of field k matter, so
``w_k = 64 - k`` suffices: 2080 bits per product, sent as 33 uint64 words by
:class:`~.bitmatrix.PackPlan`).  Unweighted with 1-bit c it is the 1-bit product of daBits.

AND shares (Schneider and Zohner, "GMW vs. Yao?", FC 2013; "random OT => AND share"): with
``x0, x1`` the low bits of a random OT, ``x0 xor x_c = c (x0 xor x1)``: the sender's bit
``x0 xor x1`` is a random multiplicand for free; a fixed multiplicand a costs one correction bit
``x0 xor x1 xor a``.

All functions work in row blocks so temporaries stay in cache.
May import: numpy, :mod:`mpc_runtime.errors` and ``.bitmatrix``.
"""

from __future__ import annotations

import numpy as np

from mpc_runtime.errors import LocalProtocolError

from .bitmatrix import PackPlan, U64Array, word_bits

__all__ = ["ROW_BLOCK", "cot_recv", "cot_send"]

ROW_BLOCK = 1024
"""Elements (64 OTs each) per block of the post-processing loops."""

_WEIGHTS = np.arange(64, dtype=np.uint64)


def _check(h: U64Array, rows: int) -> U64Array:
    if h.shape != (64 * rows,):
        raise LocalProtocolError("OT outputs do not match the number of elements")
    return h.reshape(rows, 64)


def cot_send(
    h0: U64Array, h1: U64Array, corr: U64Array, plan: PackPlan, *, weighted: bool
) -> tuple[U64Array, U64Array]:
    """Sender side for M elements: ``(packed corrections (M, words), our share)``.

    ``corr`` is (M,) (one multiplicand per element, every field) or (M, 64) (one per field).
    The share is ``-sum_k 2^k x0[e, k]`` of shape (M,) if ``weighted``, else ``-x0`` (M, 64).
    """
    rows = corr.shape[0]
    x0s, x1s = _check(h0, rows), _check(h1, rows)
    packed = np.empty((rows, plan.words), dtype=np.uint64)
    share = np.empty((rows,) if weighted else (rows, 64), dtype=np.uint64)
    for s in range(0, rows, ROW_BLOCK):
        e = min(rows, s + ROW_BLOCK)
        x0 = x0s[s:e]
        d = x1s[s:e] - x0
        d -= corr[s:e, None] if corr.ndim == 1 else corr[s:e]
        packed[s:e] = plan.pack(d)
        if weighted:
            np.negative((x0 << _WEIGHTS).sum(axis=1, dtype=np.uint64), out=share[s:e])
        else:
            np.negative(x0, out=share[s:e])
    return packed, share


def cot_recv(
    ht: U64Array, choices: U64Array, packed: U64Array, plan: PackPlan, *, weighted: bool
) -> U64Array:
    """Receiver side for M elements: our share of ``c * corr`` (see :func:`cot_send`).

    ``choices`` (M,) are the choice words used in the extension; ``packed`` (M, words).
    """
    rows = choices.shape[0]
    hts = _check(ht, rows)
    if packed.shape != (rows, plan.words):
        raise LocalProtocolError("packed corrections do not match the number of elements")
    share = np.empty((rows,) if weighted else (rows, 64), dtype=np.uint64)
    for s in range(0, rows, ROW_BLOCK):
        e = min(rows, s + ROW_BLOCK)
        d = plan.unpack(packed[s:e])
        d &= np.negative(word_bits(choices[s:e]))
        v = hts[s:e] - d
        if weighted:
            v <<= _WEIGHTS
            v.sum(axis=1, dtype=np.uint64, out=share[s:e])
        else:
            share[s:e] = v
    return share
