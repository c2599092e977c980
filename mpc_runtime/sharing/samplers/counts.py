"""Exact binomial, Poisson, Skellam and negative binomial (Polya) samplers.

* Binomial(N, 1/2): the popcount of N uniform bits (vectorised over 64-bit words) while
  N <= ``POPCOUNT_MAX_TRIALS``; above that, and for Binomial(N, a/c), the exact ratio
  rejection sampler of :mod:`.ratio` (pmf ratio (N-k)/(k+1) * a/(c-a)).
* Poisson(lambda), rational lambda: the exact ratio rejection sampler of :mod:`.ratio`
  (pmf ratio lambda/(k+1)), O(1) expected work for any lambda <= 2**32.
* Skellam(mu) = Poisson(mu/2) - Poisson(mu/2), two independent draws.
* Negative binomial NB(r, p), P(k) = Gamma(k+r)/(k! Gamma(r)) (1-p)^r p^k, with rational r > 0
  and p = exp(-gamma), rational gamma > 0.  Write r = w + f (w integer, 0 <= f < 1);
  NB(w, p) is a sum of w geometrics.  For 0 < f < 1 we use the beta-gamma algebra (our
  derivation from standard facts): NB(f, p) is Poisson(Gamma(f, theta)) with
  p = theta/(1+theta); Gamma(f) = Exp(1) * Beta(f, 1-f) (independent); Poisson(Exp(1) theta) is
  Geometric(p); and thinning Poisson(L) with probability B gives Poisson(L B).  Hence
  NB(f, p) = Binomial(G, B) with G ~ Geometric(p) (exact, :mod:`.canonne`) and
  B ~ Beta(f, 1-f).  Binomial(G, Beta(f, 1-f)) is the number of red draws in G draws of a
  Polya urn started with weights f (red) and 1-f (black) -- the Blackwell-MacQueen urn with
  concentration 1 -- whose tables are the cycles of a uniform random permutation of G items
  (Ewens' law with theta = 1), each cycle red with probability f independently.  The cycle
  sizes come from the Feller coupling: the cycle through a given item of a uniform
  permutation of m items has size uniform on {1..m}, and the rest is a uniform permutation of
  the remaining items.  So: G ~ Geometric(p); while G > 0: S = 1 + uniform[0, G);
  with probability f add S to the output; G -= S.  Only exact integer coins are used, with
  about ln(G) + 1 rounds, so the law is exactly NB(f, p) (checked against the pmf by the
  chi-square tests).  This replaces the lazily refined inversion the design notes suggested:
  it needs no error analysis at all.

Every output lies in [-2**62, 2**62]; parameters whose draws could leave it are refused with
UsageError, and a draw that would leave it raises LocalProtocolError instead of wrapping.

May import: numpy, ``fractions``, ``math``, ``mpc_runtime.errors`` and this package.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.sharing.samplers.canonne import MAX_GAMMA_DENOMINATOR, geometric_flat
from mpc_runtime.sharing.samplers.ratio import BinomialTarget, PoissonTarget, cached_sampler
from mpc_runtime.sharing.samplers.source import (
    NOISE_BOUND,
    I64Array,
    RandomSource,
    check_count,
    check_size,
    rational_param,
)

__all__ = [
    "MAX_NB_SHAPE",
    "MAX_POISSON_MEAN",
    "MAX_VARIANCE",
    "POPCOUNT_MAX_TRIALS",
    "binomial",
    "binomial_half",
    "nb_params",
    "negative_binomial",
    "poisson",
    "polya_thin",
    "skellam",
]

POPCOUNT_MAX_TRIALS = 1024
MAX_POISSON_MEAN = 2**32
MAX_VARIANCE = 2**32
MAX_NB_SHAPE = 2**16
_POPCOUNT_CHUNK_WORDS = 1 << 20
_HALF = Fraction(1, 2)


def _popcount_binomial(rng: RandomSource, trials: int, n: int) -> I64Array:
    """Binomial(trials, 1/2) as the number of ones among ``trials`` uniform bits."""
    out = np.zeros(n, dtype=np.int64)
    if trials == 0:
        return out
    words = (trials + 63) // 64
    spare = 64 * words - trials
    last_mask = np.uint64((1 << (64 - spare)) - 1)
    step = max(1, _POPCOUNT_CHUNK_WORDS // words)
    for start in range(0, n, step):
        m = min(step, n - start)
        block = rng.uint64(m * words).reshape(m, words)
        block[:, -1] &= last_mask
        out[start : start + m] = np.bitwise_count(block).sum(axis=1, dtype=np.int64)
    return out


def binomial_half(trials: int, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Binomial(trials, 1/2) draws, each in [0, trials] (popcount of ``trials`` bits)."""
    return binomial(trials, _HALF, size, rng=rng)


def binomial(trials: int, p: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Binomial(trials, p) draws for rational 0 <= p <= 1, each in [0, trials].

    ``trials`` <= 2**62 and ``trials * p * (1 - p)`` <= 2**32.
    """
    big_n = check_count(trials, "trials")
    prob = rational_param(p, "p")
    if prob > 1:
        raise UsageError("p must be at most 1")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    if prob == 0 or big_n == 0:
        return np.zeros(shape, dtype=np.int64)
    if prob == 1:
        return np.full(shape, big_n, dtype=np.int64)
    if prob == _HALF and big_n <= POPCOUNT_MAX_TRIALS:
        return _popcount_binomial(rng, big_n, n).reshape(shape)
    if big_n * prob * (1 - prob) > MAX_VARIANCE:
        raise UsageError("trials * p * (1 - p) must be at most 2**32")
    return cached_sampler(BinomialTarget(big_n, prob)).sample(rng, n).reshape(shape)


def _poisson_flat(rng: RandomSource, lam: Fraction, n: int) -> I64Array:
    if lam == 0:
        return np.zeros(n, dtype=np.int64)
    return cached_sampler(PoissonTarget(lam)).sample(rng, n)


def poisson(lam: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Poisson(lam) draws for rational 0 <= lam <= 2**32 (values in [0, 2**62])."""
    mean = rational_param(lam, "lam")
    if mean > MAX_POISSON_MEAN:
        raise UsageError("lam must be at most 2**32")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    return _poisson_flat(rng, mean, n).reshape(shape)


def skellam(mu: Any, size: Any, *, rng: RandomSource | None = None) -> I64Array:
    """Skellam(mu) = Poisson(mu/2) - Poisson(mu/2) draws (variance mu), 0 <= mu <= 2**33."""
    var = rational_param(mu, "mu")
    if var > 2 * MAX_POISSON_MEAN:
        raise UsageError("mu must be at most 2**33")
    shape, n = check_size(size)
    rng = rng or RandomSource()
    half = var / 2
    return (_poisson_flat(rng, half, n) - _poisson_flat(rng, half, n)).reshape(shape)


def polya_thin(rng: RandomSource, g: I64Array, f: Fraction) -> I64Array:
    """Binomial(g[i], B_i) with B_i ~ Beta(f, 1 - f), 0 < f < 1 (uniform-permutation cycles)."""
    flat = np.asarray(g, dtype=np.int64).ravel()
    out = np.zeros(flat.size, dtype=np.int64)
    idx = np.flatnonzero(flat > 0)
    left = flat[idx]
    acc = np.zeros(idx.size, dtype=np.int64)
    while idx.size:
        size = 1 + rng.uniform_below(left)  # the next cycle's length
        acc += np.where(rng.bernoulli(f, idx.size), size, 0)  # the cycle is red
        left -= size
        done = left == 0
        out[idx[done]] = acc[done]
        more = ~done
        idx, left, acc = idx[more], left[more], acc[more]
    return out


def _nb_flat(rng: RandomSource, r: Fraction, gamma: Fraction, n: int) -> I64Array:
    s, t = gamma.numerator, gamma.denominator
    whole, frac = divmod(r, 1)
    out = np.zeros(n, dtype=np.int64)
    draws = int(whole) + (1 if frac else 0)
    for i in range(draws):
        g = geometric_flat(rng, s, t, n)
        if i == int(whole):  # the fractional shape: thin the last geometric
            g = polya_thin(rng, g, Fraction(frac))
        if n and int(g.max()) > NOISE_BOUND - int(out.max()):
            raise LocalProtocolError("negative binomial draw left the int64 noise range")
        out += g
    return out


def nb_params(r: Any, gamma: Any) -> tuple[Fraction, Fraction]:
    """Validated (r, gamma) for :func:`negative_binomial`."""
    shape = rational_param(r, "r", strict=True)
    g = rational_param(gamma, "gamma", strict=True)
    if shape > MAX_NB_SHAPE:
        raise UsageError("r must be at most 2**16")
    if g.denominator > MAX_GAMMA_DENOMINATOR:
        raise UsageError("gamma needs a denominator <= 2**55; round it up first")
    # P(NB >= 2**62) <= ceil(r) P(G >= 2**62 / ceil(r)) = ceil(r) e^(-gamma 2**62 / ceil(r)).
    if g * NOISE_BOUND < 90 * math.ceil(shape):
        raise UsageError("gamma is too small for r: draws could leave the int64 noise range")
    return shape, g


def negative_binomial(
    r: Any, gamma: Any, size: Any, *, rng: RandomSource | None = None
) -> I64Array:
    """NB(r, p = exp(-gamma)) draws (Polya), rational 0 < r <= 2**16 and gamma > 0.

    P(k) = Gamma(k+r)/(k! Gamma(r)) (1-p)^r p^k for k >= 0; mean r p / (1 - p).
    """
    shape_r, g = nb_params(r, gamma)
    shape, n = check_size(size)
    rng = rng or RandomSource()
    return _nb_flat(rng, shape_r, g, n).reshape(shape)
