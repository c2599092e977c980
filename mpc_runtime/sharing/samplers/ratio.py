"""Exact rejection sampling of log-concave integer laws whose pmf ratios are rational.

What it is for: Poisson(lambda) and Binomial(N, a/c) for any size of lambda or N in O(1)
expected work per draw, exactly.  Both pmfs have rational successive ratios
(P(k+1)/P(k) = lambda/(k+1), resp. (N-k)/(k+1) * a/(c-a)) that decrease in k (log-concavity).

The method (our construction; rejection from a dominating staircase and lazy comparison of a
uniform with a number known to any precision are classical, see Devroye, "Non-Uniform Random
Variate Generation", 1986, II.3 and IV.5):

* proposal: D on Z with P(D = d) proportional to 2^-floor(|d|/w): a block index
  G ~ Geometric(1/2) (trailing zero bits of random words), an offset uniform on [0, w), a
  sign bit, and "negative zero" rejected.  w ~ 0.75 sd; everything here is exact;
* centre m = the mode; f(d) = P(m+d)/P(m) 2^floor(|d|/w), a RATIONAL number; the proposal d is
  accepted with probability a(d) = f(d)/M, M >= sup f.  Then P(output m+d) is proportional
  to 2^-floor(|d|/w) f(d) / M, i.e. to P(m+d): exact whatever M is, as long as M >= sup f.
  On each side P(m+d)/P(m) decreases in |d| (m is the mode) and the block-start values
  g(k) = f(kw) are log-concave in k, so once g(K) < g(K-1) every f(d), |d| >= Kw, is at most
  f(Kw): the table below stops at such a block start (or at the end of the support) and
  keeps f(Kw) as the bound for everything beyond it;
* deciding ``U < a(d)`` for a uniform U in [0, 1): U's first 53 bits give an interval
  [u, u+1) 2^-53.  The float64 table of f(d)/M (cumulative products times exact powers of
  two) has a rigorous relative error bound.  Each ratio is formed from exact integers by
  correctly rounded IEEE operations -- conversions of integers above 2^53, products, one
  division and one subtraction k - (j - 1) that is exact below 2^53 and loses at most a bit
  above (the table, at most 2^26 long, never gets near k there) -- so it is within
  12 2^-53 of exact; the running product adds one rounding per step, so the error of f(d)
  is below 13 |d| 2^-53 (1.01) and we use delta(d) = 16 (|d| + 2) 2^-53.  If
  [u, u+1) 2^-53 lies entirely below a(d)(1 - delta), accept; entirely above
  a(d)(1 + delta) (or above the bound beyond the table), reject.  Otherwise (probability
  about 2^5 |d| 2^-53 per trial, below 2^-28 even for the widest tables, or a proposal
  beyond the table whose U is tiny), :meth:`RatioSampler._exact_accept` recomputes a(d) in
  integer fixed point with directed rounding (floor for the lower bound, ceiling for the
  upper), draws further bits of U and doubles the precision until the comparison is
  decided; U differs from a(d) with probability 1, so this ends with probability 1.  Every
  decision is the exact ``U < a(d)``, so the output law is exact.

Cost: about 3.5 keystream words per trial and about 1.8 trials per draw (acceptance
0.46-0.56); the table holds about 15 w floats per side and is cached per parameter set.

May import: numpy, ``fractions``, ``math``, ``mpc_runtime.errors`` and this package.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.sharing.samplers.source import I64Array, RandomSource

__all__ = [
    "BinomialTarget",
    "PoissonTarget",
    "RatioSampler",
    "RatioTarget",
    "cached_sampler",
    "staircase",
]

F64Array = npt.NDArray[np.float64]
_ULP = 2.0**-53
_DELTA_UNIT = 16 * _ULP  # delta(d) = _DELTA_UNIT (|d| + 2): the table's relative error bound
_FIRST_BLOCKS = 16  # initial table length, in proposal blocks
_MAX_TABLE = 1 << 26
_FLOOR = 2.0**-900  # table values stay far above the subnormal range
_NEGLIGIBLE = 2.0**-70  # a table may stop once f falls below this (and keeps falling)
_CACHE: dict[tuple[Any, ...], RatioSampler] = {}
_CACHE_SIZE = 8


class RatioTarget:
    """A unimodal pmf on [center - left, center + right] described by its exact ratios."""

    center: int
    left: int
    right: int | None
    variance: Fraction
    key: tuple[Any, ...]

    def exact_ratio(self, j: int, right: bool) -> tuple[int, int]:
        """(num, den) of P(c+j)/P(c+j-1) (right) or P(c-j)/P(c-j+1) (left), j >= 1."""
        raise NotImplementedError

    def float_ratios(self, j: F64Array, right: bool) -> F64Array:
        """The same ratios for an array of j, each within 12 units of 2^-53 of exact."""
        raise NotImplementedError


class PoissonTarget(RatioTarget):
    """Poisson(lam), lam = a/b > 0: P(k+1)/P(k) = a / (b (k+1)); centre floor(lam)."""

    def __init__(self, lam: Fraction) -> None:
        self.a, self.b = lam.numerator, lam.denominator
        self.center = lam.numerator // lam.denominator
        self.left, self.right = self.center, None
        self.variance = lam
        self.key = ("poisson", lam)

    def exact_ratio(self, j: int, right: bool) -> tuple[int, int]:
        if right:
            return self.a, self.b * (self.center + j)
        return self.b * (self.center - j + 1), self.a

    def float_ratios(self, j: F64Array, right: bool) -> F64Array:
        fa, fb, fm = float(self.a), float(self.b), float(self.center)
        if right:
            return fa / (fb * (fm + j))
        out: F64Array = (fb * (fm - j + 1.0)) / fa
        return out


class BinomialTarget(RatioTarget):
    """Binomial(N, a/c), 0 < a < c: P(k+1)/P(k) = (N-k) a / ((k+1)(c-a)); centre the mode."""

    def __init__(self, n: int, p: Fraction) -> None:
        self.n, self.a, self.c = n, p.numerator, p.denominator
        self.center = min(n, (n + 1) * self.a // self.c)
        self.left, self.right = self.center, n - self.center
        self.variance = n * p * (1 - p)
        self.key = ("binomial", n, p)

    def exact_ratio(self, j: int, right: bool) -> tuple[int, int]:
        m, ca = self.center, self.c - self.a
        if right:
            return (self.n - m - j + 1) * self.a, (m + j) * ca
        return (m - j + 1) * ca, (self.n - m + j) * self.a

    def float_ratios(self, j: F64Array, right: bool) -> F64Array:
        fa, fca = float(self.a), float(self.c - self.a)
        fm, frest = float(self.center), float(self.n - self.center)
        if right:
            return ((frest - (j - 1.0)) * fa) / ((fm + j) * fca)
        out: F64Array = ((fm - (j - 1.0)) * fca) / ((frest + j) * fa)
        return out


def _geometric_half(rng: RandomSource, n: int) -> I64Array:
    """G with P(G = g) = 2^-(g+1): the trailing zero bits of uniform 64-bit words."""
    words = rng.uint64(n)
    lowest = words & (~words + np.uint64(1))  # the lowest set bit (0 for a zero word)
    g = np.bitwise_count(lowest - np.uint64(1)).astype(np.int64)  # 64 for a zero word
    more = np.flatnonzero(words == 0)
    while more.size:  # probability 2^-64: 64 zeros so far, continue memorylessly
        w = rng.uint64(more.size)
        low = w & (~w + np.uint64(1))
        g[more] += np.bitwise_count(low - np.uint64(1)).astype(np.int64)
        more = more[w == 0]
    return g


def staircase(rng: RandomSource, w: int, n: int) -> I64Array:
    """``n`` exact draws on Z with P(d) proportional to 2^-floor(|d| / w)."""
    out = np.empty(n, dtype=np.int64)
    pending = np.arange(n)
    while pending.size:
        m = pending.size
        g = _geometric_half(rng, m)
        if int(g.max()) > 2**62 // w - 1:
            raise LocalProtocolError("proposal draw left the int64 range")
        mag = g * w + rng.uniform_int(w, m)
        neg = rng.bits(m)
        ok = ~(neg & (mag == 0))
        out[pending[ok]] = np.where(neg, -mag, mag)[ok]
        pending = pending[~ok]
    return out


class RatioSampler:
    """The exact rejection sampler of the module docstring for one target."""

    def __init__(self, target: RatioTarget) -> None:
        self.target = target
        # w ~ 0.75 sd: a float choice of a proposal parameter, which only affects speed
        # (acceptance 0.46-0.56), never the law of the output.
        self.w = max(1, round(0.75 * math.sqrt(float(target.variance))))
        right, right_cut = self._side(True)
        left, left_cut = self._side(False)
        reach = max(right.size, left.size)
        fmax = max(float(right.max()), float(left.max()))
        # M >= f(d) for every d: the largest table value plus its error bound, rounded up.
        self.M = fmax * (1.0 + 16.0 * (reach + 2) * _ULP + 8 * _ULP)
        self.right_table: F64Array = right / self.M
        self.left_table: F64Array = left / self.M
        # Bounds on a(d) beyond each table (0 where the table reaches the end of the support).
        self.right_tail = self._tail(self.right_table, right_cut)
        self.left_tail = self._tail(self.left_table, left_cut)

    @staticmethod
    def _tail(table: F64Array, cut: bool) -> float:
        if not cut:
            return 0.0
        return float(table[-1]) * (1.0 + 16.0 * (table.size + 2) * _ULP + 8 * _ULP)

    def _side(self, right: bool) -> tuple[F64Array, bool]:
        """f(d), d = 0, 1, ... on one side, and whether the table stops before the support."""
        t, w = self.target, self.w
        support = t.right if right else t.left
        blocks = _FIRST_BLOCKS
        while True:
            length = blocks * w if support is None else min(blocks * w, support)
            j = np.arange(1, length + 1, dtype=np.float64)
            ratios = np.concatenate(([1.0], np.cumprod(t.float_ratios(j, right))))
            f = ratios * np.exp2(np.arange(length + 1) // w)  # exact powers of two
            ok_len = int(np.argmax(ratios < _FLOOR)) if ratios[-1] < _FLOOR else length + 1
            starts = np.arange(w, ok_len, w)  # block starts k w with k >= 1 inside the table
            if starts.size:
                falling = 2.0 * ratios[starts] < ratios[starts - w] * (1.0 - 2.0**-20)
                small = f[starts] < _NEGLIGIBLE
                stop = np.flatnonzero(falling & small)
                if stop.size:
                    return f[: starts[stop[0]] + 1], True
            if ok_len <= length:
                raise UsageError("distribution too skewed for the exact sampler's table")
            if support is not None and length >= support:
                return f, False
            if length >= _MAX_TABLE:
                raise UsageError("distribution too wide for the exact sampler's table")
            blocks *= 2

    def sample(self, rng: RandomSource, n: int) -> I64Array:
        """``n`` exact draws from the target."""
        t = self.target
        rmax, lmax = self.right_table.size - 1, self.left_table.size - 1
        out = np.empty(n, dtype=np.int64)
        pending = np.arange(n)
        while pending.size:
            m = pending.size
            d = staircase(rng, self.w, m)
            u = (rng.uint64(m) >> np.uint64(11)).astype(np.float64) * _ULP  # exact
            in_sup = d >= -t.left
            if t.right is not None:
                in_sup &= d <= t.right
            in_tab = (d >= -lmax) & (d <= rmax)
            a = np.where(
                d >= 0, self.right_table[np.clip(d, 0, rmax)], self.left_table[np.clip(-d, 0, lmax)]
            )
            delta = (np.abs(d) + 2).astype(np.float64) * _DELTA_UNIT
            tail = np.where(d >= 0, self.right_tail, self.left_tail)
            acc = in_tab & (u + _ULP <= a * (1.0 - delta))
            rej = ~in_sup | np.where(in_tab, u >= a * (1.0 + delta), u >= tail)
            for i in np.flatnonzero(~acc & ~rej).tolist():  # rare: exact arithmetic
                acc[i] = self._exact_accept(rng, int(d[i]), int(u[i] / _ULP))
            out[pending[acc]] = t.center + d[acc]
            pending = pending[~acc]
        return out

    def exact_bounds(self, d: int, prec: int) -> tuple[int, int]:
        """Integers lo <= a(d) 2^prec <= hi, by fixed point with directed rounding."""
        g = prec + 2 * abs(d).bit_length() + 16  # working precision
        lo = hi = 1 << g
        for j in range(1, abs(d) + 1):
            num, den = self.target.exact_ratio(j, d > 0)
            lo = (lo * num) // den
            hi = -(-(hi * num) // den)
        m_num, m_den = self.M.as_integer_ratio()
        power = abs(d) // self.w  # f(d) = ratios * 2^power
        shift = g - prec - power
        if shift >= 0:
            return (lo * m_den) // (m_num << shift), -(-(hi * m_den) // (m_num << shift))
        return (lo * m_den << -shift) // m_num, -(-(hi * m_den << -shift) // m_num)

    def _exact_accept(self, rng: RandomSource, d: int, u: int) -> bool:
        """Decide U < a(d) exactly, U's first 53 bits being ``u``; draws more bits as needed."""
        nbits = 53
        prec = 64 + abs(d).bit_length()
        while True:
            lo, hi = self.exact_bounds(d, prec)
            u = (u << (prec - nbits)) | rng.int_bits(prec - nbits)
            nbits = prec
            if u + 1 <= lo:  # U < (u + 1) 2^-prec <= a(d)
                return True
            if u >= hi:  # U >= u 2^-prec >= a(d)
                return False
            prec *= 2


def cached_sampler(target: RatioTarget) -> RatioSampler:
    """The sampler for ``target``, built once per parameter set (a few recent ones are kept)."""
    sampler = _CACHE.get(target.key)
    if sampler is None:
        sampler = RatioSampler(target)
        if len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[target.key] = sampler
    return sampler
