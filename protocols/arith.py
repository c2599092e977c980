"""Arithmetic on additive shares: sums, averages, Beaver multiplication, inner products, exact
fixed-point truncation.

Costs (online phase; n parties, 64-bit ring, one element is 8 bytes):

* :func:`secure_sum` - local, **0 rounds, 0 bytes**.
* :func:`average` - the sum (0 rounds); the recipient divides the revealed sum by the public
  count.  It reveals exactly what the sum reveals, nothing more and nothing less.
* :func:`mul` - Beaver multiplication (D. Beaver, "Efficient Multiparty Protocols Using Circuit
  Randomization", CRYPTO 1991): **1 round**, every party broadcasts its shares of ``d = x - a``
  and ``e = y - b``: ``16 * (n - 1)`` bytes per element per party.  The triple comes from the
  job's preprocessing provider (offline).
* :func:`inner_product` - elementwise Beaver products then a local sum over the last axis:
  **1 round**, ``16 * (n - 1)`` bytes per *input element* per party.
* fixed * fixed: the product (``fx + fy`` fractional bits) is truncated back by :func:`truncate`:
  **1 extra round**, ``8 * (n - 1)`` bytes per element, so **2 rounds**, ``24 * (n - 1)`` bytes.

Exact truncation (:func:`truncate`).  Catrina & Saxena ("Secure Computation with Fixed-Point
Numbers", FC 2010) open ``c = x + r`` for a random ``r`` and subtract ``r >> f``; the opened sum
may wrap mod 2^64, which makes that result wrong by ``2^(64 - f)`` with small probability.  Here
the mask's top bit is shared separately (as in the edaBit-based truncation of Escudero, Ghosh,
Keller, Rachuri, Scholl, CRYPTO 2020), which makes the wrap a *linear* function of public data and
shares: with ``y = x + 2^62`` (``|x| < 2^62``, so ``0 <= y < 2^63``), ``r = r_msb 2^63 + r'`` and
the opened ``c = y + r mod 2^64``, the carry of ``y + r'`` out of bit 63 is
``b = c_63 xor r_msb = c_63 + r_msb - 2 c_63 r_msb`` (linear: ``c_63`` is public), and

    y >> f = (c mod 2^63) >> f - r' >> f + b * 2^(63 - f) - [c mod 2^f < r' mod 2^f],

so every party outputs its share of ``(c mod 2^63) >> f - [r' >> f] + [b] 2^(63 - f) - 2^(62 - f)``
= ``floor(x / 2^f) + e`` with ``e in {0, 1}``: correct up to the last bit for every ``|x| < 2^62``,
with no probabilistic large error.  The material (``r``, ``r' >> f``, ``r_msb``) is the ``trunc``
kind of :mod:`mpc_runtime.preprocessing.requests`.

Bounds: every result carries public bounds by interval arithmetic; a product whose bounds could
leave the ring's no-wrap range, or a truncation whose operand could exceed ``2^62``, raises
:class:`~mpc_runtime.errors.BoundsError` before anything is sent.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.preprocessing``,
``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from mpc_runtime.sharing import beaver
from protocols.io import open_raw
from protocols.types import (
    U64,
    Shared,
    check_bounds,
    contig,
    floor_shift,
    product_bounds,
    require_range,
)

__all__ = ["average", "inner_product", "mul", "secure_sum", "truncate"]

TRUNC_LIMIT = 2**62
"""Exact truncation needs ``|x| < 2^62``."""


def secure_sum(ctx: Context, values: Mapping[int, Shared] | Sequence[Shared]) -> Shared:
    """Sum of shared values (same shape and frac_bits): local, 0 rounds; bounds add up."""
    items = list(values.values()) if isinstance(values, Mapping) else list(values)
    if not items:
        raise LocalProtocolError("secure_sum needs at least one value")
    total = items[0]
    for v in items[1:]:
        total = total + v
    return total


def average(ctx: Context, values: Mapping[int, Shared] | Sequence[Shared]) -> tuple[Shared, int]:
    """``(sum, count)``: reveal the sum with ``divisor=count``; the recipients divide."""
    items = list(values.values()) if isinstance(values, Mapping) else list(values)
    return secure_sum(ctx, items), len(items)


async def mul(ctx: Context, x: Shared, y: Shared, *, truncate_fixed: bool = True) -> Shared:
    """Elementwise ``x * y`` by a Beaver triple: 1 online round (2 if fixed * fixed truncates).

    ``frac_bits`` of the product: ``fx + fy`` (exact) when either is 0; when both are positive
    and ``truncate_fixed`` is true the product is truncated to ``max(fx, fy)`` (+1 round).
    """
    ctx = ctx.scope("mul")
    if x.shape != y.shape:
        raise LocalProtocolError(f"mul operands differ in shape: {x.shape} vs {y.shape}")
    f = x.frac_bits + y.frac_bits
    if f >= 63:
        raise LocalProtocolError("product has too many fractional bits")
    lo, hi = check_bounds(*product_bounds(x.bounds, y.bounds), f, f"the product at {ctx.path}")
    truncating = bool(x.frac_bits and y.frac_bits and truncate_fixed)
    if truncating:
        require_range(
            Shared(x.share, f, lo, hi), -TRUNC_LIMIT, TRUNC_LIMIT - 1, f"the product at {ctx.path}"
        )
    (trip,) = await ctx.material([Component("triple", x.shape)])
    z = Shared(await _beaver(ctx, x.share, y.share, trip), f, lo, hi)
    if truncating:
        return await truncate(ctx, z, min(x.frac_bits, y.frac_bits))
    return z


async def _beaver(ctx: Context, x: U64, y: U64, trip: Mapping[str, U64]) -> U64:
    """One round on ``ctx``: open ``d = x - a`` and ``e = y - b`` together, finish locally."""
    opened = await open_raw(ctx, beaver.mask_both(x, y, trip["a"], trip["b"]))
    return beaver.finish_mul(
        contig(opened[0]), contig(opened[1]), trip["a"], trip["b"], trip["c"], ctx.is_first
    )


async def inner_product(ctx: Context, x: Shared, y: Shared) -> Shared:
    """``sum(x * y, axis=-1)``: 1 round (elementwise Beaver products, local sum)."""
    ctx = ctx.scope("inner_product")
    if x.shape != y.shape or not x.shape:
        raise LocalProtocolError("inner_product needs two arrays of the same (non-0-d) shape")
    f = x.frac_bits + y.frac_bits
    if f >= 63:
        raise LocalProtocolError("product has too many fractional bits")
    plo, phi = product_bounds(x.bounds, y.bounds)
    k = x.shape[-1]
    lo, hi = check_bounds(plo * k, phi * k, f, f"the inner product at {ctx.path}")
    (trip,) = await ctx.material([Component("triple", x.shape)])
    z = await _beaver(ctx, x.share, y.share, trip)
    return Shared(contig(np.sum(z, axis=-1, dtype=np.uint64)), f, lo, hi)


async def truncate(ctx: Context, x: Shared, bits: int) -> Shared:
    """``floor(x / 2^bits) + e``, ``e in {0, 1}``, exact up to the last bit: 1 round.

    Needs ``|x| < 2^62`` by its bounds (BoundsError otherwise); see the module docstring.
    """
    ctx = ctx.scope("trunc")
    if not 0 < bits < 63 or not bits <= x.frac_bits:
        raise LocalProtocolError("truncate needs 0 < bits <= frac_bits")
    require_range(x, -TRUNC_LIMIT, TRUNC_LIMIT - 1, f"the truncation at {ctx.path}")
    (mat,) = await ctx.material([Component("trunc", x.shape, frac_bits=bits)])
    shape, first = x.shape, ctx.is_first
    masked = np.add(x.share, mat["r"], out=np.empty(shape, dtype=np.uint64))
    if first:
        np.add(masked, np.uint64(TRUNC_LIMIT), out=masked)
    c = await open_raw(ctx, masked)
    c63 = np.right_shift(c, np.uint64(63))
    # [b] = c63 + r_msb (1 - 2 c63): linear in the shared r_msb because c63 is public.
    b = np.multiply(mat["r_msb"], np.uint64(1) - (c63 << np.uint64(1)))
    if first:
        b += c63
    out = np.left_shift(b, np.uint64(63 - bits))
    out -= mat["r_hi"]
    if first:
        out += np.right_shift(np.bitwise_and(c, np.uint64(2**63 - 1)), np.uint64(bits))
        out -= np.uint64(1 << (62 - bits))
    lo, hi = floor_shift(x.lo, bits), floor_shift(x.hi, bits) + 1
    return Shared(contig(out), x.frac_bits - bits, lo, hi)
