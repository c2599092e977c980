"""Exact noise samplers: the bit/rational machinery, the exact fallbacks, validation, hygiene.

The heavy distribution tests (>= 10^6 draws against exact pmfs) are in test_samplers_stats.py.
"""

from __future__ import annotations

import ast
import decimal
import math
import pathlib
from collections import deque
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import mpc_runtime.sharing.samplers as samplers_pkg
from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.sharing import samplers as S
from mpc_runtime.sharing.samplers import calibrate, canonne, ratio
from mpc_runtime.sharing.samplers.source import RandomSource, as_fraction

SEED = bytes(range(16))
TWO64 = 1 << 64


class ScriptedSource(RandomSource):
    """A RandomSource whose 64-bit words are given by the test (to reach rare branches)."""

    def __init__(self, words: list[int]) -> None:
        super().__init__(SEED)
        self.words = deque(words)

    def uint64(self, n: int) -> np.ndarray:
        if len(self.words) < n:
            raise AssertionError("script exhausted")
        return np.array([self.words.popleft() for _ in range(n)], dtype=np.uint64)


def rng(tag: int = 0) -> RandomSource:
    return RandomSource(bytes([tag]) * 16)


def chi2_uniform_p(x: np.ndarray, k: int) -> float:
    return float(stats.chisquare(np.bincount(x, minlength=k)).pvalue)


# -- the random source -------------------------------------------------------------------------


def test_source_repr_and_determinism() -> None:
    a, b = RandomSource(SEED), RandomSource(SEED)
    assert np.array_equal(a.uniform_int(1000, 50), b.uniform_int(1000, 50))
    assert SEED.hex() not in repr(a) and "consumed" in repr(a)
    assert not np.array_equal(RandomSource().uint64(4), RandomSource().uint64(4))
    assert a.consumed > 0


def test_bits_and_int_bits() -> None:
    r = rng(1)
    bits = r.bits(10**6)
    assert bits.dtype == bool and abs(bits.mean() - 0.5) < 0.002
    src = ScriptedSource([0xF0 << 56, 5])
    assert src.int_bits(8) == 0xF0
    assert src.int_bits(64) == 5
    assert r.int_bits(0) == 0


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7, 12, 100])
def test_uniform_int_is_exact_by_enumeration(k: int) -> None:
    """Every top-bit pattern v < k maps to v; patterns >= k are rejected and redrawn."""
    nbits = (k - 1).bit_length()
    for v in range(1 << nbits):
        src = ScriptedSource([v << (64 - nbits) if nbits else v, 0])
        out = int(src.uniform_int(k, 1)[0])
        assert out == (v if v < k else 0)


@pytest.mark.parametrize("k", [3, 5, 7, 1000])
def test_uniform_int_chi_square(k: int) -> None:
    x = rng(k % 256).uniform_int(k, 10**6)
    assert x.dtype == np.int64 and x.min() >= 0 and x.max() < k
    assert chi2_uniform_p(x, k) > 1e-4


def test_uniform_int_large_bounds() -> None:
    k = 2**63 - 25
    x = rng(2).uniform_int(k, 10**5)
    assert x.min() >= 0 and int(x.max()) < k
    # the top bit-pair of a uniform on [0, k) is uniform on {0, 1} up to 25 / 2^63
    assert stats.binomtest(int((x >= 2**62).sum()), x.size, 0.5).pvalue > 1e-4
    with pytest.raises(LocalProtocolError):
        rng().uniform_int(0, 1)
    with pytest.raises(LocalProtocolError):
        rng().uniform_int(2**63 + 1, 1)


def test_uniform_below_per_element() -> None:
    bounds = np.array([1, 2, 3, 7, 1000, 2**40 + 1, 2**62 - 1], dtype=np.int64)
    draws = np.stack([rng(3).uniform_below(bounds) for _ in range(1)])
    assert np.all(draws >= 0) and np.all(draws < bounds)
    many = rng(4).uniform_below(np.full((1000, 3), 3, dtype=np.int64))
    assert many.shape == (1000, 3)
    x = rng(5).uniform_below(np.full(10**6, 7, dtype=np.int64))
    assert chi2_uniform_p(x, 7) > 1e-4
    with pytest.raises(LocalProtocolError):
        rng().uniform_below(np.array([0], dtype=np.int64))


FILL = 2**32 - 1  # the words a script falls back on after a rejection


@given(st.integers(min_value=1, max_value=2**62), st.integers(min_value=0, max_value=2**64 - 1))
@settings(max_examples=300, deadline=None)
def test_uniform_below_maps_words_as_specified(bound: int, word: int) -> None:
    src = ScriptedSource([word] + [FILL] * 4)
    out = int(src.uniform_below(np.array([bound], dtype=np.int64))[0])
    assert 0 <= out < bound
    if bound < 2**32:  # Lemire: x = u * m with u the low 32 bits of the word
        x = (word & FILL) * bound
        ok = (x & FILL) >= (2**32 - bound) % bound
        assert out == (x >> 32 if ok else (FILL * bound) >> 32)
    else:  # mask to bitlen(bound - 1) bits (frexp may widen it by one bit) and reject
        nbits = (bound - 1).bit_length()
        width = max(int(np.frexp(np.float64(bound - 1))[1]), 1)
        assert width in {nbits, nbits + 1}  # never narrower than bitlen(bound - 1)
        top = word >> (64 - width)
        assert out == (top if top < bound else FILL >> (64 - width))


@pytest.mark.parametrize("m", [1, 2, 3, 6, 7, 1000, 2**32 - 1])
def test_uniform_below_lemire_counts(m: int) -> None:
    """The accepted 32-bit words split evenly: each value has floor(2^32 / m) preimages."""
    thresh = (2**32 - m) % m
    per_value = (2**32 - thresh) // m
    assert per_value == 2**32 // m and (2**32 - thresh) % m == 0


def test_uniform_int_big() -> None:
    k = 2**70 + 3
    x = rng(6).uniform_int_big(k, 20000)
    assert all(0 <= int(v) < k for v in x)
    top = np.array([int(v) >> 69 for v in x])  # the top bit: 1 with probability ~ 1/2
    assert stats.binomtest(int(top.sum()), top.size, 0.5).pvalue > 1e-4
    small = rng(7).uniform_int_big(5, 10**5).astype(np.int64)
    assert chi2_uniform_p(small, 5) > 1e-4


@given(
    st.fractions(min_value=0, max_value=1, max_denominator=2**200),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=0, max_value=2**64 - 1),
)
@settings(max_examples=300, deadline=None)
def test_bernoulli_decides_u_less_than_p(p: Fraction, w1: int, w2: int) -> None:
    """The coin is exactly [U < p] for the uniform U whose binary digits are the words."""
    src = ScriptedSource([w1, w2] + [0] * 8)
    got = bool(src.bernoulli(p, 1)[0])
    u_lo = Fraction(w1 * TWO64 + w2, TWO64**2)
    u_hi = u_lo + Fraction(1, TWO64**2)
    if u_hi <= p:
        assert got
    elif u_lo >= p:
        assert not got


def test_bernoulli_tie_branch() -> None:
    p = Fraction(1, 3)
    chunk = TWO64 // 3
    assert bool(ScriptedSource([chunk, 0]).bernoulli(p, 1)[0])  # 0.0101.. < 1/3
    assert not bool(ScriptedSource([chunk, 2**64 - 1]).bernoulli(p, 1)[0])
    dyadic = Fraction(3, 4)  # expansion ends: U = 0.11000... >= 3/4
    assert not bool(ScriptedSource([3 << 62]).bernoulli(dyadic, 1)[0])


@pytest.mark.parametrize(
    "p", [Fraction(1, 3), Fraction(2, 7), Fraction(1, 10**6), Fraction(10**30 - 1, 10**30 * 3)]
)
def test_bernoulli_frequencies(p: Fraction) -> None:
    x = rng(8).bernoulli(p, 10**6)
    assert stats.binomtest(int(x.sum()), x.size, float(p)).pvalue > 1e-4


def test_bernoulli_ratio_int_and_object_paths() -> None:
    num = np.full(10**5, 1, dtype=np.int64)
    assert stats.binomtest(int(rng(9).bernoulli_ratio(num, 3).sum()), num.size, 1 / 3).pvalue > 1e-4
    big = np.full(10**4, 2**80, dtype=object)
    hits = rng(10).bernoulli_ratio(big, 2**81 + 2)
    assert stats.binomtest(int(hits.sum()), big.size, 0.5).pvalue > 1e-4
    assert rng().bernoulli_ratio(np.zeros(0, dtype=np.int64), 5).size == 0


@pytest.mark.parametrize("gamma", [Fraction(0), Fraction(1, 3), Fraction(1), Fraction(5, 2), 7])
def test_bernoulli_exp_mean(gamma: Fraction) -> None:
    x = S.bernoulli_exp(gamma, 10**6, rng=rng(11))
    assert x.dtype == np.int64 and set(np.unique(x)) <= {0, 1}
    assert stats.binomtest(int(x.sum()), x.size, math.exp(-float(gamma))).pvalue > 1e-4


def test_bernoulli_exp_per_element_and_big_denominators() -> None:
    r = rng(12)
    num = np.repeat(np.array([0, 1, 3, 10], dtype=np.int64), 10**5)
    out = canonne.bernoulli_exp_array(r, num, 4)
    for i, g in enumerate([0, 1, 3, 10]):
        part = out[i * 10**5 : (i + 1) * 10**5]
        p = math.exp(-g / 4)
        assert stats.binomtest(int(part.sum()), part.size, p).pvalue > 1e-4
    den = 3 * 2**70  # the object-array path
    big = np.full(50000, 2**70, dtype=object)
    hits = canonne.bernoulli_exp_array(r, big, den)
    assert stats.binomtest(int(hits.sum()), big.size, math.exp(-1 / 3)).pvalue > 1e-4


# -- the exact arithmetic of the ratio sampler -------------------------------------------------


@pytest.mark.parametrize("w", [1, 3, 10])
def test_staircase_proposal_law(w: int) -> None:
    x = ratio.staircase(rng(w), w, 10**6)
    lim = 12 * w
    ks = np.arange(-lim, lim + 1)
    inner = 2.0 ** -np.floor(np.abs(ks) / w) / (4 * w - 1)  # normaliser: sum over Z = 4w - 1
    tail = (1 - inner.sum()) / 2
    expected = np.concatenate(([tail], inner, [tail])) * x.size
    obs = np.bincount(np.clip(x, -lim - 1, lim + 1) + lim + 1, minlength=2 * lim + 3)
    assert stats.chisquare(obs, expected).pvalue > 1e-4


def test_geometric_half_continues_after_zero_words() -> None:
    src = ScriptedSource([0, 0, 8])  # 64 + 64 + 3 trailing zeros
    assert int(ratio._geometric_half(src, 1)[0]) == 131
    g = ratio._geometric_half(rng(18), 10**6)
    obs = np.bincount(np.minimum(g, 20), minlength=21)
    probs = np.append(0.5 ** np.arange(1, 21), 0.5**20)
    assert stats.chisquare(obs, probs * g.size).pvalue > 1e-4


def _exact_a(sampler: ratio.RatioSampler, d: int) -> Fraction:
    prod = Fraction(1)
    for j in range(1, abs(d) + 1):
        num, den = sampler.target.exact_ratio(j, d > 0)
        prod *= Fraction(num, den)
    return prod * 2 ** (abs(d) // sampler.w) / Fraction(sampler.M)


@pytest.mark.parametrize(
    "target",
    [
        ratio.PoissonTarget(Fraction(7, 2)),
        ratio.PoissonTarget(Fraction(1000)),
        ratio.BinomialTarget(50, Fraction(1, 3)),
        ratio.BinomialTarget(10**6, Fraction(1, 2)),
        ratio.BinomialTarget(10**9, Fraction(3, 10**8)),
        ratio.PoissonTarget(Fraction(1, 10**9)),
    ],
    ids=["poisson3.5", "poisson1000", "binom50", "binom1e6", "binom-skewed", "poisson-tiny"],
)
def test_ratio_tables_and_exact_bounds_bracket_the_truth(target: ratio.RatioTarget) -> None:
    s = ratio.RatioSampler(target)
    w = s.w
    for d in sorted({0, 1, -1, 2, -2, w, -w, 3 * w, -3 * w, 5 * w - 1, 9 * w}):
        if d < -target.left or (target.right is not None and d > target.right):
            continue
        a = _exact_a(s, d)
        assert a <= 1
        table = s.right_table if d >= 0 else s.left_table
        if abs(d) < table.size:
            ahat = Fraction(float(table[abs(d)]))
            delta = Fraction(16 * (abs(d) + 2), 2**53)
            assert ahat * (1 - delta) <= a <= ahat * (1 + delta)
        else:
            assert a <= (s.right_tail if d >= 0 else s.left_tail)
        lo, hi = s.exact_bounds(d, 100)
        assert lo <= a * 2**100 <= hi and hi - lo < 2**40


def test_table_bounds_everything_beyond_it() -> None:
    s = ratio.RatioSampler(ratio.PoissonTarget(Fraction(50)))
    end = s.right_table.size - 1
    for d in range(end, end + 4 * s.w):
        assert _exact_a(s, d) <= s.right_tail
    assert all(_exact_a(s, d) <= 1 for d in range(-50, end + 1))


class RecordingSource(ScriptedSource):
    """Scripted words; remembers the extra bits of U that the exact path drew."""

    def __init__(self, words: list[int]) -> None:
        super().__init__(words)
        self.drawn: list[tuple[int, int]] = []

    def int_bits(self, nbits: int) -> int:
        value = super().int_bits(nbits)
        self.drawn.append((value, nbits))
        return value


def test_exact_accept_decisions_are_justified_by_the_drawn_bits() -> None:
    s = ratio.RatioSampler(ratio.PoissonTarget(Fraction(3)))
    for d in (0, 1, 2, -2, 7):
        a = _exact_a(s, d)
        u53 = math.floor(a * 2**53)  # the ambiguous 53-bit prefix: U's next bits decide
        for tail in (0, 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF):
            src = RecordingSource([tail] * 16)
            got = s._exact_accept(src, d, u53)
            u, nbits = u53, 53
            for value, width in src.drawn:
                u, nbits = (u << width) | value, nbits + width
            if got:  # U < (u + 1) / 2^nbits <= a
                assert Fraction(u + 1, 2**nbits) <= a
            else:  # U >= u / 2^nbits >= a
                assert Fraction(u, 2**nbits) >= a
        assert s._exact_accept(ScriptedSource([0] * 8), d, 0)  # U tiny: accept
        assert not s._exact_accept(ScriptedSource([2**64 - 1] * 8), d, 2**53 - 1) or a == 1


def test_forced_fallback_keeps_the_law(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the float error bound inflated, most decisions go through exact arithmetic."""
    monkeypatch.setattr(ratio, "_DELTA_UNIT", 2.0**-6)
    calls = []
    exact = ratio.RatioSampler._exact_accept

    def counting(self: ratio.RatioSampler, r: RandomSource, d: int, u: int) -> bool:
        calls.append(d)
        return exact(self, r, d, u)

    monkeypatch.setattr(ratio.RatioSampler, "_exact_accept", counting)
    s = ratio.RatioSampler(ratio.PoissonTarget(Fraction(3)))
    x = s.sample(rng(13), 20000)
    assert len(calls) > 1000
    lam = 3.0
    ks = np.arange(0, 12)
    probs = stats.poisson.pmf(ks, lam)
    probs = np.append(probs, stats.poisson.sf(11, lam))
    obs = np.bincount(np.minimum(x, 12), minlength=13)
    assert stats.chisquare(obs, probs * x.size).pvalue > 1e-4


def test_far_proposals_use_the_exact_path() -> None:
    s = ratio.RatioSampler(ratio.PoissonTarget(Fraction(1, 2)))
    d = s.right_table.size + 3  # beyond the table: decided in exact arithmetic
    assert not s._exact_accept(ScriptedSource([2**63] * 8), d, 2**52)
    assert 0 < _exact_a(s, d) <= s.right_tail


def test_sampler_cache_is_bounded() -> None:
    for i in range(12):
        ratio.cached_sampler(ratio.PoissonTarget(Fraction(i + 1, 7)))
    assert len(ratio._CACHE) <= ratio._CACHE_SIZE


# -- the samplers' interface -------------------------------------------------------------------

ALL = [
    lambda size, r: S.geometric(Fraction(1, 3), size, rng=r),
    lambda size, r: S.discrete_laplace(5, size, rng=r),
    lambda size, r: S.discrete_gaussian(10, size, rng=r),
    lambda size, r: S.binomial_half(100, size, rng=r),
    lambda size, r: S.binomial(1000, "0.3", size, rng=r),
    lambda size, r: S.poisson("2.5", size, rng=r),
    lambda size, r: S.skellam(4, size, rng=r),
    lambda size, r: S.negative_binomial(Fraction(1, 3), Fraction(1, 5), size, rng=r),
    lambda size, r: S.distributed_laplace_share(10, 3, size, rng=r),
    lambda size, r: S.distributed_binomial_share(600, 3, size, rng=r),
    lambda size, r: S.distributed_skellam_share(30, 3, size, rng=r),
    lambda size, r: S.bernoulli_exp("0.5", size, rng=r),
]


@pytest.mark.parametrize("draw", ALL)
def test_shapes_dtype_determinism(draw) -> None:  # type: ignore[no-untyped-def]
    a = draw((3, 4), RandomSource(SEED))
    b = draw((3, 4), RandomSource(SEED))
    assert a.dtype == np.int64 and a.shape == (3, 4) and np.array_equal(a, b)
    assert draw(0, rng()).shape == (0,)
    assert draw(5, None).shape == (5,)  # default source: os.urandom seeded
    assert np.all(np.abs(draw(1000, rng(14))) <= S.NOISE_BOUND)


def test_small_supports() -> None:
    x = S.binomial(5, Fraction(1, 3), 10**4, rng=rng(15))
    assert x.min() >= 0 and x.max() <= 5
    assert np.all(S.binomial(7, 0, 10, rng=rng()) == 0)
    assert np.all(S.binomial(7, 1, 10, rng=rng()) == 7)
    assert np.all(S.binomial(0, "1/2", 10, rng=rng()) == 0)
    assert np.all(S.poisson(0, 10, rng=rng()) == 0)
    assert np.all(S.skellam(0, 10, rng=rng()) == 0)
    assert S.binomial(2**62, Fraction(1, 2**40), 100, rng=rng()).min() >= 0


@pytest.mark.parametrize(
    ("call", "err"),
    [
        (lambda: S.discrete_laplace(0.5, 3), UsageError),
        (lambda: S.discrete_laplace(0, 3), UsageError),
        (lambda: S.discrete_laplace(-1, 3), UsageError),
        (lambda: S.discrete_laplace(True, 3), UsageError),
        (lambda: S.discrete_laplace("abc", 3), UsageError),
        (lambda: S.discrete_laplace([1], 3), UsageError),
        (lambda: S.discrete_laplace(2**60, 3), UsageError),
        (lambda: S.discrete_laplace(Fraction(1, 2**63), 3), UsageError),
        (lambda: S.discrete_laplace(1, -1), UsageError),
        (lambda: S.discrete_laplace(1, "3"), UsageError),
        (lambda: S.geometric(0, 3), UsageError),
        (lambda: S.geometric(Fraction(1, 2**58), 3), UsageError),
        (lambda: S.geometric(Fraction(1, 2**56 + 1), 3), UsageError),
        (lambda: S.bernoulli_exp(-1, 3), UsageError),
        (lambda: S.discrete_gaussian(0, 3), UsageError),
        (lambda: S.discrete_gaussian(2**61, 3), UsageError),
        (lambda: S.binomial(-1, "0.5", 3), UsageError),
        (lambda: S.binomial(10, "1.5", 3), UsageError),
        (lambda: S.binomial(10.0, "0.5", 3), UsageError),  # type: ignore[arg-type]
        (lambda: S.binomial(2**63, "0.5", 3), UsageError),
        (lambda: S.binomial(2**40, "0.5", 3), UsageError),
        (lambda: S.poisson(-1, 3), UsageError),
        (lambda: S.poisson(2**33, 3), UsageError),
        (lambda: S.skellam(2**34, 3), UsageError),
        (lambda: S.negative_binomial(0, 1, 3), UsageError),
        (lambda: S.negative_binomial(2**17, 1, 3), UsageError),
        (lambda: S.negative_binomial(1, 0, 3), UsageError),
        (lambda: S.negative_binomial(2**10, Fraction(1, 2**50), 3), UsageError),
        (lambda: S.distributed_laplace_share(10, 0, 3), UsageError),
        (lambda: S.distributed_laplace_share(10, 2**17, 3), UsageError),
        (lambda: S.distributed_laplace_share(2**56, 3, 3), UsageError),
        (lambda: S.distributed_binomial_share(601, 3, 3), UsageError),
        (lambda: S.distributed_binomial_share(302, 2, 3), UsageError),
        (lambda: S.distributed_skellam_share(2**40, 2, 3), UsageError),
        (lambda: S.noise_as_ring(np.zeros(3, dtype=np.int32)), UsageError),
    ],
)
def test_parameter_validation(call, err) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(err):
        call()


def test_as_fraction() -> None:
    assert as_fraction("0.1", "x") == Fraction(1, 10)
    assert as_fraction(" 2/6 ", "x") == Fraction(1, 3)
    assert as_fraction(decimal.Decimal("1e-3"), "x") == Fraction(1, 1000)
    assert as_fraction(np.int64(4), "x") == 4
    for bad in (0.1, np.float64(1.0), True, "1/0", decimal.Decimal("NaN"), None):
        with pytest.raises(UsageError):
            as_fraction(bad, "x")


def test_runtime_range_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canonne, "_geometric_e1", lambda r, n: np.full(n, 2**40, dtype=np.int64))
    with pytest.raises(LocalProtocolError):
        S.geometric(Fraction(1, 2**30), 4, rng=rng())


def test_noise_as_ring_wraps_twos_complement() -> None:
    ring = S.noise_as_ring(np.array([-1, 0, 5], dtype=np.int64))
    assert ring.dtype == np.uint64 and ring.tolist() == [2**64 - 1, 0, 5]
    share = np.array([10, 10, 10], dtype=np.uint64)
    assert (share + ring).view(np.int64).tolist() == [9, 10, 15]


# -- calibration -------------------------------------------------------------------------------


def test_laplace_params_exact_and_rounded_up() -> None:
    p = S.laplace_params("0.5", 3)
    assert p.scale == 6 and p.gamma == Fraction(1, 6) and p.epsilon_used == Fraction(1, 2)
    q = S.laplace_params(Fraction(3, 7), 1, max_denominator=10)
    assert q.scale == Fraction(7, 3) and q.epsilon_used == Fraction(3, 7)
    r = S.laplace_params(Fraction(7, 1), 1, max_denominator=2)  # 1/7 -> 1/2
    assert r.scale == Fraction(1, 2) and r.epsilon_used <= 7
    odd = S.laplace_params("0.123456789012345678901", 65536)
    assert odd.scale.denominator <= calibrate.DEFAULT_MAX_DENOMINATOR
    assert odd.epsilon_used <= Fraction("0.123456789012345678901")
    with pytest.raises(UsageError):
        S.laplace_params(0.5, 3)
    with pytest.raises(UsageError):
        S.laplace_params("0", 3)
    with pytest.raises(UsageError):
        S.laplace_params("1", 0)


@given(
    st.fractions(min_value=Fraction(1, 10**4), max_value=100, max_denominator=10**12),
    st.integers(min_value=1, max_value=2**20),
    st.integers(min_value=1, max_value=2**20),
)
@settings(max_examples=200, deadline=None)
def test_calibration_never_weakens_privacy(eps: Fraction, delta: int, max_den: int) -> None:
    p = S.laplace_params(eps, delta, max_denominator=max_den)
    assert p.scale >= delta / eps and p.epsilon_used <= eps
    assert p.scale.denominator <= max_den
    g = S.gaussian_params(eps, delta, max_denominator=max_den)
    assert g.sigma2 >= Fraction(delta * delta) / (2 * eps) and g.rho_used <= eps


def test_sensitivity_units_round_up() -> None:
    assert S.sensitivity_units("1", 16) == 65536
    assert S.sensitivity_units("0.1", 4) == 2  # 1.6 -> 2
    assert S.sensitivity_units(Fraction(1, 2**20), 16) == 1
    with pytest.raises(UsageError):
        S.sensitivity_units("-1", 4)
    with pytest.raises(UsageError):
        S.sensitivity_units("1", 63)


def test_calibrated_parameters_feed_the_samplers() -> None:
    p = S.laplace_params("0.7", S.sensitivity_units("1.5", 16))
    x = S.distributed_laplace_share(p.scale, 3, 1000, rng=rng(16))
    assert x.dtype == np.int64
    g = S.gaussian_params("0.1", 3)
    assert S.discrete_gaussian(g.sigma2, 1000, rng=rng(17)).dtype == np.int64


# -- hygiene ----------------------------------------------------------------------------------

PKG = pathlib.Path(samplers_pkg.__file__).parent
ALLOWED = {"__future__", "typing", "dataclasses", "fractions", "math", "numpy"}


def test_imports_and_no_asserts() -> None:
    for path in sorted(PKG.glob("*.py")):
        tree = ast.parse(path.read_text())
        assert not any(isinstance(n, ast.Assert) for n in ast.walk(tree)), path.name
        assert ast.get_docstring(tree), path.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "mpc_runtime":
                    assert name in {"mpc_runtime.errors", "mpc_runtime.sharing.prg"} or (
                        name.startswith("mpc_runtime.sharing.samplers")
                    ), (path.name, name)
                else:
                    assert top in ALLOWED, (path.name, name)
        text = path.read_text()
        assert "np.random" not in text and "numpy.random" not in text
        assert len(text.splitlines()) < 700
