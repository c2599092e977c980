"""Secure comparison of shared 64-bit ring values: less-than and equality, three protocols.

The operands' public bounds guarantee that ``d = x - y`` does not wrap (the subtraction of two
:class:`~mpc_runtime.sharing.shared.Shared` values refuses otherwise), so
``x < y  <=>  MSB(d) = 1`` and ``x == y <=> d == 0`` exactly.  Results are shared 0/1 integers
(``frac_bits = 0``, bounds ``[0, 1]``); fixed-point operands must have equal ``frac_bits``.
Every variant first opens ``c = d + r`` for a uniform mask ``r`` (1 round, reveals nothing);
with ``c' = c mod 2^63``, ``r' = r mod 2^63``: ``MSB(d) = c_63 xor r_63 xor [c' < r']``.

The protocol is chosen per job with ``ctx.params["comparison"]`` (or per call with ``variant=``):

* ``"tree"`` (default; any n, dealer or OT material): the log-depth prefix circuit below,
  **8 rounds**.
* ``"constant"`` (any n, dealer only): one-time truth tables, **4 rounds**, see
  :mod:`protocols.compare_const`.
* ``"fss"`` (n = 2, dealer only): function secret sharing (a distributed comparison / point
  function key pair), **1 round**, see :mod:`protocols.compare_fss`.

A variant that cannot serve the job raises :class:`~mpc_runtime.errors.UsageError` (``fss`` with
n != 2 here, before any round; the OT provider refuses the dealer-only material).

The tree (Catrina & de Hoogh, "Improved Primitives for Secure Multiparty Integer Computation",
SCN 2010, for the masked-opening comparison and the log-depth prefix circuit; Escudero, Ghosh,
Keller, Rachuri, Scholl, CRYPTO 2020, for a mask ``r`` shared both arithmetically and bitwise
(edaBits, ``rbits``); D. Beaver, CRYPTO 1991, for XOR-shared AND triples):

1. (1 round) open ``c = d + r``.
2. (1 round) the products ``p_j = r_{2j+1} and r_{2j}`` of the mask's bit pairs (32 AND gates
   per element; they need no ``c``, and the words of elements ``k`` and ``k + m/2`` share one
   word, so no bit is wasted).  With ``g_i = r_i and not c_i``, ``e_i = not (c_i xor r_i)``
   and public ``c``, the first prefix level ``G = g_hi xor (e_hi and g_lo)``,
   ``E = e_hi and e_lo`` of every pair is linear in the shares once ``p`` is known, so it is
   computed locally inside each element's word (:func:`protocols.compare_bits.lt_combine`).
   Bit 63 enters as ``g = r_63 xor c_63``, ``e = 1``, so the tree's top ``G`` is ``MSB(d)``
   itself.  The pairs' ``(G, E)`` are transposed into bit planes
   (:func:`protocols.compare_bits.transpose`).
3. (5 rounds) the other levels ``G = G_hi xor (E_hi and G_lo)``, ``E = E_hi and E_lo`` on bit
   planes: both ANDs of a level share one round, the last level needs only ``G``; a level with
   ``b`` gates per element opens ``2 b`` bits per element.
4. (1 round) B2A with packed daBits ``t``: open ``v = z xor t`` (packed bits),
   ``[z] = v + [t] - 2 v [t]``.

Equality: ``d == 0  <=>  c == r``: AND of the 64 bits ``not (c_i xor r_i)`` by a 6-level tree
(the first level pairs the words of elements ``k`` and ``k + m/2`` like step 2), then B2A:
**8 rounds**.

Costs per party, online (n parties, m elements, ``W = ceil(m / 64)``,
``H = 64 ceil(m / 128)``, bytes sent as payload; asymptotically per element in parentheses):

* :func:`lt` / :func:`gt` / :func:`le` / :func:`ge`, tree: **8 rounds**,
  ``(n - 1) * (8 m + 16 H + 16 * 61 W + ceil(m / 8))`` (``31.375 (n - 1)``): 8 to open ``c``;
  AND gates (32 products, then 32 + 16 + 8 + 4 and 1 at the last level) opening 2 bits each;
  1 bit for B2A.  Constant: **4 rounds**, ``(n - 1) (13 m + ceil(m / 8))``.  FSS: **1 round**,
  ``8 m``.
* :func:`eq`, tree: **8 rounds**, ``(n - 1) * (8 m + 16 H + 16 * 62 H / 64 + ceil(m / 8))``
  (``23.875 (n - 1)``).  Constant: **4 rounds**, ``(n - 1) (10 m + ceil(m / 2) +
  ceil(m / 8))``.  FSS: **1 round**, ``8 m``.

Memory: bits stay in uint64 words end to end; beyond its material (tree ``lt``: 16 + 8.1 +
3 * (4 + 61 / 8) = 59 bytes per element) a comparison holds a few words per element at a time
(the opened ``c``, the round's send buffer and the peers' messages), and the local kernels work
in chunks of :data:`protocols.compare_bits.CHUNK` elements.

All material of one comparison is fetched before the first round (the tree: ``rbits``, ``pbit``
and six ``and`` components, in one request up to about 4.8 million elements and in requests of
at most 128 MB of dealer corrections beyond; :func:`material_plan` lists every variant's).

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``mpc_runtime.preprocessing.requests``, the ``protocols.compare_*`` modules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from protocols import compare_const, compare_fss
from protocols.compare_bits import (
    b2a,
    beaver_finish,
    lt_combine,
    open_add_inplace,
    open_xor_inplace,
    pair_gates,
    transpose,
    words,
)
from protocols.types import U64, Shared, check_bounds, contig

__all__ = [
    "EQ_AND_BITS",
    "LT_AND_BITS",
    "ROUNDS",
    "VARIANTS",
    "eq",
    "eq_payload_bytes",
    "ge",
    "gt",
    "le",
    "lt",
    "lt_payload_bytes",
    "material_plan",
    "rounds",
]

VARIANTS = ("tree", "constant", "fss")
ROUNDS = 8
"""Online rounds of the default (tree) comparison."""
_ROUNDS = {"tree": 8, "constant": compare_const.ROUNDS, "fss": compare_fss.ROUNDS}
LT_AND_BITS = (32, 32, 16, 8, 4, 1)
"""AND gates per element at each prefix level of the tree :func:`lt`."""
EQ_AND_BITS = (32, 16, 8, 4, 2, 1)
"""AND gates per element at each level of the tree :func:`eq`."""

Opener = Callable[[Context, U64, U64], Awaitable[U64]]


def rounds(variant: str = "tree") -> int:
    """Online rounds of one comparison (lt or eq) with ``variant``."""
    return _ROUNDS[_check_variant(variant)]


def _check_variant(name: Any) -> str:
    if name not in VARIANTS:
        raise UsageError(f"params comparison must be one of {', '.join(VARIANTS)}, not {name!r}")
    return str(name)


def choose(ctx: Context, variant: str | None = None) -> str:
    """The comparison protocol for this call: ``variant``, else ``ctx.params["comparison"]``,
    else ``"tree"``; a UsageError if it cannot serve this job."""
    name = _check_variant(variant if variant is not None else ctx.params.get("comparison", "tree"))
    if name == "fss" and ctx.n != 2:
        raise UsageError(
            f'comparison = "fss" (function secret sharing) needs exactly 2 parties, this job'
            f' has {ctx.n}; use "constant" or "tree"'
        )
    return name


# ---- the tree -------------------------------------------------------------------------------
def _tree_components(op: str, m: int) -> list[Component]:
    half = 64 * -(-m // 128)  # words of the first level: 32 gates of each of two elements
    if op == "lt":
        gates = [half] + [b * words(m) for b in LT_AND_BITS[1:]]
    else:
        gates = [half] + [b * half // 32 for b in EQ_AND_BITS[1:]]
    return [
        Component("rbits", (m,)),
        Component("pbit", (m,)),
        *(Component("and", (g,)) for g in gates),
    ]


REQUEST_WORDS = 1 << 24
"""At most this many words of party 0's corrections per material request (128 MB): a larger
comparison asks in several requests, and a component too large for one is split (at multiples
of 64 elements) and put back together, so no dealer message outgrows a frame."""
_CORRECTED = {"rbits": 1, "pbit": 1, "and": 1}  # dependent words per element


def _tree_plan(op: str, m: int) -> list[list[Component]]:
    """The tree's material requests: its components, split and grouped under REQUEST_WORDS."""
    plan: list[list[Component]] = [[]]
    used = 0
    for comp in _tree_components(op, m):
        for part in _split(comp):
            cost = part.size * _CORRECTED[part.kind]
            if plan[-1] and used + cost > REQUEST_WORDS:
                plan.append([])
                used = 0
            plan[-1].append(part)
            used += cost
    return plan


def _split(comp: Component) -> list[Component]:
    step = REQUEST_WORDS // 64 * 64
    n = comp.size
    if n <= REQUEST_WORDS:
        return [comp]
    return [Component(comp.kind, (min(step, n - s),)) for s in range(0, n, step)]


async def _tree_material(ctx: Context, op: str, m: int) -> list[dict[str, U64]]:
    """Fetch the tree's material (one request unless it is large) and undo the splits."""
    got: list[dict[str, U64]] = []
    for request in _tree_plan(op, m):
        got.extend(await ctx.material(request))
    out: list[dict[str, U64]] = []
    for comp in _tree_components(op, m):
        k = len(_split(comp))
        parts, got = got[:k], got[k:]
        if k == 1:
            out.append(parts[0])
            continue
        names = list(parts[0])
        out.append({name: np.concatenate([p.pop(name) for p in parts]) for name in names})
        del parts
    return out


async def _open_masked(ctx: Context, d: U64, r: U64) -> U64:
    """One round: ``c = d + r`` opened, computed over ``d`` (which the caller gives up)."""
    np.add(d, r.reshape(d.shape), out=d)
    return await open_add_inplace(ctx, d)


async def _and_level(ctx: Context, x: U64, y: U64, trip: dict[str, U64], first: bool) -> U64:
    """One round of AND gates ``x & y`` (arrays of equal size; views are fine)."""
    send = np.empty((2, *x.shape), dtype=np.uint64)
    a, b = trip["a"].reshape(x.shape), trip["b"].reshape(x.shape)
    np.bitwise_xor(x, a, out=send[0])
    np.bitwise_xor(y, b, out=send[1])
    await open_xor_inplace(ctx, send)
    return beaver_finish(send[0].reshape(-1), send[1].reshape(-1), trip, first).reshape(x.shape)


async def _tree_msb(ctx: Context, d: U64, opener: Opener) -> U64:
    """Additive shares of MSB(d) for a flat shared d: 8 rounds."""
    m = d.size
    half = 64 * -(-m // 128)
    mats = await _tree_material(ctx, "lt", m)
    rb, bit, trips = mats[0], mats[1], mats[2:]
    del mats
    first = ctx.is_first
    send = pair_gates(rb["rb"], rb["rb"], trips[0], half, complement=False)  # r only, no c
    c = await opener(ctx, d, rb.pop("r"))  # round 1
    del d
    await open_xor_inplace(ctx, send)  # round 2: p_j = r_{2j+1} & r_{2j}
    z = beaver_finish(send[0], send[1], trips[0], first)
    trips[0] = {}
    pairs = lt_combine(z, c, rb.pop("rb"), first, half)  # (G, E) of pair j at bits 2j, 2j + 1
    del send, z, c
    planes = transpose(pairs)  # (64, W): pair p's G at plane 2p, E at 2p + 1
    del pairs
    for level in range(1, len(LT_AND_BITS)):  # rounds 3..7
        trip = trips[level]
        trips[level] = {}
        q = planes.shape[0] // 4  # pairs of pairs
        p4 = planes.reshape(q, 2, 2, -1)  # (pair, lo/hi, G/E, W)
        if q == 1:  # the last level: G only
            t = await _and_level(ctx, p4[0, 1, 1], p4[0, 0, 0], trip, first)
            planes = t ^ p4[0, 1, 0]
        else:  # gates (pair, G/E): e_hi & g_lo, e_hi & e_lo
            x = np.broadcast_to(p4[:, 1, 1:2, :], p4[:, 0].shape)
            t = await _and_level(ctx, x, p4[:, 0], trip, first)
            t[:, 0] ^= p4[:, 1, 0]
            planes = t.reshape(2 * q, -1)
    return await b2a(ctx, planes, m, bit)  # round 8


async def _tree_is_zero(ctx: Context, d: U64, opener: Opener) -> U64:
    """Additive shares of [d == 0] for a flat shared d: 8 rounds."""
    m = d.size
    half = 64 * -(-m // 128)
    mats = await _tree_material(ctx, "eq", m)
    rb, bit, trips = mats[0], mats[1], mats[2:]
    del mats
    c = await opener(ctx, d, rb.pop("r"))  # round 1
    del d
    first = ctx.is_first
    send = pair_gates(c, rb.pop("rb"), trips[0], half, complement=first)
    del c
    await open_xor_inplace(ctx, send)  # round 2
    planes = transpose(beaver_finish(send[0], send[1], trips[0], first))  # plane 2p + u
    trips[0] = {}
    del send
    for level in range(1, len(EQ_AND_BITS)):  # rounds 3..7
        trip = trips[level]
        trips[level] = {}
        p4 = planes.reshape(planes.shape[0] // 4, 2, 2, -1)  # (pair, lo/hi, u, W2)
        planes = (await _and_level(ctx, p4[:, 1], p4[:, 0], trip, first)).reshape(-1, half // 64)
    return await b2a(ctx, planes, m, bit)  # round 8: planes 0 and 1 are elements in order


_MSB: dict[str, Callable[[Context, U64, Opener], Awaitable[U64]]] = {
    "tree": _tree_msb,
    "constant": compare_const.msb,
    "fss": compare_fss.msb,
}
_IS_ZERO: dict[str, Callable[[Context, U64, Opener], Awaitable[U64]]] = {
    "tree": _tree_is_zero,
    "constant": compare_const.is_zero,
    "fss": compare_fss.is_zero,
}


# ---- the public API ---------------------------------------------------------------------------
def _diff(x: Shared, y: Shared) -> tuple[U64, tuple[int, ...]]:
    """``x - y`` as a fresh flat array; BoundsError (as for ``x - y``) if it could wrap."""
    if not isinstance(x, Shared) or not isinstance(y, Shared):
        raise LocalProtocolError("comparisons take two Shared values")
    if x.shape != y.shape:
        raise LocalProtocolError(f"comparison operands differ in shape: {x.shape} vs {y.shape}")
    if x.frac_bits != y.frac_bits:
        raise LocalProtocolError(f"fixed-point mismatch: frac_bits {x.frac_bits} vs {y.frac_bits}")
    check_bounds(x.lo - y.hi, x.hi - y.lo, x.frac_bits, "a difference")
    d = np.subtract(x.share, y.share, out=np.empty(x.shape, dtype=np.uint64))
    return d.reshape(-1), x.shape


def _bit(share: U64, shape: tuple[int, ...]) -> Shared:
    return Shared(contig(share.reshape(shape)), 0, 0, 1)


def _one_minus(s: Shared, is_first: bool) -> Shared:
    return (-s).add_public(1, is_first)


async def _run(
    table: dict[str, Callable[[Context, U64, Opener], Awaitable[U64]]],
    ctx: Context,
    d: U64,
    name: str,
) -> U64:
    if d.size == 0:
        return np.zeros(0, dtype=np.uint64)
    job = table[name](ctx, d, _open_masked)  # _open_masked looked up now: tests may wrap it
    del d  # the protocol frees the difference after its first round
    return await job


async def lt(ctx: Context, x: Shared, y: Shared, *, variant: str | None = None) -> Shared:
    """Shared ``[x < y]`` (0/1): 8 rounds (tree), 4 (constant) or 1 (fss)."""
    ctx = ctx.scope("lt")
    name = choose(ctx, variant)
    d, shape = _diff(x, y)
    job = _run(_MSB, ctx, d, name)
    del d
    return _bit(await job, shape)


async def gt(ctx: Context, x: Shared, y: Shared, *, variant: str | None = None) -> Shared:
    """Shared ``[x > y]``: ``lt(y, x)``."""
    ctx = ctx.scope("gt")
    return await lt(ctx, y, x, variant=variant)


async def ge(ctx: Context, x: Shared, y: Shared, *, variant: str | None = None) -> Shared:
    """Shared ``[x >= y]``: ``1 - lt(x, y)``."""
    ctx = ctx.scope("ge")
    return _one_minus(await lt(ctx, x, y, variant=variant), ctx.is_first)


async def le(ctx: Context, x: Shared, y: Shared, *, variant: str | None = None) -> Shared:
    """Shared ``[x <= y]``: ``1 - lt(y, x)``."""
    ctx = ctx.scope("le")
    return _one_minus(await lt(ctx, y, x, variant=variant), ctx.is_first)


async def eq(ctx: Context, x: Shared, y: Shared, *, variant: str | None = None) -> Shared:
    """Shared ``[x == y]`` (0/1): 8 rounds (tree), 4 (constant) or 1 (fss).

    Exact for any operands: ``x - y == 0 (mod 2^64)`` iff ``x == y`` for values inside the ring's
    no-wrap range, which every Shared value is, so the difference may wrap without harm.
    """
    ctx = ctx.scope("eq")
    name = choose(ctx, variant)
    if not isinstance(x, Shared) or not isinstance(y, Shared):
        raise LocalProtocolError("comparisons take two Shared values")
    if x.shape != y.shape or x.frac_bits != y.frac_bits:
        raise LocalProtocolError("eq operands differ in shape or frac_bits")
    d = contig(np.subtract(x.share, y.share).reshape(-1))
    job = _run(_IS_ZERO, ctx, d, name)
    del d
    return _bit(await job, x.shape)


# ---- costs and material -----------------------------------------------------------------------
def material_plan(op: str, m: int, variant: str = "tree") -> list[list[Component]]:
    """The ``ctx.material`` requests of one ``op`` ("lt" or "eq") on m elements, in order."""
    name = _check_variant(variant)
    if op not in ("lt", "eq"):
        raise LocalProtocolError(f"material_plan: op must be lt or eq, not {op!r}")
    if m == 0:
        return []
    if name == "tree":
        return _tree_plan(op, m)
    if name == "constant":
        return compare_const.material_plan(op, m)
    return compare_fss.material_plan(op, m)


def lt_payload_bytes(m: int, n: int, variant: str = "tree") -> int:
    """Exact online payload bytes one party sends for a comparison of m elements."""
    name = _check_variant(variant)
    if name == "constant":
        return compare_const.payload_bytes("lt", m, n)
    if name == "fss":
        return compare_fss.payload_bytes(m)
    half = 64 * -(-m // 128)
    return (n - 1) * (8 * m + 16 * half + 16 * words(m) * sum(LT_AND_BITS[1:]) + -(-m // 8))


def eq_payload_bytes(m: int, n: int, variant: str = "tree") -> int:
    """Exact online payload bytes one party sends for an equality test of m elements."""
    name = _check_variant(variant)
    if name == "constant":
        return compare_const.payload_bytes("eq", m, n)
    if name == "fss":
        return compare_fss.payload_bytes(m)
    w2 = -(-m // 128)
    return (n - 1) * (8 * m + 16 * 64 * w2 + 32 * w2 * sum(EQ_AND_BITS[1:]) + -(-m // 8))
