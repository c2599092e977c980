"""Exact noise parameters for fixed-point values: privacy budget and sensitivity -> sampler input.

What it is for: a fixed-point value with ``frac_bits`` f is the integer round(x 2^f), so noise
for it is *integer* noise in units of the grid 2^-f -- the granularity, as the Google
differential-privacy library's secure-noise notes call it.  The real sensitivity Delta
becomes ceil(Delta 2^f) grid units (rounded UP: the integer sampler then covers every
neighbouring change the real query can make, so privacy is never weaker than claimed), and
the noise scale follows from the exact (rational) budget.

Rounding rules -- every one in the direction of *more* noise, never weaker privacy:

* epsilon / rho are taken exactly (Fraction, int or decimal string; floats are refused);
* the sensitivity in grid units is an integer; :func:`sensitivity_units` rounds a real one up;
* Laplace scale t = Delta / epsilon; if its denominator exceeds ``max_denominator`` it is
  rounded UP to the next multiple of 1/max_denominator (t' >= t, so epsilon' = Delta/t' <= eps);
* Gaussian sigma^2 = Delta^2 / (2 rho) (a discrete Gaussian with variance parameter sigma^2 is
  Delta^2/(2 sigma^2)-zCDP for sensitivity Delta; Canonne, Kamath, Steinke, NeurIPS 2020,
  Thm. 4), likewise rounded up.

The returned dataclasses carry the exact parameters to pass to the samplers and the budget
they actually achieve (``epsilon_used`` <= epsilon, ``rho_used`` <= rho).

May import: ``dataclasses``, ``fractions``, ``math``, ``mpc_runtime.errors`` and this package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mpc_runtime.errors import UsageError
from mpc_runtime.sharing.samplers.source import as_fraction, check_count

__all__ = [
    "DEFAULT_MAX_DENOMINATOR",
    "GaussianParams",
    "LaplaceParams",
    "gaussian_params",
    "laplace_params",
    "round_up",
    "sensitivity_units",
]

DEFAULT_MAX_DENOMINATOR = 2**32
_MAX_FRAC_BITS = 62


@dataclass(frozen=True)
class LaplaceParams:
    """Discrete Laplace in grid units: P(z) proportional to exp(-|z| / scale).

    ``gamma`` = 1/scale is the exponent for :func:`~.counts.negative_binomial` /
    :func:`~.canonne.geometric`; ``epsilon_used`` = sensitivity_units / scale <= epsilon.
    """

    scale: Fraction
    gamma: Fraction
    sensitivity_units: int
    epsilon_used: Fraction


@dataclass(frozen=True)
class GaussianParams:
    """Discrete Gaussian in grid units with variance parameter ``sigma2`` (rho_used-zCDP)."""

    sigma2: Fraction
    sensitivity_units: int
    rho_used: Fraction


def round_up(value: Fraction, max_denominator: int) -> Fraction:
    """The least multiple of 1/max_denominator that is >= value (value itself if it fits)."""
    if value.denominator <= max_denominator:
        return value
    return Fraction(-((-value.numerator * max_denominator) // value.denominator), max_denominator)


def sensitivity_units(sensitivity: Any, frac_bits: int) -> int:
    """ceil(sensitivity * 2**frac_bits): a real sensitivity in grid units, rounded up."""
    delta = as_fraction(sensitivity, "sensitivity")
    if delta <= 0:
        raise UsageError("sensitivity must be > 0")
    f = check_count(frac_bits, "frac_bits", high=_MAX_FRAC_BITS)
    units: int = math.ceil(delta * 2**f)
    return units


def _budget(value: Any, name: str) -> Fraction:
    budget = as_fraction(value, name)
    if budget <= 0:
        raise UsageError(f"{name} must be > 0")
    return budget


def _max_den(max_denominator: Any) -> int:
    return check_count(max_denominator, "max_denominator", low=1, high=2**55)


def laplace_params(
    epsilon: Any,
    sensitivity_units: int,
    *,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
) -> LaplaceParams:
    """Exact discrete-Laplace parameters for epsilon-DP with an integer grid sensitivity."""
    eps = _budget(epsilon, "epsilon")
    delta = check_count(sensitivity_units, "sensitivity_units", low=1)
    scale = round_up(delta / eps, _max_den(max_denominator))
    if scale.numerator > 2**55:
        raise UsageError("scale is too large for the samplers (numerator above 2**55)")
    return LaplaceParams(
        scale=scale, gamma=1 / scale, sensitivity_units=delta, epsilon_used=delta / scale
    )


def gaussian_params(
    rho: Any,
    sensitivity_units: int,
    *,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
) -> GaussianParams:
    """Exact discrete-Gaussian parameters for rho-zCDP with an integer grid sensitivity."""
    budget = _budget(rho, "rho")
    delta = check_count(sensitivity_units, "sensitivity_units", low=1)
    sigma2 = round_up(Fraction(delta * delta) / (2 * budget), _max_den(max_denominator))
    return GaussianParams(
        sigma2=sigma2, sensitivity_units=delta, rho_used=Fraction(delta * delta) / (2 * sigma2)
    )
