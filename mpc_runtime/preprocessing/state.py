"""Dealer bookkeeping, independent of any network: one batch per (job, op path), a budget.

All parties ask for the material of an operation under the same op path; the first request
makes the batch, each party may take its part once, and the batch is forgotten when every
party has taken it.  A request differing from the first one at the same path is refused, and a
job that asks for more than its budget gets :class:`~mpc_runtime.errors.PreprocessingExhausted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mpc_runtime.errors import PreprocessingExhausted, RemoteProtocolError
from mpc_runtime.sharing.dealer import Component, Material, expand, generate

DEFAULT_BUDGET = 2_000_000_000
"""Elements of material one job may draw (a guard against runaway requests)."""


@dataclass
class _Batch:
    components: tuple[Component, ...]
    seeds: list[bytes]
    corrections: list[Material]
    taken: set[int] = field(default_factory=set)


def components_from_wire(raw: object) -> list[Component]:
    """Parse ``[[kind, shape, frac_bits|None], ...]`` from a peer; RemoteProtocolError if bad."""
    if not isinstance(raw, list) or not raw or len(raw) > 256:
        raise RemoteProtocolError("bad material request: components must be a non-empty list")
    out = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 3:
            raise RemoteProtocolError("bad material request: each component is [kind, shape, f]")
        kind, shape, f = item
        if not isinstance(kind, str) or not isinstance(shape, list) or len(shape) > 8:
            raise RemoteProtocolError("bad material request: bad kind or shape")
        if not all(isinstance(s, int) and 0 <= s < 2**32 for s in shape):
            raise RemoteProtocolError("bad material request: bad shape")
        try:
            out.append(Component(kind, tuple(shape), f if isinstance(f, int) else None))
        except Exception as exc:  # noqa: BLE001 - any bad field is the peer's fault
            raise RemoteProtocolError(f"bad material request: {type(exc).__name__}") from None
    return out


def components_to_wire(components: Sequence[Component]) -> list[list[object]]:
    return [[c.kind, list(c.shape), c.frac_bits] for c in components]


def correction_nbytes(corrections: Sequence[Material] | None) -> int:
    if not corrections:
        return 0
    return sum(int(a.nbytes) for m in corrections for a in m.values())


class DealerState:
    """Batches of material per (job, path) for a fixed set of parties."""

    def __init__(self, parties: Sequence[int], budget: int = DEFAULT_BUDGET) -> None:
        self.parties = tuple(sorted(parties))
        self.budget = budget
        self._batches: dict[tuple[str, str], _Batch] = {}
        self._used: dict[str, int] = {}

    def take(
        self, job: str, path: str, components: Sequence[Component], party: int
    ) -> tuple[bytes, list[Material] | None]:
        """Party ``party``'s seed, plus corrections if it is the first party."""
        if party not in self.parties:
            raise RemoteProtocolError(f"party {party} is not part of this dealer's job")
        key = (job, path)
        comps = tuple(components)
        batch = self._batches.get(key)
        if batch is None:
            need = sum(c.size for c in comps)
            used = self._used.get(job, 0)
            if used + need > self.budget:
                raise PreprocessingExhausted(
                    f"job {job[:40]} would exceed its preprocessing budget of {self.budget}"
                    f" elements (used {used}, asked {need})",
                    op_path=path,
                )
            self._used[job] = used + need
            seeds, corrections = generate(list(comps), len(self.parties))
            batch = _Batch(comps, seeds, corrections)
            self._batches[key] = batch
        elif batch.components != comps:
            raise RemoteProtocolError(
                f"party {party} asked for different material than its peers", op_path=path
            )
        if party in batch.taken:
            raise RemoteProtocolError(
                f"party {party} asked twice for the same material", op_path=path
            )
        batch.taken.add(party)
        idx = self.parties.index(party)
        result = (batch.seeds[idx], batch.corrections if idx == 0 else None)
        if len(batch.taken) == len(self.parties):
            del self._batches[key]
        return result

    def used(self, job: str) -> int:
        return self._used.get(job, 0)


class LocalDealer:
    """An in-process dealer for one party (tests and single-machine runs of the algebra)."""

    def __init__(self, state: DealerState, job: str, party: int) -> None:
        self.state = state
        self.job = job
        self.party = party

    async def fetch(self, path: str, components: list[Component]) -> tuple[list[Material], int]:
        seed, corr = self.state.take(self.job, path, components, self.party)
        idx = self.state.parties.index(self.party)
        mats = expand(components, seed, idx, corr)
        return mats, len(seed) + correction_nbytes(corr)


__all__ = ["DealerState", "LocalDealer", "components_from_wire", "components_to_wire", "np"]
