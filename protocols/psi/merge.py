"""Oblivious merge of the parties' sorted lists by Batcher's merging networks, and its inverse.

Each party's list is sorted locally, so the lists need only be *merged*, not sorted (K. E.
Batcher, "Sorting networks and their applications", AFIPS 1968; used for set intersection by
Huang, Evans, Katz, "Private Set Intersection: Are Garbled Circuits Better than Custom
Protocols?", NDSS 2012).  Two networks merge sorted lists ``A`` (a items) and ``B`` (b items):

* *bitonic*: ``A``, public +infinity slots, ``B`` reversed in ``L = 2^ceil(log2(a + b))`` slots;
  layer t compares slots ``i`` and ``i + L / 2^(t+1)``: ``(L / 2) log2 L`` comparators;
* *odd-even*: ``A`` and ``B``, each padded with infinities to ``h = 2^ceil(log2 max(a, b))``,
  in the two halves; layers at distances ``h, h / 2, ..., 1``: ``h log2 h + 1`` comparators for
  ``a = b = h`` (one layer's worth fewer than bitonic).

Both have ``log2 L`` layers (rounds) for equal powers of two; the plan takes the network with
fewer layers, then fewer comparators.  Where an infinity enters a comparator the outcome is
public and costs nothing (the plan, which depends only on the sizes, knows it); only comparators
of two real items are secure: ``s = [x_hi < x_lo]`` by :func:`protocols.compare.lt` (8 rounds)
and the exchange ``x_lo += s (x_hi - x_lo)``, ``x_hi -= s (x_hi - x_lo)`` by one Beaver
:func:`protocols.arith.mul` (1 round).  After the last layer the a + b real items sit sorted in
the first a + b slots.

n lists are merged in a balanced tree, pairing neighbours level by level (an odd list waits);
the merges of one level run in lock step.  For n lists of m items each (m a power of two) level
j has merges of ``L = 2^j m`` slots: **rounds** ``9 * sum_j log2(2^j m)`` (``9 log2(2m)`` for
n = 2); **bytes** per secure comparator ``(n - 1) * (39.375 + 16)`` per party online
(comparison plus multiplexer); ``m log2 m + 1`` comparators for n = 2 (exact counts for any
sizes: :func:`plan`, :mod:`protocols.psi.costs`).

Every comparator records the XOR share of its swap bit (the low bit of the additive share, no
cost), so :func:`route_back` can send bits from the merged list back to the slots they came
from: a comparator is undone with one AND (``delta = s and (f_lo xor f_hi)``), **one round per
layer**, ``(n - 1) * 16 * ceil(p / 64)`` bytes for p secure comparators.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.arith import mul
from protocols.compare import lt
from protocols.psi.bits import Bits, a2b_bit, and_bits, and_component
from protocols.types import U64, Shared, contig

__all__ = ["Layer", "Level", "MergeTree", "merge_lists", "plan", "route_back"]

I64 = npt.NDArray[np.int64]


@dataclass
class Layer:
    """One layer of a level: secure comparators and public swaps (global buffer slots)."""

    lo: I64
    hi: I64
    pub_lo: I64
    pub_hi: I64
    swap: Bits | None = None
    """XOR shares of the secure comparators' swap bits, once the layer ran."""


@dataclass
class Merge:
    """One merge of two segments (a and b items) in a buffer of ``size`` slots at ``base``.

    Bitonic: A at the start, B reversed at the end.  Odd-even: A at the start, B from the
    middle, in order.
    """

    a: int
    b: int
    size: int
    base: int
    bitonic: bool = True

    def b_slots(self) -> slice:
        """Where B sits in the level buffer (reversed for a bitonic merge)."""
        if self.bitonic:
            return slice(self.base + self.size - self.b, self.base + self.size)
        mid = self.base + self.size // 2
        return slice(mid, mid + self.b)

    def put_b(self, buf: np.ndarray, values: np.ndarray) -> None:
        buf[self.b_slots()] = values[::-1] if self.bitonic else values

    def take_b(self, buf: np.ndarray) -> np.ndarray:
        part = buf[self.b_slots()]
        return contig(part[::-1] if self.bitonic else part)


@dataclass
class Level:
    """One level of the merge tree: its merges, the segment passed through, its layers."""

    merges: list[Merge]
    passthrough: bool
    width: int
    layers: list[Layer] = field(default_factory=list)


@dataclass
class MergeTree:
    """The public plan (and, after a merge, the recorded swap bits) for lists of ``sizes``."""

    sizes: list[int]
    levels: list[Level]

    @property
    def total(self) -> int:
        return sum(self.sizes)

    def comparators(self) -> list[int]:
        """Secure comparators per layer, over all levels in order."""
        return [int(layer.lo.size) for lv in self.levels for layer in lv.layers]


def _pow2(x: int) -> int:
    return 1 << max(0, int(x - 1).bit_length())


Slots = tuple[I64, I64, I64, I64]


def _classify(inf: npt.NDArray[np.bool_], lo: I64, hi: I64) -> Slots:
    """Secure comparators (two real items) and public swaps (infinity below a real item)."""
    sec = ~inf[lo] & ~inf[hi]
    pub = inf[lo] & ~inf[hi]
    inf[lo[pub]], inf[hi[pub]] = False, True
    return lo[sec], hi[sec], lo[pub], hi[pub]


def _bitonic(a: int, b: int) -> tuple[int, list[Slots]]:
    """Batcher's bitonic merge: A, infinities, B reversed in ``2^ceil(log2(a + b))`` slots."""
    size = _pow2(a + b)
    inf = np.ones(size, dtype=bool)
    inf[:a] = False
    inf[size - b :] = False
    idx = np.arange(size, dtype=np.int64)
    out, half = [], size // 2
    while half >= 1:
        lo = idx[(idx & half) == 0]
        out.append(_classify(inf, lo, lo + half))
        half //= 2
    _check_sorted(inf, a + b)
    return size, out


def _odd_even(a: int, b: int) -> tuple[int, list[Slots]]:
    """Batcher's odd-even merge: A and B (each padded with infinities) in two halves."""
    half = _pow2(max(a, b))
    size = 2 * half
    inf = np.ones(size, dtype=bool)
    inf[:a] = False
    inf[half : half + b] = False
    out, k = [], half
    while k >= 1:
        starts = np.arange(k % half, size - k, 2 * k, dtype=np.int64)
        lo = (starts[:, None] + np.arange(k, dtype=np.int64)[None, :]).reshape(-1)
        out.append(_classify(inf, lo, lo + k))
        k //= 2
    _check_sorted(inf, a + b)
    return size, out


def _check_sorted(inf: npt.NDArray[np.bool_], real: int) -> None:
    if inf[:real].any():  # pragma: no cover - the networks sort infinities to the top
        raise LocalProtocolError("merge plan left an infinity among the real items")


def _merge_layers(a: int, b: int) -> tuple[int, bool, list[Slots]]:
    """The cheaper network for sizes a, b: fewer layers (rounds), then fewer comparators."""
    options = [(*_bitonic(a, b), True), (*_odd_even(a, b), False)]

    def key(o: tuple[int, list[Slots], bool]) -> tuple[int, int]:
        return len(o[1]), sum(int(x[0].size) for x in o[1])

    size, layers, bitonic = min(options, key=key)
    return size, bitonic, layers


def plan(sizes: Sequence[int]) -> MergeTree:
    """The public merge tree for lists of these sizes (every size >= 1)."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise LocalProtocolError("merging needs at least two lists of at least one item")
    segs = [int(s) for s in sizes]
    levels = []
    while len(segs) > 1:
        merges, base, per_merge = [], 0, []
        for k in range(0, len(segs) - 1, 2):
            a, b = segs[k], segs[k + 1]
            size, bitonic, slots = _merge_layers(a, b)
            m = Merge(a, b, size, base, bitonic)
            merges.append(m)
            per_merge.append(slots)
            base += m.size
        depth = max(len(x) for x in per_merge)
        layers: list[Layer] = []
        for t in range(depth):
            parts = [(m.base, x[t]) for m, x in zip(merges, per_merge, strict=True) if t < len(x)]
            cat = [np.concatenate([b + p[j] for b, p in parts]) for j in range(4)]
            layers.append(Layer(cat[0], cat[1], cat[2], cat[3]))
        odd = len(segs) % 2 == 1
        levels.append(Level(merges, odd, base, layers))
        segs = [m.a + m.b for m in merges] + ([segs[-1]] if odd else [])
    return MergeTree([int(s) for s in sizes], levels)


def _fill(level: Level, segs: Sequence[U64]) -> U64:
    buf = np.zeros(level.width, dtype=np.uint64)
    for k, m in enumerate(level.merges):
        buf[m.base : m.base + m.a] = segs[2 * k]
        m.put_b(buf, segs[2 * k + 1])
    return buf


async def merge_lists(
    ctx: Context, lists: Sequence[Shared], tree: MergeTree | None = None
) -> tuple[Shared, MergeTree]:
    """Merge sorted shared lists (1-D, same bounds) into one sorted list; records swap bits."""
    ctx = ctx.scope("merge")
    tree = tree or plan([x.size for x in lists])
    if [x.size for x in lists] != tree.sizes:
        raise LocalProtocolError("lists do not match the merge plan")
    lo_b, hi_b = min(x.lo for x in lists), max(x.hi for x in lists)
    segs = [contig(x.share.reshape(-1)) for x in lists]
    for level in tree.levels:
        buf = _fill(level, segs)
        for layer in level.layers:
            if layer.lo.size:
                layer.swap = await _layer(ctx, buf, layer, lo_b, hi_b)
            if layer.pub_lo.size:
                buf[layer.pub_lo], buf[layer.pub_hi] = buf[layer.pub_hi], buf[layer.pub_lo]
        out = [buf[m.base : m.base + m.a + m.b] for m in level.merges]
        segs = out + ([segs[-1]] if level.passthrough else [])
    return Shared(contig(segs[0]), 0, lo_b, hi_b), tree


async def _layer(ctx: Context, buf: U64, layer: Layer, lo_b: int, hi_b: int) -> Bits:
    """Compare-exchange the secure comparators of one layer in place: 9 rounds."""
    x_lo = Shared(contig(buf[layer.lo]), 0, lo_b, hi_b)
    x_hi = Shared(contig(buf[layer.hi]), 0, lo_b, hi_b)
    s = await lt(ctx, x_hi, x_lo)  # swap when the upper slot holds the smaller value
    prod = await mul(ctx, s, x_hi - x_lo)
    buf[layer.lo] = x_lo.share + prod.share
    buf[layer.hi] = x_hi.share - prod.share
    return a2b_bit(s.share)


async def route_back(ctx: Context, tree: MergeTree, bits: Bits) -> list[Bits]:
    """XOR-shared bits on the merged list -> the same bits at each input list's slots.

    One AND round per layer of the tree (see the module docstring); ``bits`` has the merged
    list's length.
    """
    ctx = ctx.scope("route_back")
    if bits.shape != (tree.total,):
        raise LocalProtocolError("route_back needs one bit per merged item")
    secure = [ly for lv in tree.levels for ly in lv.layers if ly.lo.size]
    if any(ly.swap is None for ly in secure):
        raise LocalProtocolError("route_back needs a merge that ran")
    trips = await ctx.material([and_component(ly.lo.size) for ly in secure]) if secure else []
    k = len(trips)
    segs = [bits]
    for level in reversed(tree.levels):
        n_out = len(level.merges)
        buf = np.zeros(level.width, dtype=np.uint8)
        for j, m in enumerate(level.merges):
            buf[m.base : m.base + m.a + m.b] = segs[j]
        for layer in reversed(level.layers):
            if layer.pub_lo.size:
                buf[layer.pub_lo], buf[layer.pub_hi] = buf[layer.pub_hi], buf[layer.pub_lo]
            if layer.lo.size and layer.swap is not None:
                k -= 1
                diff = buf[layer.lo] ^ buf[layer.hi]
                (delta,) = await and_bits(ctx, [layer.swap], [diff], trips[k])
                buf[layer.lo] ^= delta
                buf[layer.hi] ^= delta
        prev: list[Bits] = []
        for m in level.merges:
            prev.append(contig(buf[m.base : m.base + m.a]))
            prev.append(m.take_b(buf))
        if level.passthrough:
            prev.append(segs[n_out])
        segs = prev
    return segs
