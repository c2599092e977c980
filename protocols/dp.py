"""Differential-privacy mechanisms a program applies itself: report-noisy-max and randomized
response, both inside MPC (additive noise on sums is added by the runtime at reveal time:
:mod:`mpc_runtime.runtime.dp`).

* :func:`report_noisy_max` -- the index of the largest of m shared counts after each count gets
  distributed discrete Laplace noise of scale ``2 Delta / epsilon`` (Dwork & Roth, "The
  Algorithmic Foundations of Differential Privacy", 2014, section 3.3: report noisy max is
  epsilon-DP with Laplace(2 Delta / epsilon) when one record changes each count by at most
  Delta; the discrete Laplace is the geometric mechanism of Ghosh, Roughgarden, Sundararajan,
  STOC 2009).  Only the winner's id is revealed, never a count.  It realises the exponential
  mechanism's purpose (selection with utility = count) without exponentiating inside MPC.  Cost:
  0 rounds for the noise, then :func:`protocols.select.max_id`'s tournament over (count, id)
  packed into one ring element: 9 ceil(log2 m) + 9 rounds, m - 1 comparisons and m - 1
  products.
* :func:`randomized_response` -- Warner's randomized response (JASA 1965), as in the seed's
  poll: each respondent's answer x is kept with a fair coin c1 and otherwise replaced by a fair
  coin c2, ``y = c2 + c1 (x - c2)`` (one Beaver product), with the coins *secret-shared random
  bits* from preprocessing, so neither the respondent's device nor any party can bias or see
  them.  ``P(y = 1 | x = 1) = 3/4``, ``P(y = 1 | x = 0) = 1/4``: epsilon = ln 3 per respondent.
  The estimate of the true fraction ``2 N / m - 1/2`` (N the number of yes) is debiased inside
  MPC and revealed as ``(4 N - m) / (2 m)``.  Its standard error is
  ``sqrt(4 q (1 - q) / m)`` with ``q = N / m``.  Cost: 1 round (the product) + the reveal.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.preprocessing``,
``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_runtime.errors import BoundsError, UsageError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from mpc_runtime.sharing.samplers import (
    distributed_laplace_share,
    laplace_params,
    noise_as_ring,
)
from protocols.arith import mul
from protocols.select import max_id
from protocols.types import RING_MAX, RING_MIN, Shared, contig

__all__ = ["noisy_counts", "randomized_response", "report_noisy_max", "rnm_scale"]

SHARE_TAILS = 64


def rnm_scale(epsilon: Any, sensitivity_units: int) -> Any:
    """The discrete-Laplace scale of report-noisy-max: ``2 Delta / epsilon`` (exact)."""
    from fractions import Fraction

    return laplace_params(Fraction(epsilon) / 2, sensitivity_units).scale


def noisy_counts(ctx: Context, counts: Shared, scale: Any) -> Shared:
    """``counts`` plus this party's share of distributed discrete-Laplace noise (0 rounds)."""
    share = distributed_laplace_share(scale, ctx.n, counts.shape)
    bound = int(-(-scale.numerator * SHARE_TAILS // scale.denominator))
    share = np.clip(share, -bound, bound)
    lo, hi = counts.lo - ctx.n * bound, counts.hi + ctx.n * bound
    if lo < RING_MIN or hi > RING_MAX:
        raise BoundsError("the noisy counts could leave the ring's range")
    out = np.add(counts.share, noise_as_ring(share), out=np.empty_like(counts.share))
    return Shared(out, counts.frac_bits, lo, hi)


async def report_noisy_max(
    ctx: Context, name: str, counts: Shared, ids: Sequence[int] | None = None, sensitivity: int = 1
) -> None:
    """Reveal output ``name``: the id (default: the position) of the largest count after
    report-noisy-max noise with the job's epsilon for that output."""
    ctx = ctx.scope("report_noisy_max")
    decl = ctx.output_noise(name)
    if decl is None or decl.mechanism != "report_noisy_max":
        raise UsageError(f"output {name!r} must declare noise = {{mechanism = 'report_noisy_max'}}")
    if counts.frac_bits or len(counts.shape) != 1:
        raise UsageError("report-noisy-max takes a 1-D vector of integer counts")
    units = max(1, int(sensitivity), int(-(-decl.sensitivity // 1)) if decl.sensitivity else 1)
    noisy = noisy_counts(ctx, counts, rnm_scale(decl.epsilon, units))
    m = counts.shape[0]
    positions = list(range(m)) if ids is None else list(ids)
    _, winner = await max_id(ctx, noisy, positions)
    await ctx.reveal(name, winner, noised=True)


async def randomized_response(ctx: Context, name: str, answers: Shared) -> None:
    """Reveal output ``name``: the debiased randomized-response estimate of the fraction of
    1s among ``answers`` (shared 0/1 values, one per respondent)."""
    ctx = ctx.scope("randomized_response")
    decl = ctx.output_noise(name)
    if decl is None or decl.mechanism != "randomized_response":
        raise UsageError(
            f"output {name!r} must declare noise = {{mechanism = 'randomized_response'}}"
        )
    if answers.lo < 0 or answers.hi > 1 or answers.frac_bits:
        raise UsageError("randomized response takes 0/1 answers")
    m = int(np.prod(answers.shape)) if answers.shape else 1
    if m == 0:
        raise UsageError("randomized response needs at least one answer")
    flat = answers.reshape(m)
    (coins,) = await ctx.material([Component("bit", (2, m))])
    c = coins["t"]
    c1, c2 = Shared(contig(c[0]), 0, 0, 1), Shared(contig(c[1]), 0, 0, 1)
    y = c2 + await mul(ctx, c1, flat - c2)  # keep x with c1, else the coin c2
    yes = y.sum()
    estimate = yes.mul_public(4).add_public(-m, ctx.is_first)
    await ctx.reveal(name, estimate, divisor=2 * m, noised=True)
