"""Batched shared arithmetic for tree training: many products, truncations or comparisons in
the rounds of one.

What it is for: private training evaluates several independent products (of different shapes
and fixed-point scales) at every step; doing them one call at a time would cost one round
each.  :func:`mul_many` runs all of them in **one** Beaver round (D. Beaver, CRYPTO 1991) and,
for the items that ask for it, **one** more round of exact truncation (the ``trunc`` material
and the wrap-free formula of :func:`protocols.arith.truncate`, after Escudero et al., CRYPTO
2020); :func:`lt_many` runs several comparisons as one :func:`protocols.compare.lt` call (8
rounds whatever the count).  Nothing here is new cryptography: it only concatenates.

Costs for ``m`` elements in all (n parties, one party's online bytes):

* :func:`mul_many` - 1 round, ``16 (n - 1) m`` bytes, plus 1 round and ``8 (n - 1) t`` bytes if
  ``t > 0`` of the elements are truncated;
* :func:`truncate_many` - 1 round, ``8 (n - 1) m`` bytes;
* :func:`lt_many` / :func:`ge_public` - 8 rounds, ``~39.4 (n - 1) m`` bytes
  (:func:`protocols.compare.lt_payload_bytes`);
* :func:`eq_public` - 8 rounds, ``~23.9 (n - 1) m`` bytes.

Bounds: every product's bounds come from interval arithmetic and are checked before anything
is sent (BoundsError), a truncated product must stay below ``2^62`` in magnitude.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``mpc_runtime.preprocessing.requests`` (the ``Component`` type), ``protocols.*``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from mpc_runtime.sharing import beaver
from protocols.compare import eq, lt
from protocols.io import open_raw
from protocols.types import (
    U64,
    Shared,
    check_bounds,
    contig,
    floor_shift,
    product_bounds,
    public,
    require_range,
)

TRUNC_LIMIT = 2**62
"""Exact truncation needs ``|x| < 2^62`` (see :func:`protocols.arith.truncate`)."""

MulItem = tuple[Shared, Shared, int]
"""``(x, y, bits)``: the product ``x * y`` with ``fx + fy`` fractional bits, truncated by
``bits`` (0: exact, no truncation round for this item)."""


def _flat(parts: Sequence[U64]) -> U64:
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return contig(np.concatenate([p.reshape(-1) for p in parts]))


def _split(flat: U64, shapes: Sequence[tuple[int, ...]]) -> list[U64]:
    out, pos = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        out.append(contig(flat[pos : pos + size].reshape(shape)))
        pos += size
    return out


def _product_meta(ctx: Context, item: MulItem) -> tuple[int, int, int]:
    x, y, bits = item
    if not isinstance(x, Shared) or not isinstance(y, Shared):
        raise LocalProtocolError("mul_many takes (Shared, Shared, bits) items")
    if x.shape != y.shape:
        raise LocalProtocolError(f"mul_many operands differ in shape: {x.shape} vs {y.shape}")
    f = x.frac_bits + y.frac_bits
    if f >= 63 or not 0 <= bits <= f:
        raise LocalProtocolError("mul_many: bad fractional bits or truncation amount")
    lo, hi = check_bounds(*product_bounds(x.bounds, y.bounds), f, f"a product at {ctx.path}")
    if bits:
        require_range(Shared(x.share, f, lo, hi), -TRUNC_LIMIT, TRUNC_LIMIT - 1, str(ctx.path))
    return f, lo, hi


async def mul_many(ctx: Context, items: Sequence[MulItem]) -> list[Shared]:
    """Every ``x * y`` of ``items``: 1 Beaver round (+1 truncation round if any ``bits > 0``)."""
    ctx = ctx.scope("mul_many")
    metas = [_product_meta(ctx, it) for it in items]
    sizes = [it[0].size for it in items]
    total = int(sum(sizes))
    groups = sorted({b for _, _, b in items if b})
    comps = [Component("triple", (total,))]
    for b in groups:
        n_b = sum(s for (_, _, bb), s in zip(items, sizes, strict=True) if bb == b)
        comps.append(Component("trunc", (n_b,), frac_bits=b))
    mats = await ctx.material(comps)
    trip = mats[0]
    x = _flat([it[0].share for it in items])
    y = _flat([it[1].share for it in items])
    d, e = beaver.mask_pair(x, y, trip["a"], trip["b"])
    opened = await open_raw(ctx, np.concatenate([d, e]))
    z = beaver.finish_mul(
        contig(opened[:total]),
        contig(opened[total:]),
        trip["a"],
        trip["b"],
        trip["c"],
        ctx.is_first,
    )
    shares = _split(z, [it[0].shape for it in items])
    prods = [Shared(s, f, lo, hi) for s, (f, lo, hi) in zip(shares, metas, strict=True)]
    if not groups:
        return prods
    todo = [(i, prods[i], items[i][2]) for i in range(len(items)) if items[i][2]]
    done = await _truncate_groups(ctx, todo, dict(zip(groups, mats[1:], strict=True)))
    for i, v in done.items():
        prods[i] = v
    return prods


async def truncate_many(ctx: Context, items: Sequence[tuple[Shared, int]]) -> list[Shared]:
    """``floor(x / 2^bits) + e`` (``e in {0, 1}``) for every item in one round."""
    ctx = ctx.scope("trunc_many")
    for x, bits in items:
        if not 0 < bits <= x.frac_bits or bits >= 63:
            raise LocalProtocolError("truncate_many needs 0 < bits <= frac_bits")
        require_range(x, -TRUNC_LIMIT, TRUNC_LIMIT - 1, f"the truncation at {ctx.path}")
    groups = sorted({b for _, b in items})
    comps = [
        Component("trunc", (sum(x.size for x, b in items if b == g),), frac_bits=g) for g in groups
    ]
    mats = await ctx.material(comps)
    todo = [(i, x, b) for i, (x, b) in enumerate(items)]
    done = await _truncate_groups(ctx, todo, dict(zip(groups, mats, strict=True)))
    return [done[i] for i in range(len(items))]


async def _truncate_groups(
    ctx: Context, todo: Sequence[tuple[int, Shared, int]], mats: dict[int, dict[str, U64]]
) -> dict[int, Shared]:
    """One round: exact truncation of every ``(index, x, bits)`` (material per ``bits``)."""
    first = ctx.is_first
    offsets = {b: 0 for b in mats}
    masked, where = [], []
    for i, x, b in todo:
        pos = offsets[b]
        r = mats[b]["r"][pos : pos + x.size].reshape(x.shape)
        offsets[b] = pos + x.size
        m = np.add(x.share, r, out=np.empty(x.shape, dtype=np.uint64))
        if first:
            m += np.uint64(TRUNC_LIMIT)
        masked.append(m)
        where.append((i, x, b, pos))
    opened = _split(await open_raw(ctx, _flat(masked)), [x.shape for _, x, _ in todo])
    out: dict[int, Shared] = {}
    for c, (i, x, b, pos) in zip(opened, where, strict=True):
        size = x.size
        r_hi = mats[b]["r_hi"][pos : pos + size].reshape(x.shape)
        r_msb = mats[b]["r_msb"][pos : pos + size].reshape(x.shape)
        c63 = np.right_shift(c, np.uint64(63))
        bit = np.multiply(r_msb, np.uint64(1) - (c63 << np.uint64(1)))
        if first:
            bit += c63
        z = np.left_shift(bit, np.uint64(63 - b))
        z -= r_hi
        if first:
            z += np.right_shift(np.bitwise_and(c, np.uint64(2**63 - 1)), np.uint64(b))
            z -= np.uint64(1 << (62 - b))
        lo, hi = floor_shift(x.lo, b), floor_shift(x.hi, b) + 1
        out[i] = Shared(contig(z), x.frac_bits - b, lo, hi)
    return out


async def lt_many(ctx: Context, pairs: Sequence[tuple[Shared, Shared]]) -> list[Shared]:
    """``[x < y]`` (shared 0/1) for every pair, in one comparison call (8 rounds).

    The operands of a pair must share their fixed-point scale; pairs may differ in shape and
    scale (only the sign of ``x - y`` matters, so differences are compared as integers).
    """
    ctx = ctx.scope("lt_many")
    diffs = []
    for x, y in pairs:
        d = x - y  # refuses a difference that could wrap
        diffs.append(Shared(contig(d.share.reshape(-1)), 0, d.lo, d.hi))
    lo, hi = min(d.lo for d in diffs), max(d.hi for d in diffs)
    allv = Shared(_flat([d.share for d in diffs]), 0, lo, hi)
    zero = Shared(np.zeros(allv.shape, dtype=np.uint64), 0, 0, 0)
    bits = await lt(ctx, allv, zero)
    shares = _split(bits.share, [x.shape for x, _ in pairs])
    return [Shared(s, 0, 0, 1) for s in shares]


def public_like(ctx: Context, value: int, x: Shared) -> Shared:
    """A sharing of the public encoded integer ``value`` with ``x``'s shape and scale."""
    return public(np.full(x.shape, value, dtype=np.int64), ctx.is_first, frac_bits=x.frac_bits)


async def ge_public(ctx: Context, items: Sequence[tuple[Shared, int]]) -> list[Shared]:
    """``[x >= c]`` for public encoded integers ``c`` (same scale as ``x``): 8 rounds."""
    ctx = ctx.scope("ge_public")
    bits = await lt_many(ctx, [(x, public_like(ctx, c, x)) for x, c in items])
    return [one_minus(ctx, b) for b in bits]


def one_minus(ctx: Context, bit: Shared) -> Shared:
    """``1 - b`` for a shared 0/1 integer (local)."""
    return (-bit).add_public(1, ctx.is_first).with_bounds(0, 1)


async def eq_public(ctx: Context, x: Shared, values: U64 | np.ndarray) -> Shared:
    """``[x == v]`` elementwise against a public integer array of ``x``'s shape: 8 rounds."""
    ctx = ctx.scope("eq_public")
    pub = public(np.asarray(values, dtype=np.int64), ctx.is_first, frac_bits=x.frac_bits)
    if pub.shape != x.shape:
        raise LocalProtocolError("eq_public: the public values must have x's shape")
    flat_x = x.reshape(-1)
    res = await eq(ctx, flat_x, pub.reshape(-1))
    return Shared(contig(res.share.reshape(x.shape)), 0, 0, 1)


def combine(ctx: Context, bits: Sequence[Shared], coefs: np.ndarray, base: np.ndarray) -> Shared:
    """``base + sum_j bits[j] * coefs[j]`` for shared 0/1 ``bits`` (same shape) and public
    integer tables ``coefs`` ``(J, *tail)`` and ``base`` ``tail``: local, 0 rounds.

    The result has shape ``bits[0].shape + tail``; bounds by interval arithmetic.
    """
    coefs = np.asarray(coefs, dtype=np.int64)
    base = np.asarray(base, dtype=np.int64)
    if len(bits) != coefs.shape[0]:
        raise LocalProtocolError("combine: one coefficient row per bit")
    shape = bits[0].shape
    tail = coefs.shape[1:]
    acc = np.zeros((*shape, *tail), dtype=np.uint64)
    lo = hi = 0
    expand = (...,) + (None,) * len(tail)
    for b, raw in zip(bits, coefs, strict=True):
        row = np.asarray(raw, dtype=np.int64)
        acc += b.share[expand] * row.view(np.uint64)
        lo += int(np.minimum(row, 0).min(initial=0))
        hi += int(np.maximum(row, 0).max(initial=0))
    if ctx.is_first:
        acc += np.broadcast_to(base.view(np.uint64), acc.shape)
    lo += int(base.min(initial=0))
    hi += int(base.max(initial=0))
    check_bounds(lo, hi, 0, "a public combination of bits")
    return Shared(contig(acc), 0, lo, hi)


__all__ = [
    "TRUNC_LIMIT",
    "combine",
    "eq_public",
    "ge_public",
    "lt_many",
    "mul_many",
    "one_minus",
    "public_like",
    "truncate_many",
]
