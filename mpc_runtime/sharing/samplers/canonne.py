"""Exact Bernoulli(exp(-gamma)), geometric, discrete Laplace and discrete Gaussian samplers.

Follows Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS
2020), Algorithms 1-3, vectorised: every loop below runs over the still-pending subset of a
numpy array, never over single elements.  Only integer arithmetic and the exact coins of
:class:`~.source.RandomSource` are used, so each output has exactly the stated distribution
(no floating point anywhere; Mironov, CCS 2012).

* Bernoulli(exp(-gamma)), gamma = num/den >= 0 (Algorithm 1): for gamma in [0, 1] draw
  A_k ~ Bernoulli(gamma / k) for k = 1, 2, ... until the first A_K = 0 and answer "K is odd";
  P(K > k) = gamma^k / k!, so P(K odd) = sum_j (-gamma)^j / j! = e^-gamma.  For gamma > 1,
  floor(gamma) independent Bernoulli(e^-1) coins must all succeed, then one more coin for the
  fractional part.  gamma may differ per element (a common denominator ``den``).
* Geometric with P(G = g) = (1 - e^-gamma) e^(-gamma g), gamma = s/t (the core of Algorithm 2):
  U uniform on [0, t) kept with probability e^(-U/t), V ~ Geometric(e^-1) counted with
  Bernoulli(e^-1) coins, X = U + tV has P(X = x) proportional to e^(-x/t), and
  G = floor(X / s) has P(G >= g) = e^(-gs/t).
* Discrete Laplace, P(z) proportional to e^(-|z| / scale), scale = t/s (Algorithm 2):
  a sign bit times G, rejecting "negative zero".
* Discrete Gaussian, P(z) proportional to e^(-z^2 / (2 sigma^2)), sigma^2 = a/b rational
  (Algorithm 3): Y ~ discrete Laplace with scale T = floor(sigma) + 1, accepted with probability
  exp(-(|Y| - sigma^2/T)^2 / (2 sigma^2)) = exp(-(|Y| b T - a)^2 / (2 a b T^2)).

Range: every output lies in [-2**62, 2**62].  Parameters are refused (UsageError) when a draw
or an intermediate value could leave that range with probability above e^-90; a draw that does
so anyway raises LocalProtocolError instead of wrapping.

May import: numpy, ``fractions``, ``math``, ``mpc_runtime.errors`` and ``.source``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.sharing.samplers.source import (
    NOISE_BOUND,
    BoolArray,
    I64Array,
    RandomSource,
    check_size,
    rational_param,
)

__all__ = [
    "MAX_GAMMA_DENOMINATOR",
    "MAX_SIGMA2",
    "bernoulli_exp",
    "bernoulli_exp_array",
    "discrete_gaussian",
    "discrete_laplace",
    "dlaplace_flat",
    "geometric",
    "geometric_flat",
]

# X = U + tV ~ Geometric(e^(-1/t)) must stay below 2**62: P(X >= 2**62) = e^(-2**62 / t) and
# t <= 2**55 makes that at most e^-128.
MAX_GAMMA_DENOMINATOR = 2**55
MAX_SIGMA2 = 2**60


def bernoulli_exp_one(rng: RandomSource, n: int) -> BoolArray:
    """``n`` exact Bernoulli(e^-1) coins (Algorithm 1 with gamma = 1; A_1 = 1 always)."""
    out = np.ones(n, dtype=bool)
    idx = np.arange(n)
    k = 2
    while idx.size:
        cont = rng.uniform_int(k, idx.size) == 0  # A_k ~ Bernoulli(1/k)
        if k % 2 == 0:  # stopping at an even K means the answer 0
            out[idx[~cont]] = False
        idx = idx[cont]
        k += 1
    return out


def bernoulli_exp_array(rng: RandomSource, num: npt.NDArray[Any], den: int) -> BoolArray:
    """Exact coins with P(True) = exp(-num[i] / den); ``num`` int64 or Python-int objects >= 0."""
    flat = np.asarray(num).ravel()
    if flat.dtype != object and den > NOISE_BOUND:  # keep the arithmetic exact
        flat = flat.astype(object)
    out = np.ones(flat.size, dtype=bool)
    whole = flat // den
    frac = flat - whole * den
    idx = np.flatnonzero(whole > 0)
    j = 0
    while idx.size:  # floor(gamma) coins of e^-1 must all succeed
        ok = bernoulli_exp_one(rng, idx.size)
        out[idx[~ok]] = False
        idx = idx[ok]
        j += 1
        idx = idx[np.asarray(whole[idx] > j, dtype=bool)]
    idx = np.flatnonzero(out & np.asarray(frac > 0, dtype=bool))
    rem = frac[idx]
    k = 1
    while idx.size:  # Algorithm 1 for the fractional part rem / den
        cont = rng.bernoulli_ratio(rem, den * k)  # A_k ~ Bernoulli(rem / (den k))
        if k % 2 == 0:
            out[idx[~cont]] = False
        idx = idx[cont]
        rem = rem[cont]
        k += 1
    return out


def _geometric_e1(rng: RandomSource, n: int) -> I64Array:
    """V with P(V >= v) = e^-v: the number of Bernoulli(e^-1) successes before a failure."""
    v = np.zeros(n, dtype=np.int64)
    idx = np.arange(n)
    while idx.size:
        ok = bernoulli_exp_one(rng, idx.size)
        idx = idx[ok]
        v[idx] += 1
    return v


def geometric_flat(rng: RandomSource, s: int, t: int, n: int) -> I64Array:
    """``n`` draws with P(G >= g) = exp(-g s / t) (s, t >= 1 integers, t <= 2**55)."""
    if t == 1:
        x = _geometric_e1(rng, n)
    else:
        u = np.empty(n, dtype=np.int64)
        pending = np.arange(n)
        while pending.size:
            cand = rng.uniform_int(t, pending.size)
            keep = bernoulli_exp_array(rng, cand, t)  # P(keep) = e^(-U/t)
            u[pending[keep]] = cand[keep]
            pending = pending[~keep]
        v = _geometric_e1(rng, n)
        if n and int(v.max()) > (NOISE_BOUND - t) // t:
            raise LocalProtocolError("geometric draw left the int64 noise range")
        x = u + t * v
    return x // s if s != 1 else x


def dlaplace_flat(rng: RandomSource, s: int, t: int, n: int) -> I64Array:
    """``n`` draws with P(z) proportional to exp(-|z| s / t) (Algorithm 2)."""
    out = np.empty(n, dtype=np.int64)
    pending = np.arange(n)
    while pending.size:
        y = geometric_flat(rng, s, t, pending.size)
        neg = rng.bits(pending.size)
        ok = ~(neg & (y == 0))
        z = np.where(neg, -y, y)
        out[pending[ok]] = z[ok]
        pending = pending[~ok]
    return out


def _gamma_param(value: Any, name: str) -> Fraction:
    gamma = rational_param(value, name, strict=True)
    if gamma.denominator > MAX_GAMMA_DENOMINATOR:
        raise UsageError(f"{name} needs a denominator <= 2**55; round it up first")
    return gamma


def bernoulli_exp(gamma: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """0/1 draws equal to 1 with probability exactly exp(-gamma), for rational gamma >= 0."""
    g = rational_param(gamma, "gamma")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    num = np.full(n, g.numerator, dtype=np.int64)
    return bernoulli_exp_array(rng, num, g.denominator).astype(np.int64).reshape(shape)


def geometric(gamma: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Draws on {0, 1, ...} with P(k) = (1 - e^-gamma) e^(-gamma k), rational gamma > 0.

    Refuses gamma < 90 / 2**62 (the mean would approach the int64 noise range).
    """
    g = _gamma_param(gamma, "gamma")
    if g * NOISE_BOUND < 90:
        raise UsageError("gamma is too small: draws could leave the int64 noise range")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    return geometric_flat(rng, g.numerator, g.denominator, n).reshape(shape)


def discrete_laplace(scale: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Draws on Z with P(z) proportional to exp(-|z| / scale), for rational scale > 0.

    ``scale`` is the Laplace scale in integer (grid) units, e.g. sensitivity / epsilon; its
    numerator must be at most 2**55 and scale at most 2**62 / 90.
    """
    sc = rational_param(scale, "scale", strict=True)
    if sc.numerator > MAX_GAMMA_DENOMINATOR:
        raise UsageError("scale needs a numerator <= 2**55; round it up first")
    if sc * 90 > NOISE_BOUND:
        raise UsageError("scale is too large: draws could leave the int64 noise range")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    return dlaplace_flat(rng, sc.denominator, sc.numerator, n).reshape(shape)


def _gauss_accept(rng: RandomSource, y: I64Array, a: int, b: int, t: int) -> BoolArray:
    """Coins with P = exp(-(|y| b t - a)^2 / (2 a b t^2)), in int64 when that is safe."""
    den = 2 * a * b * t * t
    top = (int(np.abs(y).max()) if y.size else 0) * b * t + a
    if top < 2**31:
        num: npt.NDArray[Any] = (np.abs(y) * (b * t) - a) ** 2
    else:
        num = (np.abs(y).astype(object) * (b * t) - a) ** 2
    return bernoulli_exp_array(rng, num, den)


def discrete_gaussian(sigma2: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Draws on Z with P(z) proportional to exp(-z^2 / (2 sigma2)), rational 0 < sigma2 <= 2**60.

    ``sigma2`` is the variance parameter sigma^2 (Algorithm 3 of Canonne-Kamath-Steinke).
    """
    s2 = rational_param(sigma2, "sigma2", strict=True)
    if s2 > MAX_SIGMA2:
        raise UsageError("sigma2 must be at most 2**60")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    a, b = s2.numerator, s2.denominator
    t = math.isqrt(a // b) + 1  # floor(sigma) + 1
    out = np.empty(n, dtype=np.int64)
    pending = np.arange(n)
    while pending.size:
        y = dlaplace_flat(rng, 1, t, pending.size)
        ok = _gauss_accept(rng, y, a, b, t)
        out[pending[ok]] = y[ok]
        pending = pending[~ok]
    return out.reshape(shape)
