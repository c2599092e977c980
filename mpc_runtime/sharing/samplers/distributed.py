"""One party's share of distributed noise: the sum over all n parties has an exact target law.

What it is for: each compute party draws its share locally from its own CSPRNG-driven exact
sampler and adds it to its secret share (see :func:`noise_as_ring`).  The sum of the n
shares then has *exactly* the target distribution, and any coalition of fewer than n parties
misses at least one independent share of the noise.  All three constructions rest on
infinite divisibility and are exact (not approximations), provided every party uses the same
public parameters and draws independently:

* Discrete Laplace with scale t, P(z) proportional to exp(-|z|/t): party i draws
  NB(1/n, p) - NB(1/n, p) with p = exp(-1/t) (Polya / negative binomial, :mod:`.counts`).
  The sum of n independent NB(1/n, p) is NB(1, p) = Geometric(p), and the difference of two
  independent Geometric(p) is discrete Laplace with ratio p.  Goryczka and Xiong, "A
  Comprehensive Comparison of Multiparty Secure Additions with Differential Privacy" (IEEE
  TDSC 2017); Balle, Bell, Gascon, Nissim, "Private Summation in the Multi-Message Shuffle
  Model" (CCS 2020).
* Centred binomial: party i draws Binomial(N/n, 1/2) - N/(2n), so the sum is
  Binomial(N, 1/2) - N/2 (binomials with a common p add up).  Dwork, Kenthapadi, McSherry,
  Mironov, Naor, "Our Data, Ourselves" (EUROCRYPT 2006); Agarwal et al., "cpSGD" (NeurIPS 2018).
* Skellam(mu): party i draws Skellam(mu/n); Skellams add up (Poissons do).  Agarwal, Kairouz,
  Liu, "The Skellam Mechanism for Differentially Private Federated Learning" (NeurIPS 2021).

The parties' shares are int64 in [-2**62, 2**62]; the full noise is their sum, in the ring
Z_2^64 after :func:`noise_as_ring` (two's complement), where the wrap of the sum is harmless
because the shares of the value are added in the same ring.

May import: numpy, ``fractions``, ``mpc_runtime.errors`` and this package.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import UsageError
from mpc_runtime.sharing.samplers.canonne import MAX_GAMMA_DENOMINATOR, geometric_flat
from mpc_runtime.sharing.samplers.counts import (
    MAX_POISSON_MEAN,
    binomial,
    nb_params,
    polya_thin,
    skellam,
)
from mpc_runtime.sharing.samplers.source import (
    I64Array,
    RandomSource,
    check_count,
    check_size,
    rational_param,
)

__all__ = [
    "MAX_PARTIES",
    "distributed_binomial_share",
    "distributed_laplace_share",
    "distributed_skellam_share",
    "noise_as_ring",
]

MAX_PARTIES = 1 << 16


def _parties(n_parties: Any) -> int:
    return check_count(n_parties, "n_parties", low=1, high=MAX_PARTIES)


def distributed_laplace_share(
    scale: Any, n_parties: int, size: Any, *, rng: RandomSource | None = None
) -> I64Array:
    """This party's NB(1/n, e^(-1/scale)) - NB(1/n, e^(-1/scale)) noise share.

    Summed over ``n_parties`` independent parties it is exactly discrete Laplace with
    P(z) proportional to exp(-|z| / scale); ``scale`` is rational, in grid units, with a
    numerator <= 2**55 (see :mod:`.calibrate`).
    """
    n = _parties(n_parties)
    sc = rational_param(scale, "scale", strict=True)
    if sc.numerator > MAX_GAMMA_DENOMINATOR:
        raise UsageError("scale needs a numerator <= 2**55; round it up first")
    gamma = 1 / sc
    r = Fraction(1, n)
    nb_params(r, gamma)  # the range check: P(draw >= 2**62) <= e^-90
    shape, count = check_size(size)
    rng = rng or RandomSource()
    s, t = gamma.numerator, gamma.denominator
    if n == 1:  # NB(1) is the geometric itself
        pos = geometric_flat(rng, s, t, count)
        neg = geometric_flat(rng, s, t, count)
    else:
        pos = polya_thin(rng, geometric_flat(rng, s, t, count), r)
        neg = polya_thin(rng, geometric_flat(rng, s, t, count), r)
    return (pos - neg).reshape(shape)


def distributed_binomial_share(
    total_trials: int, n_parties: int, size: Any, *, rng: RandomSource | None = None
) -> I64Array:
    """This party's Binomial(N/n, 1/2) - N/(2n) share; the sum is Binomial(N, 1/2) - N/2.

    ``total_trials`` N must be a multiple of 2n so every share is centred on an integer.
    """
    n = _parties(n_parties)
    big_n = check_count(total_trials, "total_trials")
    if big_n % (2 * n):
        raise UsageError("total_trials must be a multiple of 2 * n_parties")
    per_party = big_n // n
    draws = binomial(per_party, Fraction(1, 2), size, rng=rng)
    return draws - per_party // 2


def distributed_skellam_share(
    mu: Any, n_parties: int, size: Any, *, rng: RandomSource | None = None
) -> I64Array:
    """This party's Skellam(mu/n) share; the sum over n parties is exactly Skellam(mu)."""
    n = _parties(n_parties)
    var = rational_param(mu, "mu")
    if var / n > 2 * MAX_POISSON_MEAN:
        raise UsageError("mu / n_parties must be at most 2**33")
    return skellam(var / n, size, rng=rng)


def noise_as_ring(noise: I64Array) -> npt.NDArray[np.uint64]:
    """int64 noise as ring elements of Z_2^64 (two's complement), ready to add to a share."""
    arr = np.asarray(noise)
    if arr.dtype != np.int64:
        raise UsageError(f"noise must be an int64 array, got {arr.dtype}")
    return arr.view(np.uint64).copy()
