"""Order-preserving oblivious compaction of XOR-shared rows: marked rows to the front, in order.

Used to reveal an intersection without revealing *where* its items sat: the rows of one party's
sorted list whose membership bit is set move to the front, keeping their (ascending) order, and
every other row becomes zero, so what is opened depends only on the set of common items.

Method (the logarithmic shifting network of order-preserving compaction, e.g. M. T. Goodrich,
"Data-oblivious external-memory algorithms for the compaction, selection, and sorting of
outsourced data", SPAA 2011): a marked row i must move up by ``o_i`` = the number of unmarked
rows before it.  With ``d_i = i - o_i`` (the marked rows before it), two marked rows ``i < j``
after moving by the low ``k + 1`` bits of their offsets sit at ``i - (o_i mod 2^(k+1))`` and
``j - (o_j mod 2^(k+1))``, whose difference is ``(d_j - d_i) + 2^(k+1) * (floor(o_j / 2^(k+1)) -
floor(o_i / 2^(k+1))) >= 1`` because offsets never decrease along marked rows: rows never
collide, so a layer is ``Y = move and row``, ``row' = row xor Y xor (Y shifted up by 2^k)`` -
**one AND per bit per row** and one round.

Steps and costs for m rows of w bits, ``K = bitlength(m - 1)`` (n parties, online):

1. ``o = i - prefix_sum(f)`` on the additive shares of the marks (local), its low K bits by
   :func:`protocols.psi.bits.low_bits`: ``1 + ceil(log2 K)`` rounds.
2. Zero unmarked rows and AND the offset bits with the mark: 1 round, ``(w + K) m`` ANDs.
3. K layers, layer k moving ``w + 1 + (K - k - 1)`` bits per row: K rounds.

In all **K + 2 + ceil(log2 K) rounds** and ``(w + K) m + sum_k (w + K - k) m`` AND gates, each
opening 2 bits: ``(n - 1) * (8 m + 16 * sum_r ceil(g_r / 64))`` bytes per party for the rounds'
gate counts g_r.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.psi.bits import Bits, and_bits, and_component, low_bits
from protocols.types import U64, contig

__all__ = ["compact", "compact_gates", "offset_bits"]


def offset_bits(m: int) -> int:
    """K: bits of the largest offset ``m - 1`` (at least 1)."""
    return max(1, int(m - 1).bit_length())


def compact_gates(m: int, w: int) -> list[int]:
    """AND gates of each round after the offset bits: zeroing, then the K layers."""
    k = offset_bits(m)
    return [(w + k) * m] + [(w + 1 + k - j - 1) * m for j in range(k)]


async def compact(ctx: Context, marks: Bits, marks_a: U64, rows: Bits) -> tuple[Bits, Bits]:
    """``(rows', marks')``: marked rows first in their order, the rest zero (see above).

    ``marks``: XOR shares (m,); ``marks_a``: additive shares of the same 0/1 marks; ``rows``:
    XOR-shared (m, w) bits.
    """
    ctx = ctx.scope("compact")
    m, w = rows.shape
    if marks.shape != (m,) or marks_a.shape != (m,):
        raise LocalProtocolError("compact needs one mark per row")
    k = offset_bits(m)
    # o_i = i - sum_{j < i} f_j: the marked rows before i are subtracted from i.
    before = np.cumsum(marks_a, dtype=np.uint64) - marks_a
    off = np.subtract(np.zeros(m, dtype=np.uint64), before)
    if ctx.is_first:
        np.add(off, np.arange(m, dtype=np.uint64), out=off)
    bits = await low_bits(ctx, contig(off), k)
    trips = await ctx.material([and_component(g) for g in compact_gates(m, w)])
    f_rows = np.repeat(marks[:, None], w + k, axis=1)
    (both,) = await and_bits(ctx, [np.concatenate([rows, bits], axis=1)], [f_rows], trips[0])
    state = np.concatenate([both[:, :w], marks[:, None], both[:, w:]], axis=1)
    for j in range(k):
        move = state[:, w + 1]  # this layer's offset bit (already ANDed with the mark)
        cols = np.concatenate([state[:, : w + 1], state[:, w + 2 :]], axis=1)
        (y,) = await and_bits(
            ctx, [cols], [np.repeat(move[:, None], cols.shape[1], axis=1)], trips[j + 1]
        )
        shift = 1 << j
        new = cols ^ y
        if shift < m:
            new[:-shift] ^= y[shift:]
        state = new
    return contig(state[:, :w]), contig(state[:, w])
