"""Shared nonlinear functions for tree training: the logistic sigmoid and a normalized reciprocal.

What it is for: the gradients of the logistic loss need ``p = sigmoid(margin)``; split gains
``G^2 / (H + lambda)`` and leaf weights ``-eta G / (H + lambda)`` need a division.  Both are
evaluated on additive shares with public fixed-point scales; every intermediate has public
bounds that the code proves (and checks) rather than trusts.

**Sigmoid** (:func:`sigmoid`): a piecewise polynomial.  The real line is cut at the 11 public
points ``-11, -8, -6, -4, -2, 0, 2, 4, 6, 8, 11``; below ``-11`` the value is 0, from ``11`` on
it is ``1 - 2^-F``; every other piece has a degree-4 polynomial in the offset ``delta`` from the
piece's centre (``|delta| <= 1.5``), fitted by Chebyshev-weighted least squares on ``[0, 11)``
and mirrored by ``sigmoid(-m) = 1 - sigmoid(m)``.  Coefficients are public integers
(:data:`SIG_COEF`, 24 fractional bits), fixed here so every party uses bit-identical ones.
Protocol: one batched comparison of ``m`` with the 11 points (8 rounds, ``11 m`` comparisons);
the piece's coefficients and centre are public linear combinations of the comparison bits
(local); ``delta = [inside] * (m - centre)`` (1 round); ``delta^2`` then ``delta^3, delta^4``
(2 + 2 rounds); ``sum_d a_d delta^d`` exact at ``24 + F`` bits, one truncation (2 rounds); then
``h = p (1 - p)`` (2 rounds): **17 rounds** (``c + 9`` for a comparison of ``c`` rounds).
Error: ``|p - sigmoid(m)| <= 2.6e-5`` from the fit
(largest on ``[0, 2)``; the saturation at 11 costs ``1.7e-5``) plus ``1.1 * 2^-F`` from fixed
point (``1.7e-5`` at ``F = 16``).  The fit stays in ``[1.68e-5, 1 - 1.68e-5]``, which is more
than one unit of ``2^-16``, so the shared ``p`` provably lies in ``[0, 2^F]`` and ``h >= 0``
(needed for the reciprocal's normalization); hence ``F <= 16``.  Piecewise polynomial sigmoids
are standard in MPC (e.g. SecureML, Mohassel and Zhang, S&P 2017, uses 3 linear pieces;
XORBoost's framework uses a Fourier approximation of the sigmoid, Boura et al., J. Math.
Cryptology 2020); the 12-piece quartic is this module's choice for ``< 5e-5`` error.

**Reciprocal** (:func:`scales`, :func:`reciprocal`): for ``D`` in public bounds
``[D_lo, D_hi]`` with ``D_lo > 0``, comparisons ``e_j = [D >= 4^j]`` for the ``J_hi - J_lo``
powers of 4 between the bounds (batched with the caller's other comparisons) give
``J = J_lo + sum_j e_j`` with ``D in [4^(J-1), 4^J)``, and locally (the one-hot
``e_(j-1) - e_j`` times public constants) ``s = 4^-J`` and ``hs = 2^-J``.  Then ``y = D s`` lies
in ``[1/4, 1)``; Goldschmidt's iteration (R. E. Goldschmidt, MSc thesis, MIT 1964; its use for
secure division: Catrina and Saxena, FC 2010) from ``x0 = 4.0119 - 3.25 y`` (relative error
``eps0 = 1 - y x0 <= 0.2381`` on ``[0.235, 1]``) runs ``x <- x (1 + eps)``, ``eps <- eps^2``
(both products in one round pair) 4 times: relative error ``eps0^16 < 1.1e-10``, below the
28-bit working precision.  ``1 / D = s x``; the caller forms ``G^2 / D = (G hs)^2 x`` and
``G / D = (G hs) x hs``, so no value ever needs more than ``2 log2 N + 2F + 2`` bits.  Rounds:
``y`` and ``y x0`` 2 + 2, the iteration 8 (the last one truncates ``x`` to ``F`` bits).

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``protocols.*``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.trees.batch import combine, lt_many, mul_many, one_minus, truncate_many
from protocols.types import Shared, contig, public

SIG_BREAKS = (-11.0, -8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 11.0)
"""The public points where the sigmoid's pieces change (piece k is between breaks k-1 and k)."""
SIG_COEF_BITS = 24
_POS_CENTRES = (1.0, 3.0, 5.0, 7.0, 9.5)
_POS_COEF = (
    (12264936, 3300111, -758697, -105506, 76913),
    (15981573, 758268, -343573, 90874, -11641),
    (16664926, 111300, -54970, 18790, -4358),
    (16761930, 15231, -7610, 2690, -659),
    (16775960, 1238, -622, 240, -58),
)
"""``round(a_d * 2^24)`` of ``sum_d a_d delta^d`` on ``[0,2), [2,4), [4,6), [6,8), [8,11)``."""
SIG_MAX_ERROR = 2.6e-5
MAX_SIGMOID_FRAC_BITS = 16

RECIP_ALPHA = 4.0119
RECIP_BETA_QUARTERS = 13
"""``x0 = alpha - (13 / 4) y``: beta is a multiple of 1/4 so ``x0`` is formed locally."""
RECIP_EPS0 = 0.2381
RECIP_ITERATIONS = 4
Y_BITS = 28
"""Working precision of the normalized divisor ``y`` and the iteration."""


def _sig_tables(frac_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coef (12, 5) at 24 bits, centre (12,) at F bits, constant (12,) at 24 + F bits)``."""
    pos = np.array(_POS_COEF, dtype=np.int64)
    mirror = np.array([1, 1, -1, 1, -1], dtype=np.int64)  # a'_d = -(-1)^d a_d, a'_0 = 1 - a_0
    neg = pos[::-1] * mirror
    neg[:, 0] = (1 << SIG_COEF_BITS) - pos[::-1, 0]
    coef = np.zeros((12, 5), dtype=np.int64)
    coef[1:6] = neg
    coef[6:11] = pos
    centres = np.array([-11.0, *(-c for c in _POS_CENTRES[::-1]), *_POS_CENTRES, 11.0])
    ctr = np.round(centres * 2.0**frac_bits).astype(np.int64)
    const = coef[:, 0] << frac_bits
    const[11] = (1 << (SIG_COEF_BITS + frac_bits)) - (1 << SIG_COEF_BITS)  # 1 - 2^-F
    return coef, ctr, const


def _telescope(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(diffs, base)`` with ``table[piece] = base + sum_{j < piece} diffs[j]``."""
    return np.diff(table, axis=0), table[0]


def sigmoid_reference(m: np.ndarray) -> np.ndarray:
    """The approximation in plaintext floating point (for tests and error analysis)."""
    coef, ctr, _ = _sig_tables(SIG_COEF_BITS)
    m = np.asarray(m, dtype=np.float64)
    piece = np.searchsorted(np.array(SIG_BREAKS), m, side="right")
    delta = m - ctr[piece] / 2.0**SIG_COEF_BITS
    powers = delta[:, None] ** np.arange(5)[None, :]
    val = (coef[piece] * powers).sum(axis=1) / 2.0**SIG_COEF_BITS
    return np.where(piece == 0, 0.0, np.where(piece == 11, 1.0, val))


async def sigmoid(ctx: Context, m: Shared) -> tuple[Shared, Shared]:
    """``(p, h)``: shared ``sigmoid(m)`` and ``p (1 - p)`` at ``m``'s scale: 17 rounds.

    ``m`` is fixed point with ``8 <= F <= 16`` fractional bits; ``p in [0, 2^F]`` and
    ``h in [0, 2^F / 4 + 1]`` (encoded) are proven, see the module docstring.
    """
    ctx = ctx.scope("sigmoid")
    f = m.frac_bits
    if not 8 <= f <= MAX_SIGMOID_FRAC_BITS:
        raise LocalProtocolError("sigmoid needs 8 <= frac_bits <= 16")
    coef, ctr, const = _sig_tables(f)
    k = len(SIG_BREAKS)
    stacked = Shared(contig(np.broadcast_to(m.share, (k, *m.shape))), f, m.lo, m.hi)
    points = np.array([round(b * 2**f) for b in SIG_BREAKS], dtype=np.int64)
    thr = public(
        np.broadcast_to(points.reshape(k, *([1] * len(m.shape))), stacked.shape),
        ctx.is_first,
        frac_bits=f,
    )
    (below,) = await lt_many(ctx, [(stacked, thr)])
    at_least = [one_minus(ctx, below[j]) for j in range(k)]  # c_j = [m >= break_j]
    cd, cb = _telescope(coef)
    coefs = combine(ctx, at_least, cd, cb)  # (..., 5) at 24 bits
    td, tb = _telescope(ctr)
    centre = combine(ctx, at_least, td, tb)
    kd, kb = _telescope(const)
    constant = combine(ctx, at_least, kd, kb)
    inside = (at_least[0] - at_least[k - 1]).with_bounds(0, 1)
    raw = m - Shared(centre.share, f, centre.lo, centre.hi)
    half = round(1.5 * 2**f)
    (delta,) = await mul_many(ctx, [(inside, raw, 0)])
    delta = delta.with_bounds(-half, half)
    (d2,) = await mul_many(ctx, [(delta, delta, f)])
    d3, d4 = await mul_many(ctx, [(d2, delta, f), (d2, d2, f)])
    a = [Shared(contig(coefs.share[..., d]), SIG_COEF_BITS, coefs.lo, coefs.hi) for d in range(5)]
    terms = await mul_many(ctx, [(a[1], delta, 0), (a[2], d2, 0), (a[3], d3, 0), (a[4], d4, 0)])
    total = Shared(constant.share, SIG_COEF_BITS + f, constant.lo, constant.hi)
    for t in terms:
        total = total + t
    (p,) = await truncate_many(ctx, [(total, SIG_COEF_BITS)])
    p = p.with_bounds(0, 1 << f)
    one_minus_p = (-p).add_public(1 << f, ctx.is_first)
    (h,) = await mul_many(ctx, [(p, one_minus_p, f)])
    return p, h.with_bounds(0, (1 << f) // 4 + 1)


# ---- the reciprocal --------------------------------------------------------------------------
@dataclass(frozen=True)
class RecipPlan:
    """Public constants of the normalized reciprocal for ``D`` in ``[d_lo, d_hi]`` (reals)."""

    j_lo: int
    j_hi: int
    s_bits: int  # fractional bits of s = 4^-J
    h_bits: int  # fractional bits of hs = 2^-J

    @property
    def thresholds(self) -> list[int]:
        """The exponents j of the comparisons ``[D >= 4^j]``."""
        return list(range(self.j_lo, self.j_hi))


def recip_plan(d_lo: float, d_hi: float, frac_bits: int) -> RecipPlan:
    """The plan for divisors in ``[d_lo, d_hi]`` encoded with ``frac_bits`` bits."""
    if not 0 < d_lo <= d_hi or not math.isfinite(d_hi):
        raise LocalProtocolError("the reciprocal needs public bounds 0 < d_lo <= d_hi")
    j_lo = math.floor(math.log(d_lo, 4)) + 1
    while 4.0 ** (j_lo - 1) > d_lo:  # floating-point guard: D >= d_lo >= 4^(j_lo - 1)
        j_lo -= 1
    j_hi = math.floor(math.log(d_hi, 4)) + 1
    while 4.0**j_hi <= d_hi:  # D <= d_hi < 4^j_hi
        j_hi += 1
    if 2 * j_lo < -frac_bits:
        raise LocalProtocolError("the divisor's lower bound is below the fixed-point precision")
    s_bits = max(2 * j_hi, Y_BITS + 1 - frac_bits, 0)
    h_bits = max(j_hi, 0)
    return RecipPlan(j_lo, j_hi, s_bits, h_bits)


def threshold_pairs(d: Shared, plan: RecipPlan) -> list[tuple[Shared, int]]:
    """The comparisons ``[D >= 4^j]`` as ``ge_public`` items (encoded at ``D``'s scale)."""
    f = d.frac_bits
    return [(d, int(round(4.0**j * 2**f))) for j in plan.thresholds]


def scales(
    ctx: Context, bits: list[Shared], plan: RecipPlan, shape: tuple[int, ...]
) -> tuple[Shared, Shared]:
    """``(s = 4^-J at s_bits, hs = 2^-J at h_bits)`` from ``bits[j] = [D >= 4^j]`` (local)."""
    js = list(range(plan.j_lo, plan.j_hi + 1))  # every possible J
    s_tab = np.array([1 << (plan.s_bits - 2 * j) for j in js], dtype=np.int64)
    h_tab = np.array([1 << (plan.h_bits - j) for j in js], dtype=np.int64)
    if not bits:
        s = public(np.full(shape, s_tab[0]), ctx.is_first, frac_bits=plan.s_bits)
        h = public(np.full(shape, h_tab[0]), ctx.is_first, frac_bits=plan.h_bits)
        return s, h
    sd, sb = _telescope(s_tab)
    hd, hb = _telescope(h_tab)
    s = combine(ctx, bits, sd, sb)
    h = combine(ctx, bits, hd, hb)
    s = Shared(s.share, plan.s_bits, int(s_tab.min()), int(s_tab.max()))
    h = Shared(h.share, plan.h_bits, int(h_tab.min()), int(h_tab.max()))
    return s, h


class Recip:
    """The reciprocal's rounds as a state machine, so callers can batch their own products.

    Each stage: ``items()`` gives this stage's products (put them first in a
    :func:`~protocols.trees.batch.mul_many` call, with the caller's own items after them) and
    ``take(results)`` consumes the first ``len(items())`` results and returns the rest.  Stages:
    ``y = D s``; ``y x0``; then :data:`RECIP_ITERATIONS` Goldschmidt steps (the last truncates
    ``x`` to ``out_bits``).  After the last stage ``x ~ 1 / y`` (``x in (1, 4]``).
    """

    def __init__(self, ctx: Context, d: Shared, s: Shared, out_bits: int) -> None:
        self._first = ctx.is_first
        self._trunc_y = d.frac_bits + s.frac_bits - Y_BITS
        if self._trunc_y < 1 or not 0 < out_bits <= Y_BITS:
            raise LocalProtocolError("reciprocal: unsupported fixed-point scales")
        self._d, self._s, self.out_bits = d, s, out_bits
        self.stage = 0
        self.y: Shared | None = None
        self.x: Shared | None = None
        self._x_bits = Y_BITS + 2
        self._eps: Shared | None = None

    @property
    def stages(self) -> int:
        return 2 + RECIP_ITERATIONS

    @property
    def done(self) -> bool:
        return self.stage >= self.stages

    def items(self) -> list[tuple[Shared, Shared, int]]:
        one_y = 1 << Y_BITS
        if self.stage == 0:
            return [(self._d, self._s, self._trunc_y)]
        if self.stage == 1:
            if self.y is None or self.x is None:  # pragma: no cover - stage order
                raise LocalProtocolError("reciprocal stages out of order")
            return [(self.y, self.x, Y_BITS + 2)]
        if self.x is None or self._eps is None:  # pragma: no cover - stage order
            raise LocalProtocolError("reciprocal stages out of order")
        last = self.stage == self.stages - 1
        one_eps = self._eps.add_public(one_y, self._first)
        target = self.out_bits if last else Y_BITS
        out = [(self.x, one_eps, self._x_bits + Y_BITS - target)]
        if not last:
            out.append((self._eps, self._eps, Y_BITS))
        return out

    def take(self, results: list[Shared]) -> list[Shared]:
        one_y = 1 << Y_BITS
        n = len(self.items())
        mine, rest = results[:n], results[n:]
        if self.stage == 0:
            self.y = mine[0].with_bounds(one_y // 4 - 2, one_y + 2)
            x0 = self.y.mul_public(-RECIP_BETA_QUARTERS).add_public(
                round(RECIP_ALPHA * 2 ** (Y_BITS + 2)), self._first
            )
            self.x = Shared(x0.share, Y_BITS + 2, x0.lo, x0.hi)
        elif self.stage == 1:
            bound = math.ceil(RECIP_EPS0 * one_y) + 8
            eps = (-mine[0]).add_public(one_y, self._first)
            self._eps = eps.with_bounds(-bound, bound)
        else:
            it = self.stage - 2
            last = self.stage == self.stages - 1
            self._x_bits = self.out_bits if last else Y_BITS
            top = math.ceil(4.2 * 2.0**self._x_bits)
            self.x = mine[0].with_bounds(int(0.9 * 2**self._x_bits), top)
            if not last:
                bound = math.ceil(RECIP_EPS0 ** (2 ** (it + 1)) * one_y) + 8
                self._eps = mine[1].with_bounds(-bound, bound)
        self.stage += 1
        return rest


async def reciprocal(ctx: Context, d: Shared, s: Shared, out_bits: int) -> Shared:
    """``x ~ 1 / (D s)`` at ``out_bits`` bits (``D s`` in ``[1/4, 1)``): 2 (2 + iterations)
    rounds; the caller multiplies by ``s`` (or uses ``hs`` twice) for ``1 / D``."""
    ctx = ctx.scope("reciprocal")
    r = Recip(ctx, d, s, out_bits)
    while not r.done:
        r.take(await mul_many(ctx, r.items()))
    if r.x is None:  # pragma: no cover
        raise LocalProtocolError("reciprocal did not finish")
    return r.x


__all__ = [
    "MAX_SIGMOID_FRAC_BITS",
    "RECIP_ITERATIONS",
    "SIG_BREAKS",
    "SIG_COEF_BITS",
    "SIG_MAX_ERROR",
    "Y_BITS",
    "Recip",
    "RecipPlan",
    "recip_plan",
    "reciprocal",
    "scales",
    "sigmoid",
    "sigmoid_reference",
    "threshold_pairs",
]
