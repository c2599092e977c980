"""Beaver triples over Z_2^64 and AND triples on uint64 words, from IKNP OT extension.

Beaver triples (Gilboa products as in MASCOT / MP-SPDZ semi2k).  Every party i picks uniform
``a_i, b_i``; for every ordered pair (i, j), i != j, the pair computes additive shares of
``a_i * b_j`` with 64 correlated OTs per product (j's choice bits = bits of ``b_j``, i's
correlation for bit k = ``a_i 2^k``, corrections truncated to the 64 - k bits that matter, see
:mod:`.gilboa`).  Then ``c_i = a_i b_i + sum of i's shares of every cross term``.

* rounds: 2 per chunk, pipelined: ``C + 1`` for C chunks (independent of n; every ordered pair
  runs in the same rounds);
* bytes per product per ordered pair: ``64 * 16 = 1024`` (u, receiver -> sender) ``+ 33 * 8 =
  264`` (corrections, sender -> receiver; 2080 bits of fields, 4 bytes of them widened) = 1288,
  i.e. 2576 sent per party per triple for n = 2 and ``1288 (n - 1)`` per party in general.

AND triples (XOR sharing, every bit of a uint64 word an independent triple).  For ordered pair
(i, j) one random OT per bit, j choosing with the bits of ``b_j``: i's bit ``x0 xor x1`` is a
random multiplicand, ``x0`` and ``x_c`` are the shares of its product with ``b_j`` (random OT =>
AND share).  Party i takes ``a_i`` from its first peer's OTs for free and sends one correction
bit per AND to each other peer.

* rounds: n = 2: 1 per chunk (``C``), no correction; n >= 3: ``C + 1`` (corrections);
* bytes per AND bit per ordered pair: 16 (u) + 1/8 (correction, on all but one pair per sender).

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg` and siblings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing.prg import PRG, new_seed

from .bitmatrix import PackPlan, U64Array, lsb_words
from .exchange import check_array, check_none
from .gilboa import cot_recv, cot_send
from .iknp import Links

__all__ = ["TRIPLE_PLAN", "AndJob", "BeaverJob"]

TRIPLE_PLAN = PackPlan(tuple(64 - k for k in range(64)))
"""Field k of a product's corrections keeps its low 64 - k bits: 33 words per product."""

Triple = tuple[U64Array, U64Array, U64Array]


class BeaverJob:
    """One chunk of ``rows`` Beaver triples (stages: 0 send u, 1 send corrections)."""

    def __init__(self, links: Links, rows: int, out: list[Triple]) -> None:
        prg = PRG(new_seed())
        self.links = links
        self.rows = rows
        self.out = out
        self.a = prg.uint64(rows)
        self.b = prg.uint64(rows)
        self.c = self.a * self.b
        self.ht: dict[int, U64Array] = {}

    def __repr__(self) -> str:
        return f"BeaverJob(rows={self.rows})"

    def step(self, stage: int, received: dict[int, Any]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for p in self.links.peers:
            if stage == 0:
                out[p], self.ht[p] = self.links.extend(p, self.b)
            else:
                h0, h1 = self.links.respond(p, received[p], self.rows)
                packed, share = cot_send(h0, h1, self.a, TRIPLE_PLAN, weighted=True)
                self.c += share
                out[p] = packed.reshape(-1)
        return out

    def finish(self, received: dict[int, Any]) -> None:
        words = TRIPLE_PLAN.words
        for p in self.links.peers:
            flat = check_array(received[p], np.uint64, (self.rows * words,), p, "corrections")
            packed = flat.reshape(self.rows, words)
            self.c += cot_recv(self.ht.pop(p), self.b, packed, TRIPLE_PLAN, weighted=True)
        self.out.append((self.a, self.b, self.c))


class AndJob:
    """One chunk of ``rows`` words of AND triples (1 stage for n = 2, else 2)."""

    def __init__(self, links: Links, rows: int, out: list[Triple]) -> None:
        self.links = links
        self.rows = rows
        self.out = out
        self.b = PRG(new_seed()).uint64(rows)
        self.a: U64Array | None = None
        self.c = np.zeros(rows, dtype=np.uint64)
        self.hb: dict[int, U64Array] = {}
        self.stages = 1 if len(links.parties) == 2 else 2

    def __repr__(self) -> str:
        return f"AndJob(rows={self.rows})"

    def step(self, stage: int, received: dict[int, Any]) -> dict[int, Any]:
        if stage == 1:
            return self._send(received)
        out: dict[int, Any] = {}
        for p in self.links.peers:
            out[p], ht = self.links.extend(p, self.b)
            self.hb[p] = lsb_words(ht)
        return out

    def finish(self, received: dict[int, Any]) -> None:
        if self.stages == 1:
            self._send(received)
            received = dict.fromkeys(self.links.peers)
        self._receive(received)

    def _send(self, received: dict[int, Any]) -> dict[int, Any]:
        """As OT sender to every peer: our shares x0, our a, corrections to all but the first."""
        out: dict[int, Any] = {}
        for p in self.links.peers:
            h0, h1 = self.links.respond(p, received[p], self.rows)
            x0, x1 = lsb_words(h0), lsb_words(h1)
            self.c ^= x0
            if self.a is None:
                self.a = x0 ^ x1
            else:
                out[p] = x0 ^ x1 ^ self.a
        return out

    def _receive(self, received: dict[int, Any]) -> None:
        """As OT receiver of every peer: x_c, corrected where the peer sent a correction."""
        me, parties = self.links.me, self.links.parties
        for p in self.links.peers:
            share = self.hb.pop(p)
            if me == min(q for q in parties if q != p):
                check_none(received[p], p, "AND corrections")
            else:
                d = check_array(received[p], np.uint64, (self.rows,), p, "AND corrections")
                share ^= self.b & d
            self.c ^= share
        if self.a is None:  # unreachable: _send ran first and there is at least one peer
            raise LocalProtocolError("AND job finished without a multiplicand")
        self.c ^= self.a & self.b
        self.out.append((self.a, self.b, self.c))
