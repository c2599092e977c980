"""The runtime's noise calibration and the privacy of the released distribution."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from mpc_runtime.errors import UnauthorizedReveal, UsageError
from mpc_runtime.ids import Identity
from mpc_runtime.runtime.dp import (
    NoiseDecl,
    add_noise,
    binomial_delta,
    binomial_trials,
    calibrate,
)
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.sharing.samplers import distributed_laplace_share
from mpc_runtime.sharing.shared import Shared


def _exact_delta(trials: int, shift: int, eps: float) -> float:
    """The hockey-stick divergence with exact integer binomial coefficients."""
    total = Fraction(0)
    e = Fraction(math.exp(eps))
    for k in range(trials + 1):
        p = Fraction(math.comb(trials, k), 2**trials)
        q = Fraction(math.comb(trials, k - shift), 2**trials) if k >= shift else Fraction(0)
        total += max(Fraction(0), p - e * q)
    return float(total)


@pytest.mark.parametrize(("trials", "shift", "eps"), [(40, 1, 1.0), (120, 2, 0.5), (300, 3, 1.5)])
def test_binomial_delta_is_an_upper_bound_close_to_exact(
    trials: int, shift: int, eps: float
) -> None:
    exact = _exact_delta(trials, shift, eps)
    got = binomial_delta(trials, shift, eps)
    assert exact <= got <= exact * 1.01 + 1e-12


def test_binomial_trials_is_the_least_multiple_that_works() -> None:
    n = binomial_trials(1, 1.0, 1e-6, 3)
    assert n % 6 == 0
    assert binomial_delta(n, 1, 1.0) <= 1e-6 < binomial_delta(n - 6, 1, 1.0)


def test_laplace_calibration_from_sensitivity_and_grid() -> None:
    decl = NoiseDecl.of("laplace", 0.5, 0, None)
    cal = calibrate(decl, Fraction(3, 2), frac_bits=4, size=1, n=3)
    assert cal.units == 24 and cal.scale == Fraction(48)  # 1.5 * 2^4 grid units / 0.5
    assert cal.epsilon_used == pytest.approx(0.5)
    with pytest.raises(UsageError):
        calibrate(NoiseDecl.of("report_noisy_max", 1, 0, None), Fraction(1), 0, 1, 3)


def test_noise_widens_bounds_and_differs_between_draws() -> None:
    value = Shared(np.zeros(200, dtype=np.uint64), 0, 0, 100)
    decl = NoiseDecl.of("laplace", 1.0, 0, None)
    a, cal = add_noise(value, decl, Fraction(1), 3, True)
    b, _ = add_noise(value, decl, Fraction(1), 3, True)
    assert a.lo == -3 * cal.share_bound and a.hi == 100 + 3 * cal.share_bound
    assert not np.array_equal(a.share, b.share)


def test_neighbouring_counts_are_within_e_epsilon() -> None:
    """The released count x + (sum of 3 parties' shares) for x and x + 1: every output value
    with enough mass has probability ratio at most e^eps (with sampling slack)."""
    eps = 1.0
    scale = Fraction(1) / Fraction(str(eps))
    draws = 10**6
    noise_a = sum(distributed_laplace_share(scale, 3, draws) for _ in range(3))
    noise_b = sum(distributed_laplace_share(scale, 3, draws) for _ in range(3))
    out_a, out_b = 10 + noise_a, 11 + noise_b
    values = np.arange(0, 22)
    ca = np.array([np.count_nonzero(out_a == v) for v in values], dtype=np.float64)
    cb = np.array([np.count_nonzero(out_b == v) for v in values], dtype=np.float64)
    heavy = (ca > 2000) & (cb > 2000)
    ratio = np.maximum(ca[heavy] / cb[heavy], cb[heavy] / ca[heavy])
    slack = 1 + 6 / math.sqrt(2000)
    assert ratio.max() <= math.exp(eps) * slack
    assert ratio.max() >= math.exp(eps) / slack  # and the bound is tight for Laplace


def test_the_policy_adds_noise_and_refuses_what_the_program_must_do() -> None:
    rcpt = [Identity.party(1)]
    policy = RevealPolicy(
        {"sum": rcpt, "win": rcpt, "plain": rcpt},
        noise={
            "sum": NoiseDecl.of("laplace", 1.0, 0, None),
            "win": NoiseDecl.of("report_noisy_max", 1.0, 0, None),
        },
    )
    value = Shared(np.zeros((), dtype=np.uint64), 0, 0, 10)
    noisy = policy._noisy("sum", value, 1, False, 3)
    assert noisy.hi > value.hi and "sum" in policy.releases
    with pytest.raises(UnauthorizedReveal, match="report_noisy_max"):
        policy._noisy("win", value, None, False, 3)
    assert policy._noisy("win", value, None, True, 3) is value
    with pytest.raises(UsageError, match="no sensitivity"):
        RevealPolicy({"s": rcpt}, noise={"s": NoiseDecl.of("laplace", 1, 0, None)})._noisy(
            "s", value, None, False, 3
        )
    with pytest.raises(UsageError, match="declares no noise"):
        policy._noisy("plain", value, None, True, 3)
