"""Workloads for load generators: many contributors' inputs, honest and not, with the answer.

Each workload makes the encoded inputs of ``count`` contributors (rows), which of them are
*invalid* (crafted to break the job's checks the way a cheating contributor would), which die
mid-upload, and the plaintext answer over the valid, completed ones (numpy), so a demo or a test
can check the MPC result exactly.  Random data comes from the package's CSPRNG
(:class:`~mpc_runtime.sharing.samplers.RandomSource`), like every random value in the package.

* :func:`vote_workload` - one-hot ballots over ``options``; invalid ballots vote twice, vote
  with weight 2 or -1, or are empty.
* :func:`auction_workload` - bids in ``[0, max_bid]``; invalid bids exceed it or are negative.
* :func:`fl_workload` - fixed-point model updates of L2 norm at most ``norm``; invalid ones are
  scaled far beyond it or carry one huge coordinate.

May import: numpy, sharing.samplers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc_runtime.sharing.samplers import RandomSource

__all__ = ["Workload", "auction_workload", "fl_workload", "poll_workload", "vote_workload"]


@dataclass
class Workload:
    """Encoded rows, masks of invalid and dropped rows, and the expected answer."""

    rows: np.ndarray[Any, Any]  # (count, *shape) int64, encoded
    invalid: np.ndarray[Any, Any]  # bool (count,)
    dropped: np.ndarray[Any, Any]  # bool (count,)

    @property
    def counted(self) -> np.ndarray[Any, Any]:
        return ~self.invalid & ~self.dropped

    @property
    def expected_sum(self) -> np.ndarray[Any, Any]:
        return np.asarray(np.sum(self.rows[self.counted], axis=0, dtype=np.int64))


class _Rand:
    """The few distributions a workload needs, from the CSPRNG."""

    def __init__(self) -> None:
        self.src = RandomSource()

    def integers(self, lo: int, hi: int, n: int) -> np.ndarray[Any, Any]:
        """n uniform integers in [lo, hi)."""
        return self.src.uniform_int(hi - lo, n) + lo

    def uniform(self, lo: float, hi: float, n: int) -> np.ndarray[Any, Any]:
        u = (self.src.uint64(n) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        return lo + (hi - lo) * u

    def normal(self, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
        """Standard normal samples (Box-Muller)."""
        n = int(np.prod(shape))
        u1 = 1.0 - self.uniform(0.0, 1.0, n)  # in (0, 1]
        u2 = self.uniform(0.0, 1.0, n)
        return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)).reshape(shape)

    def subset(self, pool: np.ndarray[Any, Any], k: int) -> np.ndarray[Any, Any]:
        """k distinct elements of ``pool`` (a random permutation's prefix)."""
        order = np.argsort(self.src.uint64(pool.size), kind="stable")
        return pool[order[:k]]


def _rng() -> _Rand:
    return _Rand()


def _pick(rng: _Rand, count: int, k: int, exclude: Any = None) -> Any:
    mask = np.zeros(count, dtype=bool)
    pool = np.arange(count) if exclude is None else np.flatnonzero(~exclude)
    if k:
        mask[rng.subset(pool, min(k, pool.size))] = True
    return mask


def vote_workload(voters: int, options: int, invalid: int = 0) -> Workload:
    rng = _rng()
    rows = np.zeros((voters, options), dtype=np.int64)
    rows[np.arange(voters), rng.integers(0, options, voters)] = 1
    bad = _pick(rng, voters, invalid)
    for j, i in enumerate(np.flatnonzero(bad)):
        kind = j % 4
        rows[i] = 0
        if kind == 0:
            rows[i, :2] = 1  # two votes
        elif kind == 1:
            rows[i, 0] = 2  # a double vote
        elif kind == 2:
            rows[i, 0], rows[i, 1] = -1, 2  # sums to 1 with a negative entry
        # kind 3: an empty ballot
    return Workload(rows, bad, np.zeros(voters, dtype=bool))


def auction_workload(bidders: int, max_bid: int, invalid: int = 0) -> Workload:
    rng = _rng()
    rows = rng.integers(0, max_bid + 1, bidders).astype(np.int64)
    bad = _pick(rng, bidders, invalid)
    over = np.flatnonzero(bad)
    rows[over[0::2]] = max_bid + 1 + rng.integers(0, 10 * max_bid, over[0::2].size)
    rows[over[1::2]] = -1 - rng.integers(0, max_bid, over[1::2].size)
    return Workload(rows, bad, np.zeros(bidders, dtype=bool))


def fl_workload(
    clients: int, dim: int, *, frac_bits: int, norm: float, dropout: float, invalid: int = 0
) -> Workload:
    """Updates of norm in [norm/2, norm] (encoded with ``frac_bits``), a ``dropout`` fraction of
    clients dying mid-upload and ``invalid`` cheating clients."""
    rng = _rng()
    x = rng.normal((clients, dim))
    target = rng.uniform(0.5, 1.0, clients) * norm
    x *= (target / np.linalg.norm(x, axis=1))[:, None]
    rows = np.trunc(x * 2**frac_bits).astype(np.int64)  # truncation keeps the norm within bound
    bad = _pick(rng, clients, invalid)
    for j, i in enumerate(np.flatnonzero(bad)):
        if j % 2 == 0:
            rows[i] *= 20  # twenty times the allowed norm
        else:
            rows[i, int(rng.integers(0, dim, 1)[0])] = 2**40  # one enormous coordinate
    dropped = _pick(rng, clients, int(round(dropout * clients)), exclude=bad)
    return Workload(rows, bad, dropped)


def poll_workload(respondents: int, true_fraction: float) -> Workload:
    """Yes/no answers, exactly ``round(true_fraction * respondents)`` of them yes."""
    rng = _rng()
    rows = np.zeros(respondents, dtype=np.int64)
    yes = int(round(true_fraction * respondents))
    rows[rng.subset(np.arange(respondents), yes)] = 1
    none = np.zeros(respondents, dtype=bool)
    return Workload(rows, none, none.copy())
