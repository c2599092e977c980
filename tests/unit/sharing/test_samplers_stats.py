"""Every exact sampler against its exact pmf: chi-square (and KS) on >= 10^6 draws.

Also the sums of n = 2, 3, 5 parties' distributed shares against the exact target law, and,
when ``opendp`` is installed, two-sample tests against OpenDP's samplers.  Seeds are fixed
per test (so a run is reproducible); the thresholds are p > 1e-4.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from mpc_runtime.sharing import samplers as S
from mpc_runtime.sharing.samplers import RandomSource

N = 10**6  # draws per single-sampler test
N_SUM = 10**6  # summed draws per distributed test (each party draws this many shares)
P_MIN = 1e-4


def source(name: str) -> RandomSource:
    return RandomSource(hashlib.sha256(name.encode()).digest()[:16])


class TableLaw:
    """A law on the integers lo..lo+len(pmf)-1 given by a (normalised) float pmf table."""

    def __init__(self, lo: int, weights: np.ndarray) -> None:
        self.lo = lo
        self.pmf_table = weights / weights.sum()
        self.cdf_table = np.cumsum(self.pmf_table)

    def cdf(self, k: np.ndarray) -> np.ndarray:
        idx = np.asarray(k, dtype=np.int64) - self.lo
        inside = np.clip(idx, 0, self.cdf_table.size - 1)
        return np.where(
            idx < 0, 0.0, np.where(idx >= self.cdf_table.size, 1.0, self.cdf_table[inside])
        )

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return self.lo + np.searchsorted(self.cdf_table, q, side="left")


def gaussian_law(sigma2: Fraction) -> TableLaw:
    sigma = math.sqrt(float(sigma2))
    half = int(40 * sigma) + 10
    k = np.arange(-half, half + 1, dtype=np.float64)
    return TableLaw(-half, np.exp(-(k * k) / (2 * float(sigma2))))


def chi2_pvalue(x: np.ndarray, law: object, bins: int = 200, min_expected: float = 20.0) -> float:
    """Chi-square goodness of fit on bins cut at the law's quantiles, small bins merged."""
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.asarray(law.ppf(qs), dtype=np.float64)).astype(np.int64)  # type: ignore[attr-defined]
    cdf = np.asarray(law.cdf(edges), dtype=np.float64)  # type: ignore[attr-defined]
    probs = np.diff(np.concatenate(([0.0], cdf, [1.0])))
    obs = np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1)
    exp_counts = probs * x.size
    o_m, e_m = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(obs, exp_counts, strict=True):
        acc_o += o
        acc_e += e
        if acc_e >= min_expected:
            o_m.append(acc_o)
            e_m.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 or acc_o > 0:
        o_m[-1] += acc_o
        e_m[-1] += acc_e
    o_arr, e_arr = np.array(o_m), np.array(e_m)
    if o_arr.size < 2:
        return 1.0
    stat = float(((o_arr - e_arr) ** 2 / e_arr).sum())
    return float(stats.chi2.sf(stat, o_arr.size - 1))


def ks_ok(x: np.ndarray, law: object) -> bool:
    """Discrete KS: sup |F_n - F| over the sample's support against the 0.1% critical value
    (conservative for discrete laws)."""
    values, counts = np.unique(x, return_counts=True)
    emp = np.cumsum(counts) / x.size
    theo = np.asarray(law.cdf(values), dtype=np.float64)  # type: ignore[attr-defined]
    return float(np.abs(emp - theo).max()) < 1.95 / math.sqrt(x.size)


def dlaplace_law(scale: Fraction) -> object:
    return stats.dlaplace(float(1 / scale))


def skellam_law(mu: Fraction) -> TableLaw:
    half = int(40 * math.sqrt(float(mu))) + 20
    k = np.arange(-half, half + 1)
    return TableLaw(-half, stats.skellam.pmf(k, float(mu) / 2, float(mu) / 2))


def check(x: np.ndarray, law: object, ks: bool = False) -> None:
    assert x.dtype == np.int64
    p = chi2_pvalue(x, law)
    assert p > P_MIN, p
    if ks:
        assert ks_ok(x, law)


# -- single samplers ---------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [Fraction(1, 10), Fraction(3, 2), Fraction(7)])
def test_geometric(gamma: Fraction) -> None:
    x = S.geometric(gamma, N, rng=source(f"geo{gamma}"))
    check(x, stats.geom(1 - math.exp(-float(gamma)), loc=-1))


@pytest.mark.parametrize("scale", [Fraction(10), Fraction(7, 3), Fraction(1, 2), Fraction(65536)])
def test_discrete_laplace(scale: Fraction) -> None:
    x = S.discrete_laplace(scale, N, rng=source(f"dl{scale}"))
    check(x, dlaplace_law(scale), ks=True)


@pytest.mark.parametrize(
    "sigma2",
    [Fraction(100), Fraction(7, 3), Fraction(1, 4), Fraction(10**6), Fraction(10**12 + 1, 10**10)],
)
def test_discrete_gaussian(sigma2: Fraction) -> None:
    x = S.discrete_gaussian(sigma2, N, rng=source(f"dg{sigma2}"))
    check(x, gaussian_law(sigma2), ks=True)


@pytest.mark.parametrize("trials", [1, 63, 1024, 1025, 10**5])
def test_binomial_half(trials: int) -> None:
    x = S.binomial_half(trials, N, rng=source(f"bh{trials}"))
    check(x, stats.binom(trials, 0.5))


@pytest.mark.parametrize(
    ("trials", "p"),
    [
        (1000, Fraction(1, 3)),
        (20, Fraction(9, 10)),
        (7, Fraction(2, 5)),
        (10**9, Fraction(3, 10**8)),
    ],
)
def test_binomial(trials: int, p: Fraction) -> None:
    x = S.binomial(trials, p, N, rng=source(f"b{trials}/{p}"))
    check(x, stats.binom(trials, float(p)))


@pytest.mark.parametrize(
    "lam", [Fraction(1, 10**6), Fraction(1, 3), Fraction(5, 2), Fraction(100), Fraction(10**6)]
)
def test_poisson(lam: Fraction) -> None:
    x = S.poisson(lam, N, rng=source(f"poi{lam}"))
    check(x, stats.poisson(float(lam)), ks=True)


@pytest.mark.parametrize("mu", [Fraction(1), Fraction(50), Fraction(10**5)])
def test_skellam(mu: Fraction) -> None:
    x = S.skellam(mu, N, rng=source(f"sk{mu}"))
    check(x, skellam_law(mu))


@pytest.mark.parametrize(
    ("r", "gamma"),
    [
        (Fraction(1, 3), Fraction(1, 10)),
        (Fraction(5, 2), Fraction(1, 2)),
        (Fraction(1, 2), Fraction(1, 1000)),
        (Fraction(3), Fraction(1, 4)),
        (Fraction(2, 3), Fraction(4)),
    ],
)
def test_negative_binomial(r: Fraction, gamma: Fraction) -> None:
    x = S.negative_binomial(r, gamma, N, rng=source(f"nb{r}/{gamma}"))
    check(x, stats.nbinom(float(r), 1 - math.exp(-float(gamma))))


# -- distributed noise: the sum over the parties -----------------------------------------------


def party_sum(draw: Callable[[RandomSource], np.ndarray], n: int, name: str) -> np.ndarray:
    """Sum of n parties' shares, each party with its own independent source."""
    total = np.zeros(N_SUM, dtype=np.int64)
    for i in range(n):
        total += draw(source(f"{name}/party{i}"))
    return total


@pytest.mark.parametrize("n", [2, 3, 5])
def test_distributed_laplace_sum(n: int) -> None:
    scale = Fraction(10)
    total = party_sum(lambda r: S.distributed_laplace_share(scale, n, N_SUM, rng=r), n, f"ddl{n}")
    check(total, dlaplace_law(scale), ks=True)


def test_distributed_laplace_sum_large_scale() -> None:
    scale = Fraction(65536 * 10, 7)  # sensitivity 2^16 grid units, epsilon 0.7
    total = party_sum(lambda r: S.distributed_laplace_share(scale, 3, N_SUM, rng=r), 3, "ddl-big")
    check(total, dlaplace_law(scale))


def test_distributed_laplace_share_law() -> None:
    """One share is exactly NB(1/3, p) - NB(1/3, p): compare with that difference's pmf."""
    scale, n = Fraction(5), 3
    x = S.distributed_laplace_share(scale, n, N, rng=source("ddl-share"))
    nb = stats.nbinom(1 / n, 1 - math.exp(-1 / float(scale)))
    k = np.arange(0, 400)
    pmf = nb.pmf(k)
    diff = np.convolve(pmf, pmf[::-1])  # P(A - B = d), d = -399..399
    check(x, TableLaw(-399, diff))


@pytest.mark.parametrize("n", [2, 3, 5])
def test_distributed_binomial_sum(n: int) -> None:
    total_trials = 60 * 2 * n
    total = party_sum(
        lambda r: S.distributed_binomial_share(total_trials, n, N_SUM, rng=r), n, f"dbin{n}"
    )
    check(total, stats.binom(total_trials, 0.5, loc=-total_trials // 2))


@pytest.mark.parametrize("n", [2, 3, 5])
def test_distributed_skellam_sum(n: int) -> None:
    mu = Fraction(40)
    total = party_sum(lambda r: S.distributed_skellam_share(mu, n, N_SUM, rng=r), n, f"dsk{n}")
    check(total, skellam_law(mu))


# -- optional: OpenDP's samplers, two-sample tests ---------------------------------------------


def two_sample_p(x: np.ndarray, y: np.ndarray) -> float:
    lo, hi = int(min(x.min(), y.min())), int(max(x.max(), y.max()))
    cx = np.bincount(x - lo, minlength=hi - lo + 1)
    cy = np.bincount(y - lo, minlength=hi - lo + 1)
    table = []
    acc = np.zeros(2)
    for a, b in zip(cx, cy, strict=True):  # merge sparse cells
        acc += (a, b)
        if acc.sum() >= 40:
            table.append(acc.copy())
            acc[:] = 0
    if acc.sum():
        table[-1] += acc
    return float(stats.chi2_contingency(np.array(table).T)[1])


def test_against_opendp() -> None:
    dp = pytest.importorskip("opendp.prelude")
    dp.enable_features("contrib")
    m = 100_000
    lap = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), 3.0)
    theirs = np.array(lap([0] * m), dtype=np.int64)
    ours = S.discrete_laplace(3, m, rng=source("odp-lap"))
    assert two_sample_p(ours, theirs) > P_MIN
    gauss = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int), 3.0)
    theirs = np.array(gauss([0] * m), dtype=np.int64)
    ours = S.discrete_gaussian(9, m, rng=source("odp-gauss"))
    assert two_sample_p(ours, theirs) > P_MIN
