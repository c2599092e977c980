"""daBits, edaBits and exact-truncation pairs by folding private bits into an additive sharing.

daBits follow Rotaru and Wood ("MArBled Circuits", INDOCRYPT 2019), edaBits Escudero, Ghosh,
Keller, Rachuri and Scholl ("Improved Primitives for MPC over Mixed Arithmetic-Binary Circuits",
CRYPTO 2020), built here from each party's private bits and Gilboa's OT-based products (CRYPTO
1999), semi-honest; the truncation pairs are the edaBit-based exact truncation of Escudero et al.

A *daBit* is a random bit b shared both ways: XOR shares ``tb_i`` (uint8 0/1) and additive
Z_2^64 shares ``t_i``.  Every party i picks its XOR share ``b_i`` itself; the additive sharing of
``b = b_1 xor ... xor b_n`` is built by folding over the parties P_1 < ... < P_n (sorted ids):

    s <- b_1 (held by P_1);   for j = 2..n:  s <- s + b_j - 2 s b_j   (= s xor b_j for bits)

The product ``s b_j`` of the shared s and P_j's private bit is one correlated OT per holder
h < j of a share of s (Gilboa with a one-bit choice, :mod:`.gilboa`): h sends
``x1 - x0 - s_h`` and keeps ``-x0``; j keeps ``x0 + b_j s_h``.  Each holder's new share is
local, ``s_h + 2 x0``; P_j's is ``b_j - 2 sum_h (x0 + b_j s_h)``.  Fold j needs P_{j-1}'s share,
which needs fold j-1's corrections: **this protocol is inherently sequential in n**.  Only the
pairs (h < j) run OTs, h as OT sender; all their u go out together in the first round.

* rounds: ``1 + (n - 1)`` per chunk (u, then one fold per round), pipelined over C chunks:
  ``C + n - 1``;
* bytes per bit per unordered pair {h < j}: 16 (u, j -> h) + ``w / 8`` (correction, h -> j)
  where w <= 64 is the width that matters (below).

edaBits (``rb`` a uint64 word XOR-shared, ``r`` additive, ``xor_i rb_i = sum_i r_i mod 2^64``):
the 64 bits of a word are 64 daBits, ``r = sum_k 2^k [b_k]``; bit k's additive share only matters
mod ``2^(64 - k)``, so its corrections carry 64 - k bits (33 words per element instead of 64).
The layout ``OT t = 64 e + k`` makes the choice words of P_j exactly its words ``rb_j``.

Truncation pairs for EXACT truncation by f bits (replacing probabilistic truncation): per
element a uniform ``r`` with additive shares of r, of ``r_hi = (r mod 2^63) >> f`` and of
``r_msb = r >> 63``, all from the same 64 arithmetic bits: ``r = sum_k 2^k b_k``,
``r_hi = sum_{k=f}^{62} 2^(k-f) b_k``, ``r_msb = b_63`` (bit k then matters mod
``2^min(64, 64 - k + f)``, bit 63 in full).  Online, for a shared x with ``|x| < 2^62``: open
``c = x + 2^62 + r``; with ``y = x + 2^62 < 2^63`` and ``c_63`` the top bit of c,
``b = c_63 xor r_msb`` is the carry of ``y + (r mod 2^63)`` into bit 63 and is linear in the
shares (c is public): ``[b] = c_63 + (1 - 2 c_63) [r_msb]``.  Since
``y + (r mod 2^63) = (c mod 2^63) + 2^63 b`` exactly, the share-wise linear
``(c mod 2^63) >> f - [r_hi] + 2^(63-f) [b] - 2^(62-f)`` equals ``floor(x / 2^f)`` or one more
(the only error is ``floor(A/2^f) - floor(B/2^f)`` against ``floor((A-B)/2^f)``), for EVERY x
in range.  Probabilistic truncation (shares shifted locally, or a mask without the carry bit)
instead returns a value off by about ``2^(64-f)`` with a probability that grows with ``|x|``;
here nothing wraps, at the price of one more shared value (r_msb) per element.

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg` and siblings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing.prg import PRG, new_seed

from .bitmatrix import PackPlan, U64Array, word_bits
from .exchange import check_array, check_none
from .gilboa import cot_recv, cot_send
from .iknp import Links

__all__ = [
    "DABIT_PLAN",
    "EDABIT_PLAN",
    "FoldJob",
    "combine_edabits",
    "combine_trunc",
    "trunc_plan",
]

DABIT_PLAN = PackPlan((64,) * 64)
EDABIT_PLAN = PackPlan(tuple(64 - k for k in range(64)))
_WEIGHTS = np.arange(64, dtype=np.uint64)

Folded = tuple[U64Array, U64Array]
"""(our XOR-share words (M,), our additive shares of their 64 bits each (M, 64))."""


def trunc_plan(f: int) -> PackPlan:
    """Field widths for truncation pairs by f bits (see the module docstring)."""
    if not 0 <= f <= 62:
        raise LocalProtocolError("truncation needs 0 <= f <= 62")
    widths = [64 - k if k < f else min(64, 64 - k + f) for k in range(63)]
    return PackPlan((*widths, 64))


class FoldJob:
    """One chunk of ``rows`` words = 64 * rows arithmetic bits; stages 0..n-1 (see module)."""

    def __init__(self, links: Links, rows: int, plan: PackPlan, out: list[Folded]) -> None:
        self.links = links
        self.rows = rows
        self.plan = plan
        self.out = out
        self.idx = links.parties.index(links.me)
        self.rb = PRG(new_seed()).uint64(rows)
        self.bits = word_bits(self.rb)
        self.share: U64Array | None = self.bits.copy() if self.idx == 0 else None
        self.ht: dict[int, U64Array] = {}
        self.h: dict[int, tuple[U64Array, U64Array]] = {}

    def __repr__(self) -> str:
        return f"FoldJob(rows={self.rows})"

    def step(self, stage: int, received: dict[int, Any]) -> dict[int, Any]:
        parties = self.links.parties
        if stage == 0:
            out: dict[int, Any] = {}
            for h in parties[: self.idx]:
                out[h], self.ht[h] = self.links.extend(h, self.rb)
            return out
        if stage == 1:
            for p in self.links.peers:
                if p in parties[self.idx + 1 :]:
                    self.h[p] = self.links.respond(p, received[p], self.rows)
                else:
                    check_none(received[p], p, "daBit u")
        else:
            self._absorb(stage - 1, received)
        return self._correct(stage)

    def finish(self, received: dict[int, Any]) -> None:
        self._absorb(len(self.links.parties) - 1, received)
        if self.share is None:
            raise LocalProtocolError("fold ended without our share")
        self.out.append((self.rb, self.share))

    def _correct(self, fold: int) -> dict[int, Any]:
        """As a holder of a share of s, our corrections for fold ``fold`` (receiver P[fold])."""
        if self.idx >= fold:
            return {}
        if self.share is None:
            raise LocalProtocolError("fold order broken: no share to correlate")
        j = self.links.parties[fold]
        h0, h1 = self.h.pop(j)
        packed, sigma = cot_send(h0, h1, self.share, self.plan, weighted=False)
        self.share -= sigma << np.uint64(1)
        return {j: packed.reshape(-1)}

    def _absorb(self, fold: int, received: dict[int, Any]) -> None:
        """As receiver of fold ``fold``: our share from every holder's corrections."""
        parties = self.links.parties
        if self.idx != fold:
            for p in self.links.peers:
                check_none(received[p], p, "daBit corrections")
            return
        total = np.zeros((self.rows, 64), dtype=np.uint64)
        width = self.rows * self.plan.words
        for h in parties[:fold]:
            flat = check_array(received[h], np.uint64, (width,), h, "daBit corrections")
            packed = flat.reshape(self.rows, self.plan.words)
            total += cot_recv(self.ht.pop(h), self.rb, packed, self.plan, weighted=False)
        for p in parties[fold + 1 :]:
            check_none(received[p], p, "daBit corrections")
        self.share = self.bits - (total << np.uint64(1))


def combine_edabits(shares: U64Array) -> U64Array:
    """Additive shares of ``r = sum_k 2^k b_k`` from (M, 64) bit shares."""
    combined: U64Array = (shares << _WEIGHTS).sum(axis=1, dtype=np.uint64)
    return combined


def combine_trunc(shares: U64Array, f: int) -> tuple[U64Array, U64Array, U64Array]:
    """``(r, r_hi, r_msb)`` shares from (M, 64) bit shares, truncation by f bits."""
    r = combine_edabits(shares)
    hi = shares[:, f:63] << np.arange(63 - f, dtype=np.uint64)
    r_hi = hi.sum(axis=1, dtype=np.uint64)
    return r, r_hi, shares[:, 63].copy()
