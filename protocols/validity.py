"""Validity checks on contributions, inside MPC: only valid/invalid comes out.

Contributors may be malicious: a contribution's shares may add up to *any* ring element, so no
public bounds hold for it.  Every check below is sound for arbitrary ring values.

* **range** ``[lo, hi]`` (``hi - lo < 2^62``), exact: for every element ``m1 = MSB(x - lo)`` and
  ``m2 = MSB(hi - x)``.  If both are 0, ``(x - lo) + (hi - x)`` is a sum of two values below 2^63
  equal to ``hi - lo`` mod 2^64, hence equal as integers, so ``lo <= x <= hi``; in range, both
  are 0.  The violations ``m1 + m2`` are summed per contribution (at most ``2 d``: no wrap) and
  the contribution passes iff the sum is 0 (one ``eq``).
* **bits**: range ``[0, 1]``.  **one_hot**: bits, and ``sum(x) == 1``; the two zero tests are
  ANDed with one multiplication of 0/1 values.
* **norm** ``N``, exact: range ``[-N, N]`` on every element (so the sum of squares cannot wrap:
  ``d N^2 < 2^62`` is required) and ``MSB(N^2 - sum x^2) = 0``; squares by Beaver products.
  Costs two comparisons per element: for small vectors.
* **norm_sketch** ``N``, probabilistic, for large vectors (federated updates), after ACORN (Bell,
  Gascon, Lepoint, Li, Mayer, Raykova, Yun, "ACORN: Input Validation for Secure Aggregation",
  USENIX Security 2023).  Public random rows drawn from the batch's coins *after* the
  contributions were fixed; the projections ``y = R x`` are local.  Two families:
  ``k1 = 40`` *bound* rows with entries -1, 0, +1 (probabilities 1/4, 1/2, 1/4) and ``k2 = 32``
  *norm* rows with entries -1, +1.  Checks: ``|y_j| <= L`` for every row (``L = t N``,
  ``t = sqrt(2 ln(2 (k1 + k2) 2^40))``, about 8.1) and, over the norm rows, ``sum y_j^2 <= tau``
  (``tau = N^2 (k2 + 2 sqrt(k2 u) + 2 u)``, ``u = 40 ln 2``: about 130 N^2).
  *Completeness*: every ``y_j`` is sub-Gaussian with variance proxy ``|x|^2`` (Hoeffding), and
  ``sum y_j^2`` is dominated by ``|x|^2`` times a chi-square with k2 degrees of freedom
  (Laurent-Massart), so an honest ``|x| <= N`` fails with probability below ``2^-40``.
  *Soundness, coordinates* (exact): if some ``|x_i| > 2L`` (mod 2^64, centred), then with the
  other entries of a bound row fixed, the values ``c - x_i, c, c + x_i`` cannot have both
  ``r = 0`` and ``r != 0`` outcomes within ``[-L, L]``, so each bound row passes with
  probability at most 1/2 and all pass with at most ``2^-40``: accepted coordinates lie within
  ``2L``, so no square and no aggregate wraps.  *Soundness, norm* (statistical): then
  ``E[sum y_j^2] = k2 |x|^2`` exactly, so an update of norm ``a N`` passes only if its sum
  falls below ``tau``: never for a single nonzero coordinate with ``a > 2.01``; for spread-out
  updates with the lower tail of a chi-square(32), e.g. 0.4% at ``a = 3``, 10^-6 at ``a = 4``.
  The norm bound is thus enforced up to a factor of about 2 (ACORN states a similar gap).
  Costs per contribution: ``k2`` Beaver squares and ``2 (k1 + k2) + 1`` comparisons, however
  long the vector; the projections are ``(k1 + k2) d`` local multiply-adds (float64 BLAS on
  16-bit limbs, exact).

Comparisons are :func:`protocols.compare.lt` against 0 on raw differences (8 rounds); zero
tests :func:`protocols.compare.eq` (8 rounds).  All comparisons of a batch go in one call, all
zero tests in another.  Rounds per batch: 1 (squares, if a norm check) + 8 + 8 + 1 (one_hot's
AND) + 1 (opening the validity bits to every party: which contributions were invalid is public
by the job's design, their values never are).

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.preprocessing``,
``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc_runtime.errors import BoundsError, LocalProtocolError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from mpc_runtime.runtime.contrib import ContributionBatch, ContributionDecl
from mpc_runtime.sharing import beaver
from mpc_runtime.sharing.prg import PRG
from protocols.compare import eq, lt
from protocols.io import open_raw
from protocols.types import RING_MAX, RING_MIN, U64, Shared, contig, zeros

__all__ = [
    "BOUND_ROWS",
    "NORM_ROWS",
    "Sketch",
    "contribution_bounds",
    "project",
    "sketch_params",
    "sketch_rows",
    "sum_valid",
    "validate",
]

BOUND_ROWS = 40
"""Rows with entries in {-1, 0, 1}: soundness 2^-40 for the per-coordinate bound."""
NORM_ROWS = 32
"""Rows with entries in {-1, 1}: the norm statistic."""
SECURITY_BITS = 40
"""An honest contribution fails a probabilistic check with probability below 2^-40."""
LIMB = 16
_NO_WRAP = 2**62


@dataclass(frozen=True)
class Sketch:
    """Public parameters of the norm sketch for vectors of ``d`` elements and norm ``N``."""

    bound_rows: int
    norm_rows: int
    row_bound: int  # L
    square_bound: int  # tau

    @property
    def coordinate_bound(self) -> int:
        """What an accepted contribution's coordinates are proven to be within (2 L)."""
        return 2 * self.row_bound


def sketch_params(d: int, norm: int) -> Sketch:
    """``L`` and ``tau`` for the sketch; BoundsError if the vectors are too long for them."""
    k1, k2 = BOUND_ROWS, NORM_ROWS
    u = SECURITY_BITS * math.log(2)
    t = math.sqrt(2 * (math.log(2 * (k1 + k2)) + u))
    row_bound = math.ceil(t * norm)
    tau = math.ceil(norm**2 * (k2 + 2 * math.sqrt(k2 * u) + 2 * u))
    if d * 2 * row_bound >= _NO_WRAP or k2 * row_bound**2 >= _NO_WRAP or tau >= _NO_WRAP:
        raise BoundsError(
            f"a norm sketch of {d} elements with norm bound {norm} (encoded) could wrap the ring:"
            " use fewer fractional bits or a smaller norm"
        )
    return Sketch(k1, k2, row_bound, tau)


def _bits(coins: bytes, label: bytes, count: int) -> np.ndarray[Any, Any]:
    seed = hashlib.sha256(label + bytes(coins)).digest()[:16]
    raw = PRG(seed).uint64(((count + 63) // 64,)).view(np.uint8)
    return np.unpackbits(raw, bitorder="little")[:count]


def sketch_rows(coins: bytes, sk: Sketch, d: int) -> np.ndarray[Any, Any]:
    """The public rows from a batch's coins: ``bound_rows`` in {-1, 0, 1} (two random bits per
    entry: -1, 0, 0, 1), then ``norm_rows`` in {-1, 1}; float64 for the projection."""
    two = _bits(coins, b"mpc sketch bound\x00", 2 * sk.bound_rows * d).reshape(-1, d, 2)
    bound = two[..., 0].astype(np.int8) - two[..., 1].astype(np.int8)
    one = _bits(coins, b"mpc sketch norm\x00", sk.norm_rows * d).reshape(-1, d)
    signs = 2 * one.astype(np.int8) - 1
    return np.concatenate([bound, signs]).astype(np.float64)


def project(x: U64, r: np.ndarray[Any, Any], chunk: int = 16) -> U64:
    """``x @ r.T`` mod 2^64, exactly, for ``x`` (b, d) uint64 and ``r`` (k, d) in {-1, 0, 1}:
    four 16-bit limbs as float64 (every partial sum is below 2^53 for d < 2^36), BLAS, recombined
    mod 2^64."""
    b, d = x.shape
    if d >= 2**36:
        raise LocalProtocolError("vectors too long for an exact projection")
    out = np.zeros((b, r.shape[0]), dtype=np.uint64)
    rt = np.ascontiguousarray(r.T)
    for lo in range(0, b, chunk):
        part = x[lo : lo + chunk]
        for limb in range(64 // LIMB):
            v = ((part >> np.uint64(LIMB * limb)) & np.uint64(0xFFFF)).astype(np.float64)
            exact = np.rint(v @ rt).astype(np.int64).view(np.uint64)
            out[lo : lo + chunk] += exact << np.uint64(LIMB * limb)
    return out


def _raw(share: U64) -> Shared:
    """An untrusted value: any ring element."""
    return Shared(contig(share), 0, RING_MIN, RING_MAX)


def _minus_public(ctx: Context, x: U64, k: int) -> U64:
    out = np.array(x, dtype=np.uint64, copy=True)
    if ctx.is_first:
        out -= np.uint64(k % 2**64)
    return out


def _public_minus(ctx: Context, k: int, x: U64) -> U64:
    out = np.subtract(np.zeros_like(x), x, out=np.empty(x.shape, dtype=np.uint64))
    if ctx.is_first:
        out += np.uint64(k % 2**64)
    return out


def _range_diffs(ctx: Context, x: U64, lo: int, hi: int) -> U64:
    """(b, 2 m): each element's ``x - lo`` and ``hi - x`` (negative iff out of range)."""
    return np.concatenate([_minus_public(ctx, x, lo), _public_minus(ctx, hi, x)], axis=1)


async def _products(ctx: Context, pairs: list[tuple[U64, U64]]) -> list[U64]:
    """Raw elementwise products of (b, m) arrays, all in one round (Beaver triples)."""
    if not pairs:
        return []
    xs = contig(np.concatenate([a.reshape(-1) for a, _ in pairs]))
    ys = contig(np.concatenate([b.reshape(-1) for _, b in pairs]))
    (trip,) = await ctx.material([Component("triple", xs.shape)])
    d, e = beaver.mask_pair(xs, ys, trip["a"], trip["b"])
    opened = await open_raw(ctx, np.stack([d, e]))
    z = beaver.finish_mul(
        contig(opened[0]), contig(opened[1]), trip["a"], trip["b"], trip["c"], ctx.is_first
    )
    out, at = [], 0
    for a, _ in pairs:
        out.append(contig(z[at : at + a.size].reshape(a.shape)))
        at += a.size
    return out


def _norm(decl: ContributionDecl) -> int:
    if decl.norm_units is None:
        raise LocalProtocolError("a norm check needs the job's norm bound")
    return decl.norm_units


def _row_sum(x: U64) -> U64:
    return contig(np.sum(x, axis=1, dtype=np.uint64))


@dataclass
class _Tests:
    """Raw (b, m) arrays: every element of ``zero`` must be 0, of ``nonneg`` non-negative."""

    zero: list[U64]
    nonneg: list[U64]


async def _tests(ctx: Context, batch: ContributionBatch, decl: ContributionDecl) -> _Tests:
    x = contig(batch.values.share.reshape(batch.size, -1))
    checks = set(decl.checks)
    pairs: list[tuple[U64, U64]] = []
    if checks & {"bits", "one_hot"}:
        pairs.append((x, _minus_public(ctx, x, 1)))  # x (x - 1) = 0 mod 2^64 iff x in {0, 1}
    if "norm" in checks:
        pairs.append((x, x))
    y = None
    if "norm_sketch" in checks:
        sk = sketch_params(x.shape[1], _norm(decl))
        y = project(x, sketch_rows(batch.coins, sk, x.shape[1]))
        norm_part = contig(y[:, sk.bound_rows :])
        pairs.append((norm_part, norm_part))
    prods = await _products(ctx.scope("products"), pairs)
    t = _Tests([], [])
    if checks & {"bits", "one_hot"}:
        t.zero.append(prods.pop(0))
    if "one_hot" in checks:
        t.zero.append(_minus_public(ctx, _row_sum(x), 1)[:, None])
    if checks & {"range", "norm"}:
        lo, hi = decl.lo, decl.hi
        if "norm" in checks:
            lo, hi = max(lo, -_norm(decl)), min(hi, _norm(decl))
        t.nonneg.append(_range_diffs(ctx, x, lo, hi))
    if "norm" in checks:
        t.nonneg.append(_public_minus(ctx, _norm(decl) ** 2, _row_sum(prods.pop(0)))[:, None])
    if y is not None:
        sk = sketch_params(x.shape[1], _norm(decl))
        t.nonneg.append(_range_diffs(ctx, y, -sk.row_bound, sk.row_bound))
        t.nonneg.append(_public_minus(ctx, sk.square_bound, _row_sum(prods.pop(0)))[:, None])
    return t


async def _violations(ctx: Context, t: _Tests) -> Shared:
    """Per contribution, a shared count of failed conditions (0: every check passed)."""
    counts: list[Shared] = []
    if t.nonneg:
        flat = contig(np.concatenate(t.nonneg, axis=1))
        negative = await lt(ctx.scope("msb"), _raw(flat), zeros(flat.shape))
        counts.append(negative.sum(axis=1))  # bounds [0, width]: no wrap
    if t.zero:
        flat = contig(np.concatenate(t.zero, axis=1))
        is_zero = await eq(ctx.scope("zero"), _raw(flat), zeros(flat.shape))
        nonzero = (-is_zero).add_public(1, ctx.is_first)
        counts.append(nonzero.sum(axis=1))
    if not counts:
        raise LocalProtocolError("the job declares no validity check for its contributions")
    return counts[0] if len(counts) == 1 else counts[0] + counts[1]


async def validate(ctx: Context, batch: ContributionBatch) -> np.ndarray[Any, Any]:
    """Public 0/1 validity of every contribution of ``batch`` under the job's declared checks
    (and its credential verdict ``batch.ok``)."""
    ctx = ctx.scope("validate")
    decl = ctx.contribution
    if batch.size == 0:
        return np.zeros(0, dtype=bool)
    tests = await _tests(ctx, batch, decl)
    single = len(tests.zero) == 1 and not tests.nonneg and tests.zero[0].shape[1] == 1
    if single:  # one zero test per contribution: its result is the validity
        flat = contig(tests.zero[0].reshape(-1))
        valid = await eq(ctx.scope("zero"), _raw(flat), zeros(flat.shape))
    else:
        total = await _violations(ctx, tests)
        valid = await eq(ctx.scope("none"), total, zeros(total.shape))
    opened = await open_raw(ctx.scope("open"), valid.share)
    return (opened.view(np.int64) == 1) & batch.ok.astype(bool)


def contribution_bounds(decl: ContributionDecl) -> tuple[int, int]:
    """Bounds every *valid* contribution's elements are proven to lie in."""
    lo, hi = decl.lo, decl.hi
    checks = set(decl.checks)
    if checks & {"bits", "one_hot"}:
        lo, hi = max(lo, 0), min(hi, 1)
    if "norm" in checks:
        lo, hi = max(lo, -_norm(decl)), min(hi, _norm(decl))
    if checks <= {"norm_sketch"}:
        size = math.prod(decl.shape) if decl.shape else 1
        c = sketch_params(size, _norm(decl)).coordinate_bound
        return -c, c
    return lo, hi


def sum_valid(ctx: Context, batch: ContributionBatch, valid: np.ndarray[Any, Any]) -> Shared:
    """The sum of the valid contributions of a batch (local: validity is public), with bounds
    from what the checks prove."""
    decl = ctx.contribution
    count = int(np.count_nonzero(valid))
    shape = batch.values.shape[1:]
    if count == 0:
        return zeros(shape, decl.frac_bits)
    picked = batch.values.share[np.asarray(valid, dtype=bool)]
    total = contig(np.sum(picked, axis=0, dtype=np.uint64))
    lo, hi = contribution_bounds(decl)
    return Shared(total, decl.frac_bits, lo * count, hi * count)
