"""Differentially private releases: distributed noise added to shares before an output is revealed.

Each compute party draws *its share* of the noise from an exact integer sampler driven by the
CSPRNG (:mod:`mpc_runtime.sharing.samplers`: no floating point decides any draw, per Mironov,
CCS 2012) and adds it to its additive share of the output, so the revealed value carries the sum
of all shares, which has exactly the target law, and no single party, dealer or coordinator
knows the noise.  Fixed-point outputs are integers on the grid ``2^-f``: the noise is integer
noise in grid units and the sensitivity is rounded *up* to whole units (the "granularity" of
Google's secure-noise notes), so privacy is never weaker than claimed.

Mechanisms (``noise = {mechanism, epsilon, delta, sensitivity}`` on an output):

* ``laplace`` -- discrete Laplace with scale ``t = Delta_1 / epsilon`` grid units, as the sum of
  n parties' ``NB(1/n, e^(-1/t)) - NB(1/n, e^(-1/t))`` draws (Goryczka & Xiong, IEEE TDSC 2017;
  Balle, Bell, Gascon, Nissim, CCS 2020).  epsilon-DP for L1 sensitivity ``Delta_1`` (Ghosh,
  Roughgarden, Sundararajan, STOC 2009: the geometric mechanism).  Each party's share is bounded
  by ``SHARE_TAILS`` scales so that public bounds hold (a share reaches it with probability
  below 2^-80, which adds at most that to delta).
* ``binomial`` -- centred ``Binomial(N, 1/2) - N/2`` as the sum of n parties'
  ``Binomial(N/n, 1/2) - N/(2n)`` (Dwork, Kenthapadi, McSherry, Mironov, Naor, EUROCRYPT 2006);
  N is the least multiple of 2n whose hockey-stick divergence at the shift ``Delta`` is at most
  delta (computed from the exact pmf, in log space, over a window of +-40 standard deviations).
  Vector outputs: each coordinate gets ``epsilon / d`` and ``delta / d`` (basic composition).
* ``report_noisy_max`` and ``randomized_response`` are applied by the program
  (:mod:`protocols.dp`); the runtime only checks that it did (``noised=True``).

Neighbouring datasets differ in one individual's record (replace-one: the number of records is
public).  Cost: no round and no message: noise is local.

May import: numpy, errors, sharing (samplers, shared), the standard library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from mpc_runtime.errors import BoundsError, UsageError
from mpc_runtime.sharing.samplers import (
    distributed_binomial_share,
    distributed_laplace_share,
    laplace_params,
    noise_as_ring,
    sensitivity_units,
)
from mpc_runtime.sharing.shared import RING_MAX, RING_MIN, Shared

__all__ = [
    "SHARE_TAILS",
    "Calibration",
    "NoiseDecl",
    "add_noise",
    "binomial_delta",
    "binomial_trials",
    "calibrate",
]

SHARE_TAILS = 64
"""A discrete-Laplace noise share is bounded by this many scales (P(reach) < 2^-80)."""
MAX_BINOMIAL_TRIALS = 10**12
PROGRAM_MECHANISMS = ("report_noisy_max", "randomized_response")


@dataclass(frozen=True)
class NoiseDecl:
    """An output's declared noise: exact epsilon, delta, and an optional real sensitivity."""

    mechanism: str
    epsilon: Fraction
    delta: float = 0.0
    sensitivity: Fraction | None = None

    @classmethod
    def of(cls, mechanism: str, epsilon: float, delta: float, sensitivity: float | None) -> Any:
        """From a job spec's floats: each is read as the decimal it was written as."""
        sens = Fraction(str(sensitivity)) if sensitivity is not None else None
        return cls(mechanism, Fraction(str(epsilon)), float(delta), sens)


@dataclass(frozen=True)
class Calibration:
    """What one release adds: the exact noise parameters and the budget actually spent."""

    mechanism: str
    units: int  # sensitivity in grid units
    scale: Fraction | None = None  # laplace
    trials: int | None = None  # binomial, per coordinate
    epsilon_used: float = 0.0
    delta_used: float = 0.0

    @property
    def share_bound(self) -> int:
        """|one party's noise share| is at most this (grid units)."""
        if self.scale is not None:
            return math.ceil(self.scale * SHARE_TAILS)
        return (self.trials or 0) // 2

    @property
    def stddev_units(self) -> float:
        """Standard deviation of the total noise, in grid units."""
        if self.scale is not None:
            p = math.exp(-1 / float(self.scale))
            return math.sqrt(2 * p) / (1 - p)
        return math.sqrt((self.trials or 0) / 4)


def _log_pmf_at(trials: int, k: int) -> float:
    return (
        math.lgamma(trials + 1.0)
        - math.lgamma(k + 1.0)
        - math.lgamma(trials - k + 1.0)
        - trials * math.log(2)
    )


def _log_pmf_range(trials: int, lo: int, hi: int) -> np.ndarray[Any, Any]:
    """log P(k) of Binomial(trials, 1/2) for k = lo..hi: one lgamma, then the exact ratios
    ``P(k + 1) / P(k) = (trials - k) / (k + 1)`` summed up."""
    k = np.arange(lo, hi, dtype=np.float64)
    steps = np.log((trials - k) / (k + 1.0))
    return _log_pmf_at(trials, lo) + np.concatenate([[0.0], np.cumsum(steps)])


def binomial_delta(trials: int, shift: int, epsilon: float) -> float:
    """The hockey-stick divergence ``sum_k max(0, P(k) - e^eps P(k - shift))`` for the centred
    Binomial(trials, 1/2) and an integer shift (the delta it achieves at epsilon)."""
    if shift > trials:
        return 1.0
    sigma = math.sqrt(trials / 4)
    width = int(40 * sigma) + shift + 2
    lo, hi = max(shift, trials // 2 - width), min(trials, trials // 2 + width)
    logs = _log_pmf_range(trials, lo - shift, hi)  # k - shift .. k
    log_q, log_p = logs[: hi - lo + 1], logs[shift:]
    diff = np.exp(log_p) * -np.expm1(np.minimum(0.0, epsilon + log_q - log_p))
    below = shift * math.exp(_log_pmf_at(trials, shift)) if shift < trials // 2 else 1.0
    return float(np.sum(diff)) * 1.001 + below  # P(k < shift) <= shift P(shift); a margin


def binomial_trials(shift: int, epsilon: float, delta: float, n_parties: int) -> int:
    """The least N (a multiple of 2n) with ``binomial_delta(N, shift, epsilon) <= delta``."""
    step = 2 * n_parties
    guess = 4 * 2 * shift**2 * math.log(1.25 / delta) / epsilon**2
    lo, hi = 0, max(step, int(guess * 4) // step * step + step)
    while binomial_delta(hi, shift, epsilon) > delta:
        hi *= 2
        if hi > MAX_BINOMIAL_TRIALS:
            raise UsageError(
                "the binomial mechanism would need more than 10^12 trials here: use laplace"
            )
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if mid <= lo:
            break
        if binomial_delta(mid, shift, epsilon) <= delta:
            hi = mid
        else:
            lo = mid
    return hi


def calibrate(
    decl: NoiseDecl, sensitivity: Fraction, frac_bits: int, size: int, n: int
) -> Calibration:
    """The noise parameters for a release of ``size`` values with L1 ``sensitivity`` (real)."""
    units = sensitivity_units(sensitivity, frac_bits)
    if decl.mechanism == "laplace":
        lp = laplace_params(decl.epsilon, units)
        return Calibration("laplace", units, scale=lp.scale, epsilon_used=float(lp.epsilon_used))
    if decl.mechanism == "binomial":
        eps, delta = float(decl.epsilon) / size, decl.delta / size
        trials = binomial_trials(units, eps, delta, n)
        return Calibration(
            "binomial",
            units,
            trials=trials,
            epsilon_used=float(decl.epsilon),
            delta_used=binomial_delta(trials, units, eps) * size,
        )
    raise UsageError(f"the {decl.mechanism} mechanism is applied by the job's program")


def _draw(cal: Calibration, n: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    if cal.scale is not None:
        share = distributed_laplace_share(cal.scale, n, shape)
        bound = cal.share_bound
        return np.clip(share, -bound, bound)
    if cal.trials is None:
        raise UsageError("no noise parameters")
    return distributed_binomial_share(cal.trials, n, shape)


def add_noise(
    value: Shared, decl: NoiseDecl, sensitivity: Fraction, n: int, is_first: bool
) -> tuple[Shared, Calibration]:
    """``value`` plus this party's share of the output's noise (0 rounds), with bounds widened
    by every party's largest share."""
    del is_first  # every party adds its own share
    size = int(np.prod(value.shape)) if value.shape else 1
    cal = calibrate(decl, sensitivity, value.frac_bits, size, n)
    noise = _draw(cal, n, value.shape)
    widen = n * cal.share_bound
    lo, hi = value.lo - widen, value.hi + widen
    if lo < RING_MIN or hi > RING_MAX:
        raise BoundsError(
            "the noisy output could leave the ring's range: narrow the inputs' bounds or use"
            " fewer fractional bits"
        )
    share = np.add(value.share, noise_as_ring(noise), out=np.empty_like(value.share))
    return Shared(share, value.frac_bits, lo, hi), cal
