"""The OT preprocessing engine: dealer-free triples, AND triples, daBits, edaBits, trunc pairs.

One :class:`OTEngine` per party per session.  ``setup`` runs the base OTs with every peer once
(Chou-Orlandi, :mod:`.baseot`, 2 rounds) and keeps per ordered pair the IKNP extension state
(:mod:`.iknp`): column PRG streams and the OT counter, continued by every later call.  Security:
semi-honest, against any coalition of up to n - 1 of the n parties (2 <= n <= 5 tested).

Every public method is called by every party with the same public arguments at the same point
of its program and returns this party's share of the material.  Batches are cut into chunks of
at most ``chunk_ots`` OTs per party per stage (default 2^20, divided among the peers) and run
through :func:`.pipeline.run_pipeline`, so memory stays proportional to a chunk.  All parties
must use the same ``chunk_ots``.  Costs, with C the number of chunks (formulas and the measured
ledger figures are in ``benchmarks/ot_throughput.py`` and the report):

=================  =====================  ======================================================
material           rounds                 bytes sent per ordered pair (i -> j), per item
=================  =====================  ======================================================
setup (once)       2                      65 + 128 * 65 = 8385
Beaver triple      C + 1                  64 * 16 (u) + 33 * 8 (corrections) = 1288
AND triple (bit)   C (n = 2), C + 1       16 (u) + 1/8 (corrections, n >= 3, all but one pair)
daBit              C + n - 1              16 (u, j -> h, h < j) + 8 (correction, h -> j)
edaBit (word)      C + n - 1              64 * 16 + 33 * 8 (one direction of each pair each)
trunc pair         C + n - 1              64 * 16 + 8 * words(f), one direction each as above
=================  =====================  ======================================================

``words(f) = trunc_plan(f).words`` is 34 (f = 0), 50 (f = 16), 64 (f = 32), 35 (f = 62): fields of
more than 32 bits cannot share a word in the first-fit layout.  Per party and item the bytes
sent are the table's figure times n - 1 (symmetric kinds) or split by position (fold kinds).

Operations on one engine run one at a time, in the same order on every party (they advance
shared OT streams); a second concurrent call raises LocalProtocolError.  After any error the
engine refuses further work (its streams may be out of step with the peers').

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg` and the siblings;
never the runtime, transport or protocols.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError

from .baseot import base_ots
from .bitmatrix import U64Array
from .dabits import (
    DABIT_PLAN,
    EDABIT_PLAN,
    Folded,
    FoldJob,
    combine_edabits,
    combine_trunc,
    trunc_plan,
)
from .exchange import Exchanger, check_parties
from .iknp import ExtReceiver, ExtSender, Links, pair_tag
from .pipeline import ChunkJob, run_pipeline
from .triples import AndJob, BeaverJob, Triple

__all__ = ["DEFAULT_CHUNK_OTS", "OTEngine"]

DEFAULT_CHUNK_OTS = 1 << 20
T = TypeVar("T")


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise LocalProtocolError(f"{what} must be a non-negative integer")
    return int(value)


def _cat(parts: list[U64Array], size: int) -> U64Array:
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate(parts)[:size]


def _cat3(parts: list[Triple], size: int) -> Triple:
    return (
        _cat([p[0] for p in parts], size),
        _cat([p[1] for p in parts], size),
        _cat([p[2] for p in parts], size),
    )


class OTEngine:
    """One party's OT preprocessing engine for one session (base OTs cached, streams kept)."""

    def __init__(self, *, chunk_ots: int = DEFAULT_CHUNK_OTS) -> None:
        if _count(chunk_ots, "chunk_ots") < 64:
            raise LocalProtocolError("chunk_ots must be at least 64")
        self._chunk_ots = int(chunk_ots)
        self._links: Links | None = None
        self._broken = False
        self._busy = False

    def __repr__(self) -> str:
        state = "broken" if self._broken else ("ready" if self._links else "new")
        return f"OTEngine({state})"

    # ---- set-up -------------------------------------------------------------------------
    async def setup(self, ex: Exchanger) -> None:
        """Base OTs with every peer (2 rounds); a no-op once done for the same parties."""
        me, parties = check_parties(ex)
        if self._links is not None:
            if (me, parties) != (self._links.me, self._links.parties):
                raise LocalProtocolError("this engine was set up for another party set")
            return
        await self._guard(lambda: self._setup(ex.scope("base-ot"), me, parties))

    async def _setup(self, ex: Exchanger, me: int, parties: tuple[int, ...]) -> None:
        peers = tuple(p for p in parties if p != me)
        deltas = {p: os.urandom(16) for p in peers}
        recv_keys, send_keys = await base_ots(ex, me, peers, deltas)
        senders = {p: ExtSender(deltas[p], recv_keys[p], pair_tag(me, p)) for p in peers}
        receivers = {
            p: ExtReceiver(send_keys[p][0], send_keys[p][1], pair_tag(p, me)) for p in peers
        }
        self._links = Links(me, parties, senders, receivers)

    async def _guard(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run one operation: never two at once (they would interleave the OT streams)."""
        if self._broken:
            raise LocalProtocolError("this OT engine failed earlier and cannot be used again")
        if self._busy:
            raise LocalProtocolError("an OT engine runs one operation at a time; await the first")
        self._busy = True
        try:
            return await work()
        except BaseException:
            self._broken = True
            raise
        finally:
            self._busy = False

    async def _ready(self, ex: Exchanger) -> Links:
        await self.setup(ex)
        if self._links is None:
            raise LocalProtocolError("OT engine set-up did not complete")
        return self._links

    def _rows_per_chunk(self, links: Links) -> int:
        return max(1, self._chunk_ots // (64 * len(links.peers)))

    async def _run(
        self,
        ex: Exchanger,
        name: str,
        rows: int,
        stages: int,
        make: Callable[[Links, int, list[Any]], ChunkJob],
    ) -> list[Any]:
        """Run ``rows`` elements (64 OTs per element and pair) in pipelined chunks."""
        links = await self._ready(ex)
        per = self._rows_per_chunk(links)
        sizes = [min(per, rows - s) for s in range(0, rows, per)]
        out: list[Any] = []
        if sizes:
            sub = ex.scope(name)
            job = lambda c: make(links, sizes[c], out)  # noqa: E731
            await self._guard(lambda: run_pipeline(sub, links.peers, job, len(sizes), stages))
        return out

    # ---- material -----------------------------------------------------------------------
    async def triples(self, ex: Exchanger, m: int) -> tuple[U64Array, U64Array, U64Array]:
        """``m`` Beaver triples over Z_2^64: our additive shares ``(a, b, c)``, c = a * b."""
        m = _count(m, "m")
        parts: list[Triple] = await self._run(ex, "ot-triples", m, 2, BeaverJob)
        return _cat3(parts, m)

    async def and_triples(self, ex: Exchanger, words: int) -> tuple[U64Array, U64Array, U64Array]:
        """``64 * words`` AND triples as uint64 words: our XOR shares ``(a, b, c)``, c = a & b."""
        words = _count(words, "words")
        links = await self._ready(ex)
        stages = 1 if len(links.parties) == 2 else 2
        parts: list[Triple] = await self._run(ex, "ot-and", words, stages, AndJob)
        return _cat3(parts, words)

    async def _fold(self, ex: Exchanger, name: str, rows: int, plan: Any) -> list[Folded]:
        links = await self._ready(ex)
        make = lambda lk, r, out: FoldJob(lk, r, plan, out)  # noqa: E731
        return await self._run(ex, name, rows, len(links.parties), make)

    async def dabits(self, ex: Exchanger, m: int) -> tuple[npt.NDArray[np.uint8], U64Array]:
        """``m`` daBits: our XOR share ``tb`` (uint8 0/1) and additive share ``t`` of each bit."""
        m = _count(m, "m")
        parts = await self._fold(ex, "ot-dabits", -(-m // 64), DABIT_PLAN)
        if not parts:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint64)
        rb = np.concatenate([p[0] for p in parts])
        tb = np.unpackbits(rb.astype("<u8").view(np.uint8), bitorder="little")[:m]
        t = np.concatenate([p[1].reshape(-1) for p in parts])[:m]
        return tb, t

    async def edabits(self, ex: Exchanger, m: int) -> tuple[U64Array, U64Array]:
        """``m`` edaBits: our XOR-share word ``rb`` and additive share ``r`` (sum r = xor rb)."""
        m = _count(m, "m")
        parts = await self._fold(ex, "ot-edabits", m, EDABIT_PLAN)
        rb = _cat([p[0] for p in parts], m)
        return rb, _cat([combine_edabits(p[1]) for p in parts], m)

    async def trunc_pairs(
        self, ex: Exchanger, m: int, f: int
    ) -> tuple[U64Array, U64Array, U64Array]:
        """``m`` exact-truncation pairs for f bits: shares of r, (r mod 2^63) >> f, r >> 63."""
        m = _count(m, "m")
        plan = trunc_plan(_count(f, "f"))
        parts = await self._fold(ex, "ot-trunc", m, plan)
        return _cat3([combine_trunc(p[1], f) for p in parts], m)
