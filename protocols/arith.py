"""Arithmetic on additive shares: sums, averages, Beaver multiplication, inner products.

Costs (online phase; n parties, k = 64-bit ring, so one element is 8 bytes):

* :func:`secure_sum` - local, **0 rounds, 0 bytes**.
* :func:`average` - the sum (0 rounds); the recipient divides the revealed sum by the public
  count.  It reveals exactly what the sum reveals, nothing more and nothing less.
* :func:`mul` - Beaver multiplication (D. Beaver, "Efficient Multiparty Protocols Using Circuit
  Randomization", CRYPTO 1991): **1 round**, every party broadcasts its shares of
  ``d = x - a`` and ``e = y - b``: ``2 * 8 * (n - 1)`` bytes per element per party.  The triple
  ``(a, b, c = ab)`` comes from the trusted dealer (``ctx.material``), which is preprocessing
  (the offline phase), not an online round.
* :func:`inner_product` - elementwise Beaver products then a local sum over the last axis:
  **1 round**, ``2 * 8 * (n - 1)`` bytes per *input element* per party (a dedicated
  dot-product triple would need only one output-size correction but the dealer offers none).
* Fixed point: int * int and fixed * int are exact (``frac_bits`` add up).  fixed * fixed
  (both ``frac_bits > 0``) is truncated back to ``max(fx, fy)``... see :func:`truncate`:
  dealer-assisted probabilistic truncation, **1 extra round**, ``8 * (n - 1)`` bytes per element
  per party, so fixed * fixed costs **2 rounds**, ``3 * 8 * (n - 1)`` bytes per element.

Truncation (:func:`truncate`) follows the "probabilistic truncation" idea of Catrina & Saxena,
"Secure Computation with Fixed-Point Numbers" (FC 2010) and its dealer variant in
ABY3 / SecureML: the dealer gives ``[r]`` and ``[r >> f]`` for a uniform ``r`` in Z_2^64; the
parties open ``c = z + 2^B + r`` (uniform, so it reveals nothing) and output
``(c >> f) - [r >> f] - 2^(B - f)``.  Errors: the result is ``floor(z / 2^f) + e`` with
``e in {0, 1}`` (one unit in the last place), *and* with probability at most
``2^(B + 1 - 64)`` (``z + 2^B + r`` wraps mod 2^64) the result is wrong by ``2^(64 - f)``.
``B`` (``bound_bits``, default 48) must satisfy ``|z| < 2^B``; with ``B = 48`` that failure
probability is at most ``2^-15`` per element, and |z| < 2^48 means |x * y| < 2^(48 - 2f) as reals.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import Context
from mpc_runtime.sharing import beaver
from mpc_runtime.sharing.dealer import Component
from protocols.io import open_raw
from protocols.types import U64, Shared, contig

DEFAULT_BOUND_BITS = 48


def secure_sum(ctx: Context, values: Mapping[int, Shared] | Sequence[Shared]) -> Shared:
    """Sum of shared values (same shape and frac_bits): local, 0 rounds."""
    items = list(values.values()) if isinstance(values, Mapping) else list(values)
    if not items:
        raise LocalProtocolError("secure_sum needs at least one value")
    total = items[0]
    for v in items[1:]:
        total = total + v
    return total


def average(ctx: Context, values: Mapping[int, Shared] | Sequence[Shared]) -> tuple[Shared, int]:
    """``(sum, count)``: reveal the sum and divide by the public ``count`` after the reveal.

    The average reveals exactly what the sum does (count is public).
    """
    items = list(values.values()) if isinstance(values, Mapping) else list(values)
    return secure_sum(ctx, items), len(items)


async def mul(
    ctx: Context,
    x: Shared,
    y: Shared,
    *,
    truncate_fixed: bool = True,
    bound_bits: int = DEFAULT_BOUND_BITS,
) -> Shared:
    """Elementwise ``x * y`` by a Beaver triple: 1 online round (2 if fixed * fixed truncates).

    ``frac_bits`` of the product: ``fx + fy`` (exact) when either is 0; when both are positive
    and ``truncate_fixed`` is true the product is truncated to ``max(fx, fy)`` (+1 round).
    """
    ctx = ctx.scope("mul")
    if x.shape != y.shape:
        raise LocalProtocolError(f"mul operands differ in shape: {x.shape} vs {y.shape}")
    (trip,) = await ctx.material([Component("triple", x.shape)])
    z = await _beaver(ctx, x.share, y.share, trip)
    f = x.frac_bits + y.frac_bits
    if x.frac_bits and y.frac_bits and truncate_fixed:
        return await truncate(
            ctx, Shared(z, f), min(x.frac_bits, y.frac_bits), bound_bits=bound_bits
        )
    if f >= 64:
        raise LocalProtocolError("product has too many fractional bits")
    return Shared(z, f)


async def _beaver(ctx: Context, x: U64, y: U64, trip: Mapping[str, U64]) -> U64:
    """One round on ``ctx``: open ``d = x - a`` and ``e = y - b`` together, finish locally."""
    d, e = beaver.mask_pair(x, y, trip["a"], trip["b"])
    opened = await open_raw(ctx, np.stack([d, e]))
    return beaver.finish_mul(
        contig(opened[0]),
        contig(opened[1]),
        trip["a"],
        trip["b"],
        trip["c"],
        ctx.is_first,
    )


async def inner_product(ctx: Context, x: Shared, y: Shared) -> Shared:
    """``sum(x * y, axis=-1)``: 1 round (elementwise Beaver products, local sum)."""
    ctx = ctx.scope("inner_product")
    if x.shape != y.shape or not x.shape:
        raise LocalProtocolError("inner_product needs two arrays of the same (non-0-d) shape")
    (trip,) = await ctx.material([Component("triple", x.shape)])
    z = await _beaver(ctx, x.share, y.share, trip)
    out = contig(np.sum(z, axis=-1, dtype=np.uint64))
    return Shared(out, x.frac_bits + y.frac_bits)


async def truncate(
    ctx: Context, x: Shared, bits: int, *, bound_bits: int = DEFAULT_BOUND_BITS
) -> Shared:
    """Divide by ``2^bits`` (dealer-assisted probabilistic truncation): 1 round.

    Result ``floor(x / 2^bits) + {0, 1}``; fails (off by ``2^(64 - bits)``) with probability
    at most ``2^(bound_bits + 1 - 64)`` if ``|x| < 2^bound_bits`` (see the module docstring).
    """
    ctx = ctx.scope("trunc")
    if not 0 < bits < 64 or not bits <= x.frac_bits:
        raise LocalProtocolError("truncate needs 0 < bits <= frac_bits")
    if not bits <= bound_bits < 63:
        raise LocalProtocolError("bound_bits must be in [bits, 62]")
    (mat,) = await ctx.material([Component("trunc", x.shape, frac_bits=bits)])
    shape = x.shape
    masked = np.add(x.share, mat["r"], out=np.empty(shape, dtype=np.uint64))
    if ctx.is_first:
        np.add(masked, np.uint64(1 << bound_bits), out=masked)
    c = await open_raw(ctx, masked)
    out = np.subtract(np.zeros(shape, dtype=np.uint64), mat["r_hi"], out=np.empty(shape, np.uint64))
    if ctx.is_first:
        np.add(out, np.right_shift(c, np.uint64(bits), out=np.empty(shape, np.uint64)), out=out)
        np.subtract(out, np.uint64(1 << (bound_bits - bits)), out=out)
    return Shared(out, x.frac_bits - bits)


__all__ = ["average", "inner_product", "mul", "secure_sum", "truncate"]
