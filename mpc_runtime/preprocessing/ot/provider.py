"""The ``ot`` provider: the parties make every piece of preprocessing material among themselves.

It answers the typed requests of :mod:`mpc_runtime.preprocessing.requests` with the
:class:`~.engine.OTEngine` (base OTs, IKNP extension, Gilboa products, daBit folds), so no dealer
and no coordinator is involved: security holds against any coalition of up to n - 1 semi-honest
parties.  A request is served kind by kind, all components of one kind (and, for truncation, one
number of fractional bits) in a single engine call, so an operation's material costs a few rounds
whatever the number of components: a comparison (edaBits, daBits and six AND layers) is three
calls.  The rounds run under the requesting context's offline scope, so the ledger counts them.
Packed daBits (``pbit``) are daBits with the XOR shares packed 64 to a word.  The dealer-only
kinds (:data:`~mpc_runtime.preprocessing.requests.DEALER_ONLY`: truth tables and FSS keys) are
refused with a :class:`~mpc_runtime.errors.UsageError` before any round.

May import: numpy, errors, preprocessing.requests, preprocessing.provider, the ot siblings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.preprocessing.provider import Exchanger, Fetched
from mpc_runtime.preprocessing.requests import DEALER_ONLY, Component, Material

from .engine import DEFAULT_CHUNK_OTS, OTEngine

__all__ = ["OTProvider"]


def _split(arrays: Sequence[np.ndarray], comps: list[tuple[int, Component]]) -> list[Material]:
    """Cut flat arrays back into one material dict per component (names filled by the caller)."""
    out: list[Material] = []
    start = 0
    for _, comp in comps:
        n = comp.size
        out.append({str(i): a[start : start + n].reshape(comp.shape) for i, a in enumerate(arrays)})
        start += n
    return out


BYTES_PER_OT = 32
"""Upper bound on what one OT adds to the largest message of a chunk (16 bytes of IKNP column,
corrections, framing), used to keep every message under the cluster's frame limit."""


def chunk_ots(max_message_bytes: int) -> int:
    """OTs per chunk such that no message exceeds ``max_message_bytes`` (at most 2^20)."""
    return max(1 << 10, min(DEFAULT_CHUNK_OTS, max_message_bytes // BYTES_PER_OT))


class OTProvider:
    """One party's OT-based provider for one session.

    ``max_message_bytes``: the cluster's frame limit; chunks are sized to stay under it.  Engine
    calls are queued behind a lock: the engine runs one operation at a time, in the same order
    on every party.
    """

    name = "ot"

    def __init__(
        self, engine: OTEngine | None = None, *, max_message_bytes: int = 64 << 20
    ) -> None:
        self.engine = engine or OTEngine(chunk_ots=chunk_ots(max_message_bytes))
        self._lock = asyncio.Lock()

    async def fetch(self, ex: Exchanger, path: str, components: Sequence[Component]) -> Fetched:
        groups: dict[tuple[str, int | None], list[tuple[int, Component]]] = {}
        refused = sorted({c.kind for c in components if c.kind in DEALER_ONLY})
        if refused:
            raise UsageError(
                f"the ot provider cannot make {', '.join(refused)} material (dealer-only);"
                ' run the job with preprocessing = "dealer" or params comparison = "tree"'
            )
        for k, comp in enumerate(components):
            groups.setdefault((comp.kind, comp.frac_bits), []).append((k, comp))
        result: dict[int, Material] = {}
        async with self._lock:
            for (kind, f), comps in groups.items():
                await self._serve(ex, kind, f, comps, result)
        return Fetched([result[k] for k in range(len(components))])

    async def _serve(
        self,
        ex: Exchanger,
        kind: str,
        f: int | None,
        comps: list[tuple[int, Component]],
        result: dict[int, Material],
    ) -> None:
        total = sum(c.size for _, c in comps)
        if kind == "pbit":
            await self._serve_packed(ex, comps, total, result)
            return
        arrays = await self._make(ex.scope(kind), kind, f, total)
        names = _NAMES[kind]
        for (k, _), mat in zip(comps, _split(arrays, comps), strict=True):
            result[k] = {n: np.ascontiguousarray(mat[str(i)]) for i, n in enumerate(names)}

    async def _serve_packed(
        self,
        ex: Exchanger,
        comps: list[tuple[int, Component]],
        total: int,
        result: dict[int, Material],
    ) -> None:
        """Packed daBits: one daBit call for all components, each component's XOR shares
        packed 64 to a word (its own words, zero padded)."""
        tb, t = await self.engine.dabits(ex.scope("pbit"), total) if total else (None, None)
        start = 0
        for k, comp in comps:
            n = comp.size
            bits = tb[start : start + n] if tb is not None else np.zeros(0, dtype=np.uint8)
            raw = np.packbits(bits, bitorder="little")
            words = np.zeros(-(-n // 64) * 8, dtype=np.uint8)
            words[: raw.size] = raw
            tt = t[start : start + n] if t is not None else np.zeros(0, dtype=np.uint64)
            result[k] = {
                "tb": words.view("<u8").astype(np.uint64),
                "t": np.ascontiguousarray(tt).reshape(comp.shape),
            }
            start += n

    async def _make(self, ex: Exchanger, kind: str, f: int | None, total: int) -> list[np.ndarray]:
        eng = self.engine
        if total == 0:
            return [
                np.zeros(0, dtype=np.uint8 if (kind, name) == ("bit", "tb") else np.uint64)
                for name in _NAMES[kind]
            ]
        if kind == "triple":
            return list(await eng.triples(ex, total))
        if kind == "and":
            return list(await eng.and_triples(ex, total))
        if kind == "rbits":
            return list(await eng.edabits(ex, total))
        if kind == "bit":
            return list(await eng.dabits(ex, total))
        if kind == "trunc" and f is not None:
            return list(await eng.trunc_pairs(ex, total, f))
        raise LocalProtocolError(f"the ot provider cannot make {kind!r} material")


_NAMES: dict[str, tuple[str, ...]] = {
    "triple": ("a", "b", "c"),
    "and": ("a", "b", "c"),
    "rbits": ("rb", "r"),
    "bit": ("tb", "t"),
    "pbit": ("tb", "t"),
    "trunc": ("r", "r_hi", "r_msb"),
}
