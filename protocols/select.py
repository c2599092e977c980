"""Maximum and argmax of a shared vector by a comparison tournament.

Each tournament level pairs up the surviving candidates ``(a, b)`` (an odd one out passes
through), computes ``s = [a < b]`` for all pairs at once with :func:`protocols.compare.lt`
(8 rounds), and selects ``a + s * (b - a)`` for the value and for the candidate's one-hot
index vector with **one** batched Beaver :func:`protocols.arith.mul` (1 round).  Ties keep
``a``, the candidate with the lower index, so argmax returns the *lowest* index among equal
maxima (deterministic tie-break).

Costs for m elements (n parties, k = 64), online:

* :func:`argmax` - **9 * ceil(log2 m) rounds**; level with p pairs costs one ``lt`` of p
  elements (``~31.4 * (n - 1)`` bytes per pair, see :mod:`protocols.compare`) and one ``mul``
  of ``p * (1 + m)`` elements (``16 * (n - 1)`` bytes each).
* :func:`maximum` - the same tournament without index vectors: **9 * ceil(log2 m) rounds**,
  the mul is ``p`` elements per level.
* :func:`index_from_onehot` - local (0 rounds): dot product with ``arange(m)`` (or given ids).
* :func:`top_two` - the maximum, the public id of its position and the second maximum (a
  Vickrey auction's winner and price): **18 * ceil(log2 m) rounds**, O(m) comparisons and
  products (no one-hot vectors).

Built on Catrina & de Hoogh (SCN 2010) comparisons and Beaver (CRYPTO 1991) multiplication.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.arith import TRUNC_LIMIT, mul, truncate
from protocols.compare import lt
from protocols.types import U64, Shared, contig, public


def levels(m: int) -> int:
    """ceil(log2 m): the number of tournament levels (0 for m = 1)."""
    return max(0, int(m - 1).bit_length())


async def _tournament(ctx: Context, x: Shared, with_index: bool) -> tuple[Shared, Shared | None]:
    if len(x.shape) != 1 or x.shape[0] < 1:
        raise LocalProtocolError("maximum/argmax need a non-empty 1-D vector")
    m = x.shape[0]
    f = x.frac_bits
    # cand[:, 0] is the value, cand[:, 1:] the one-hot index vector (integers, frac 0).  Values
    # are compared and selected as integers; every candidate stays within its original bounds.
    vals = x.share.reshape(m, 1)
    lo, hi = (min(x.lo, 0), max(x.hi, 1)) if with_index else x.bounds
    if with_index:
        onehot = public(np.eye(m, dtype=np.int64), ctx.is_first).share
        cand = contig(np.concatenate([vals, onehot], axis=1))
    else:
        cand = contig(vals)
    while cand.shape[0] > 1:
        k = cand.shape[0]
        p = k // 2
        a = cand[0 : 2 * p : 2]
        b = cand[1 : 2 * p : 2]
        s = await lt(
            ctx, Shared(contig(a[:, 0]), 0, *x.bounds), Shared(contig(b[:, 0]), 0, *x.bounds)
        )
        width = cand.shape[1]
        sel = Shared(contig(np.repeat(s.share[:, None], width, axis=1)), 0, 0, 1)
        diff = Shared(contig(b - a), 0, lo - hi, hi - lo)
        prod = await mul(ctx, sel, diff)
        won = a + prod.share
        if k % 2:
            won = np.concatenate([won, cand[k - 1 : k]], axis=0)
        cand = contig(won)
    best = Shared(contig(cand[0, 0]), f, *x.bounds)
    idx = Shared(contig(cand[0, 1:]), 0, 0, 1) if with_index else None
    return best, idx


async def maximum(ctx: Context, x: Shared) -> Shared:
    """Shared maximum of a 1-D shared vector: 9 * ceil(log2 m) rounds."""
    ctx = ctx.scope("maximum")
    best, _ = await _tournament(ctx, x, with_index=False)
    return best


async def argmax(ctx: Context, x: Shared) -> tuple[Shared, Shared]:
    """``(max, onehot)``: the shared maximum and a shared one-hot vector of its position.

    Ties go to the lowest index.  9 * ceil(log2 m) rounds.
    """
    ctx = ctx.scope("argmax")
    best, idx = await _tournament(ctx, x, with_index=True)
    if idx is None:  # pragma: no cover
        raise LocalProtocolError("argmax lost its index")
    return best, idx


def index_from_onehot(onehot: Shared, ids: Sequence[int] | None = None) -> Shared:
    """Local: ``sum_i onehot[i] * ids[i]`` (``ids`` default ``0 .. m-1``), 0 rounds."""
    if len(onehot.shape) != 1:
        raise LocalProtocolError("index_from_onehot needs a 1-D one-hot vector")
    m = onehot.shape[0]
    w = np.arange(m, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if w.shape != (m,):
        raise LocalProtocolError("ids must have one entry per position")
    prod = np.multiply(onehot.share, w.view(np.uint64), out=np.empty(m, dtype=np.uint64))
    lo, hi = min(0, int(w.min())), max(0, int(w.max()))  # a one-hot selects exactly one id
    return Shared(contig(np.sum(prod, dtype=np.uint64)), 0, lo, hi)


def _select(s: U64, a: U64, b: U64) -> tuple[U64, U64]:
    """Columns of ``a + s * (b - a)`` to multiply: the selector repeated, and ``b - a``."""
    width = a.shape[1]
    return contig(np.repeat(s[:, None], width, axis=1)), contig(b - a)


def _checked_ids(
    x: Shared, ids: Sequence[int], what: str
) -> tuple[int, npt.NDArray[np.int64], int, int]:
    """``(m, ids as int64, min id, max id)`` for a non-empty 1-D ``x`` with one id per entry."""
    if len(x.shape) != 1 or x.shape[0] < 1:
        raise LocalProtocolError(f"{what} needs a non-empty 1-D vector")
    m = x.shape[0]
    w = np.asarray(ids, dtype=np.int64)
    if w.shape != (m,):
        raise LocalProtocolError("ids must have one entry per position")
    return m, w, int(w.min()), int(w.max())


async def top_two(
    ctx: Context, x: Shared, ids: Sequence[int], *, runner_up: bool = True
) -> tuple[Shared, Shared, Shared]:
    """``(max, id of the max, second max)`` of a 1-D shared vector, by a tournament whose
    candidates carry ``(value, id, runner-up)``; ``ids`` are public integers, one per position.

    A merge of ``A = (a, i, a2)`` and ``B = (b, j, b2)``: ``s = [a < b]`` (8 rounds), one Beaver
    product selects the winner's value, id and runner-up (1 round), then the new runner-up is
    ``max(loser, winner's runner-up)`` (8 + 1 rounds), where ``loser = a + b - winner``
    (local).  Ties keep ``A`` (the lower position).  18 ceil(log2 m) rounds; per level with p
    merges, two comparisons of p elements and products of 4 p elements: O(m) in total, unlike an
    argmax with one-hot vectors (O(m^2)).  With one element the runner-up is ``x.lo``.
    ``runner_up=False`` skips it (the winner and its id only): 9 ceil(log2 m) rounds.
    """
    ctx = ctx.scope("top_two")
    m, w, ilo, ihi = _checked_ids(x, ids, "top_two")
    lo, hi = x.bounds
    span = max(hi - lo, ihi - ilo)
    low = public(np.full(m, lo, dtype=np.int64), ctx.is_first).share
    columns = [x.share, public(w, ctx.is_first).share] + ([low] if runner_up else [])
    cand = contig(np.stack(columns, axis=1))
    while cand.shape[0] > 1:
        k = cand.shape[0]
        p = k // 2
        a, b = cand[0 : 2 * p : 2], cand[1 : 2 * p : 2]
        s = await lt(ctx, Shared(contig(a[:, 0]), 0, lo, hi), Shared(contig(b[:, 0]), 0, lo, hi))
        sel, diff = _select(s.share, a, b)
        won = a + (await mul(ctx, Shared(sel, 0, 0, 1), Shared(diff, 0, -span, span))).share
        if runner_up:
            loser = contig(a[:, 0] + b[:, 0] - won[:, 0])
            t = await lt(ctx, Shared(loser, 0, lo, hi), Shared(contig(won[:, 2]), 0, lo, hi))
            d2 = Shared(contig(won[:, 2] - loser), 0, lo - hi, hi - lo)
            won[:, 2] = loser + (await mul(ctx, Shared(t.share, 0, 0, 1), d2)).share
        if k % 2:
            won = np.concatenate([won, cand[k - 1 : k]], axis=0)
        cand = contig(won)
    best = Shared(contig(cand[0, 0]), x.frac_bits, lo, hi)
    second = Shared(contig(cand[0, 2] if runner_up else low[0]), x.frac_bits, lo, hi)
    return best, Shared(contig(cand[0, 1]), 0, ilo, ihi), second


async def max_id(ctx: Context, x: Shared, ids: Sequence[int]) -> tuple[Shared, Shared]:
    """``(max, id of the max)`` of a 1-D integer vector, one comparison and **one** product per
    merge: each candidate is the single ring element ``P = x * 2^B + (max(ids) - id)``
    (``B`` bits for the id offsets), so comparing ``P`` orders by value and, among equal values,
    prefers the smaller id; selecting the winner's ``P`` is one Beaver product where
    :func:`top_two` needs two (value and id).  At the end one exact split of the winner's ``P``
    (a truncation, 1 round, and one comparison with 0, 8 rounds, on a single element) gives its
    value and id.  ``9 ceil(log2 m) + 9`` rounds; ``m - 1`` comparisons and ``m - 1`` products.
    Falls back to :func:`top_two` when ``P`` would not fit (``|P| >= 2^62``), for fixed-point
    values, or when ids repeat.
    """
    ctx = ctx.scope("max_id")
    m, w, ilo, ihi = _checked_ids(x, ids, "max_id")
    lo, hi = x.bounds
    bits = max(1, (ihi - ilo).bit_length())
    plo, phi = lo << bits, (hi << bits) + (1 << bits) - 1
    fits = -TRUNC_LIMIT <= plo and phi < TRUNC_LIMIT and phi - plo < TRUNC_LIMIT
    if x.frac_bits or not fits or len(set(w.tolist())) != m:
        best, who, _ = await top_two(ctx, x, ids, runner_up=False)
        return best, who
    keys = public(ihi - w, ctx.is_first).share
    cand = contig(np.left_shift(x.share, np.uint64(bits)) + keys)  # x * 2^B + key, mod 2^64
    while cand.shape[0] > 1:
        k = cand.shape[0]
        p = k // 2
        a, b = contig(cand[0 : 2 * p : 2]), contig(cand[1 : 2 * p : 2])
        s = await lt(ctx, Shared(a, 0, plo, phi), Shared(b, 0, plo, phi))
        won = a + (await mul(ctx, s, Shared(contig(b - a), 0, plo - phi, phi - plo))).share
        if k % 2:
            won = np.concatenate([won, cand[k - 1 : k]])
        cand = contig(won)
    return await _split_packed(ctx, Shared(cand, bits, plo, phi), bits, ihi, (lo, hi), (ilo, ihi))


async def _split_packed(
    ctx: Context,
    packed: Shared,
    bits: int,
    top: int,
    value_bounds: tuple[int, int],
    id_bounds: tuple[int, int],
) -> tuple[Shared, Shared]:
    """``(x, id)`` from ``P = x * 2^B + (top - id)`` exactly: 9 rounds on one element.

    ``t = truncate(P, B) = floor(P / 2^B) + e`` with ``e`` in ``{0, 1}``, so ``low = P - 2^B t``
    is ``(P mod 2^B) - e 2^B``: negative exactly when ``e = 1``.  ``e = [low < 0]`` (one
    comparison) fixes both: ``x = t - e`` and ``P mod 2^B = low + 2^B e``.
    """
    t = await truncate(ctx, packed, bits)
    low = packed.share - np.left_shift(t.share, np.uint64(bits))
    zero = public(np.zeros(low.shape, dtype=np.int64), ctx.is_first)
    e = await lt(ctx, Shared(contig(low), 0, -(1 << bits), (1 << bits) - 1), zero)
    key = low + np.left_shift(e.share, np.uint64(bits))
    value = Shared(contig(t.share - e.share).reshape(()), 0, *value_bounds)
    top_share = public(np.array([top], dtype=np.int64), ctx.is_first).share
    who = Shared(contig(top_share - key).reshape(()), 0, *id_bounds)
    return value, who
