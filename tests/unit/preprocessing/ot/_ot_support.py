"""Shared helpers of the OT engine tests: exchanger wrappers, reconstruction, chi-square tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from scipy import stats

from mpc_runtime.preprocessing.ot import Exchanger, OTEngine
from mpc_runtime.runtime.memory import run_memory

# A p-value below this rejects uniformity.  A correct implementation fails a single test with
# probability 1e-6; every wrong variant we plant as a control gets p far below it.
P_REJECT = 1e-6

Mutator = Callable[[str, dict[int, Any]], dict[int, Any]]


class WrapEx:
    """An Exchanger over a context that records what we send and may rewrite it first."""

    def __init__(
        self,
        inner: Any,
        log: list[tuple[str, int, Any]] | None = None,
        mutate: Mutator | None = None,
        path: str = "",
    ) -> None:
        self.inner = inner
        self.log = log if log is not None else []
        self.mutate = mutate
        self.path = path

    @property
    def party_id(self) -> int:
        return int(self.inner.party_id)

    @property
    def parties(self) -> tuple[int, ...]:
        return tuple(self.inner.parties)

    def scope(self, name: str) -> WrapEx:
        return WrapEx(self.inner.scope(name), self.log, self.mutate, f"{self.path}/{name}")

    async def exchange(
        self, outgoing: Mapping[int, Any], expect_from: Iterable[int] | None = None
    ) -> dict[int, Any]:
        out = dict(outgoing)
        if self.mutate is not None:
            out = self.mutate(self.path, out)
        for pid, value in out.items():
            self.log.append((self.path, pid, value))
        return await self.inner.exchange(out, expect_from)


def _typecheck(ex: WrapEx) -> Exchanger:
    return ex  # mypy proves WrapEx satisfies the protocol


async def run_engine(
    n: int,
    call: Callable[[OTEngine, Exchanger], Any],
    *,
    chunk_ots: int | None = None,
    wrap: Callable[[Any], Exchanger] | None = None,
    round_timeout: float = 30.0,
    return_exceptions: bool = False,
) -> list[Any]:
    """Run ``await call(engine, ex)`` on n parties; return each party's result (or exception)."""

    async def program(ctx: Any) -> Any:
        engine = OTEngine() if chunk_ots is None else OTEngine(chunk_ots=chunk_ots)
        ex = wrap(ctx) if wrap is not None else ctx
        return await call(engine, ex)

    runs = await run_memory(
        n, program, round_timeout=round_timeout, return_exceptions=return_exceptions
    )
    return [r.error if r.error is not None else r.result for r in runs]


def add(parts: list[np.ndarray]) -> np.ndarray:
    out = np.zeros_like(parts[0], dtype=np.uint64)
    for p in parts:
        out += p
    return out


def xor(parts: list[np.ndarray]) -> np.ndarray:
    return np.bitwise_xor.reduce(np.stack(parts), axis=0)


def byte_p(data: np.ndarray) -> float:
    """Chi-square p-value of the bytes of ``data`` against uniform over 0..255."""
    raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    counts = np.bincount(raw, minlength=256)
    return float(stats.chisquare(counts).pvalue)


def bit_p(words: np.ndarray, bits: int = 64) -> float:
    """Chi-square p-value of the frequency of ones at each of ``bits`` positions (all 1/2)."""
    w = np.asarray(words, dtype=np.uint64).reshape(-1)
    ones = np.array([int(((w >> np.uint64(k)) & np.uint64(1)).sum()) for k in range(bits)])
    n = w.size
    stat = float((((ones - n / 2) ** 2) / (n / 4)).sum())  # sum of squared z-scores
    return float(stats.chi2.sf(stat, bits))
