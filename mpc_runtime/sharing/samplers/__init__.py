"""Exact integer noise samplers for differential privacy inside MPC.

What it is for: each compute party draws its share of the noise locally and adds it to its
secret share, so the *sum* of the parties' noise has exactly the target law.  Every sampler
here produces exactly the stated integer distribution from uniform bits of the AES-128-CTR
CSPRNG (:mod:`mpc_runtime.sharing.prg`), using integer and rational arithmetic only -- no
floating point decides any outcome (Mironov, "On Significance of the Least Significant Bits
for Differential Privacy", CCS 2012).  Draws are vectorised: rejection loops run over the
still-pending part of a numpy array.

Modules:

* :mod:`.source` -- :class:`RandomSource`: bits, exact uniform integers, rational coins;
* :mod:`.canonne` -- Bernoulli(exp(-gamma)), geometric, discrete Laplace and discrete Gaussian
  (Canonne, Kamath, Steinke, NeurIPS 2020, Algorithms 1-3);
* :mod:`.ratio` -- exact rejection for Poisson / binomial (rational pmf ratios, rigorous float
  bounds with an exact integer fallback);
* :mod:`.counts` -- binomial, Poisson, Skellam, negative binomial (Polya);
* :mod:`.distributed` -- one party's share of distributed discrete Laplace, binomial, Skellam;
* :mod:`.calibrate` -- exact parameters from (epsilon or rho, sensitivity in grid units).

Parameters are exact rationals (int, Fraction, Decimal or a decimal / "a/b" string; floats are
refused).  Every sampler returns an int64 array of the requested shape whose values lie in
[-2**62, 2**62]; parameters that could produce values outside that range are refused with
UsageError, and an out-of-range draw raises LocalProtocolError instead of wrapping.

May import: numpy, the standard library's ``dataclasses``, ``fractions``, ``math`` and
``typing``, ``mpc_runtime.errors`` and ``mpc_runtime.sharing.prg``; never asyncio, ssl, socket
or numpy's random module.  Nothing runs at import time.
"""

from __future__ import annotations

from mpc_runtime.sharing.samplers.calibrate import (
    GaussianParams,
    LaplaceParams,
    gaussian_params,
    laplace_params,
    sensitivity_units,
)
from mpc_runtime.sharing.samplers.canonne import (
    bernoulli_exp,
    discrete_gaussian,
    discrete_laplace,
    geometric,
)
from mpc_runtime.sharing.samplers.counts import (
    binomial,
    binomial_half,
    negative_binomial,
    poisson,
    skellam,
)
from mpc_runtime.sharing.samplers.distributed import (
    distributed_binomial_share,
    distributed_laplace_share,
    distributed_skellam_share,
    noise_as_ring,
)
from mpc_runtime.sharing.samplers.source import NOISE_BOUND, RandomSource, as_fraction

__all__ = [
    "NOISE_BOUND",
    "GaussianParams",
    "LaplaceParams",
    "RandomSource",
    "as_fraction",
    "bernoulli_exp",
    "binomial",
    "binomial_half",
    "discrete_gaussian",
    "discrete_laplace",
    "distributed_binomial_share",
    "distributed_laplace_share",
    "distributed_skellam_share",
    "gaussian_params",
    "geometric",
    "laplace_params",
    "negative_binomial",
    "noise_as_ring",
    "poisson",
    "sensitivity_units",
    "skellam",
]
