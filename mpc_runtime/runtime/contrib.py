"""Contributions in a session: batches of contributors' shares, agreed by every party.

A :class:`ContributionFeed` (the party process's, fed by the coordinator connection) hands the
session batches of ``(contribution id, this party's share, credential ok)``.  Before a batch
reaches the program, the parties agree on it in one round: each broadcasts the batch number, a
digest of the ordered ids and its own credential verdicts; a mismatch of the digests is the
relay's fault (it sent parties different batches) and aborts naming it; the verdicts are ANDed,
so a contribution counts only if every party received a complete, well-credentialed packet.

The same round also tosses public coins for the batch (each party adds 16 fresh random bytes,
the coins are the SHA-256 of all of them): randomness no contributor could know when it
submitted, for probabilistic validity checks (:mod:`protocols.validity`).

The shares a contributor sent are *untrusted*: the program gets them as :class:`Shared` values
with bounds covering the whole ring, and must check them (:mod:`protocols.validity`) before
using them.

:func:`memory_feeds` splits given contributions into per-party feeds for in-process runs (tests).

May import: numpy, errors, sharing (shared, prg), runtime.arrays.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mpc_runtime.errors import RemoteProtocolError
from mpc_runtime.runtime.arrays import ArraySpec
from mpc_runtime.sharing.prg import PRG, new_seed
from mpc_runtime.sharing.shared import RING_MAX, RING_MIN, Shared

COIN_BYTES = 16

__all__ = [
    "ContributionBatch",
    "ContributionDecl",
    "ContributionFeed",
    "FeedBatch",
    "ListFeed",
    "agree",
    "memory_feeds",
]


@dataclass(frozen=True)
class ContributionDecl:
    """The public declaration of what contributors submit (from the job spec)."""

    name: str
    shape: tuple[int, ...]
    frac_bits: int
    lo: int
    hi: int
    checks: tuple[str, ...]
    norm_units: int | None = None


@dataclass(frozen=True)
class FeedBatch:
    """One batch as this party received it."""

    seq: int
    ids: list[bytes]
    shares: np.ndarray[Any, Any]  # (len(ids), *shape) uint64: this party's shares
    ok: np.ndarray[Any, Any]  # (len(ids),) bool: the credential and packet checked out here


class ContributionFeed(Protocol):
    """Where a session's contributions come from."""

    async def next_batch(self) -> FeedBatch | None:
        """The next batch, or None once the window closed and every batch was handed out."""
        ...

    @property
    def totals(self) -> dict[str, int]:
        """What the relay reported when the window closed (accepted, refused, batches)."""
        ...


@dataclass(frozen=True)
class ContributionBatch:
    """One agreed batch: ``values`` (untrusted, whole-ring bounds), ``ok`` (public 0/1 per
    contribution: every party received a complete, well-credentialed packet) and ``coins``
    (32 public random bytes tossed after the batch was fixed)."""

    seq: int
    ids: list[bytes]
    values: Shared
    ok: np.ndarray[Any, Any]
    coins: bytes = b""

    @property
    def size(self) -> int:
        return len(self.ids)


class _Round(Protocol):
    @property
    def party_id(self) -> int: ...

    async def broadcast(self, value: Any, *, expect: ArraySpec | None = None) -> dict[int, Any]: ...


def _digest(seq: int, ids: Iterable[bytes]) -> np.ndarray[Any, Any]:
    h = hashlib.sha256(seq.to_bytes(8, "big"))
    for cid in ids:
        h.update(cid)
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


async def agree(
    ctx: _Round, batch: FeedBatch, decl: ContributionDecl, relay: str
) -> ContributionBatch:
    """One round: every party's digest of the batch must match; verdicts are ANDed; coins are
    tossed."""
    coin = np.frombuffer(os.urandom(COIN_BYTES), dtype=np.uint8)
    mine = np.concatenate([_digest(batch.seq, batch.ids), coin, batch.ok.astype(np.uint8)])
    got = await ctx.broadcast(mine, expect=ArraySpec(np.uint8, mine.shape))
    ok = batch.ok.astype(bool).copy()
    coins = {ctx.party_id: mine[32 : 32 + COIN_BYTES]}
    head = 32 + COIN_BYTES
    for pid, theirs in got.items():
        if not np.array_equal(theirs[:32], mine[:32]):
            raise RemoteProtocolError(
                f"{relay} sent party:{pid} a different batch {batch.seq} than ours",
                peer=relay,
                culprit=relay,
            )
        coins[pid] = theirs[32:head]
        ok &= theirs[head:].astype(bool)
    toss = hashlib.sha256(b"mpc batch coins\x00")
    for pid in sorted(coins):
        toss.update(coins[pid].tobytes())
    values = Shared(
        np.ascontiguousarray(batch.shares, dtype=np.uint64), decl.frac_bits, RING_MIN, RING_MAX
    )
    return ContributionBatch(batch.seq, batch.ids, values, ok, toss.digest())


def totals_of(feed: ContributionFeed | None) -> Mapping[str, int]:
    return feed.totals if feed is not None else {}


class ListFeed:
    """A feed of batches fixed in advance (in-process runs and tests)."""

    def __init__(self, batches: list[FeedBatch], totals: Mapping[str, int]) -> None:
        self._batches = list(batches)
        self._totals = dict(totals)

    async def next_batch(self) -> FeedBatch | None:
        return self._batches.pop(0) if self._batches else None

    @property
    def totals(self) -> dict[str, int]:
        return dict(self._totals)


def memory_feeds(
    n: int,
    values: np.ndarray[Any, Any],
    *,
    batch: int,
    complete: np.ndarray[Any, Any] | None = None,
    incomplete_for: int = 0,
) -> list[ListFeed]:
    """Per-party feeds for contributions ``values`` (rows: raw ring values, int64 or uint64, of
    any magnitude: contributors may be malicious), split into fresh additive shares.  A row with
    ``complete[i] == False`` arrives broken at party index ``incomplete_for`` only."""
    vals = np.ascontiguousarray(values).view(np.uint64) if values.dtype == np.int64 else values
    count = vals.shape[0]
    shares = [PRG(new_seed()).uint64(vals.shape) for _ in range(n - 1)]
    first = vals - np.sum(shares, axis=0, dtype=np.uint64) if shares else vals.copy()
    per_party = [first, *shares]
    ok = np.ones(count, dtype=bool) if complete is None else np.asarray(complete, dtype=bool)
    ids = [hashlib.sha256(i.to_bytes(8, "big")).digest()[:16] for i in range(count)]
    feeds: list[list[FeedBatch]] = [[] for _ in range(n)]
    for seq, lo in enumerate(range(0, count, batch)):
        hi = min(count, lo + batch)
        for p in range(n):
            verdict = ok[lo:hi] if p == incomplete_for else np.ones(hi - lo, dtype=bool)
            feeds[p].append(FeedBatch(seq, ids[lo:hi], per_party[p][lo:hi].copy(), verdict.copy()))
    totals = {"accepted": count, "refused": 0, "dropped": 0, "batches": len(feeds[0])}
    return [ListFeed(f, totals) for f in feeds]
