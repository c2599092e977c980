"""Dealer bookkeeping, independent of any network: one batch per (job, op path), a budget.

All parties ask for the material of an operation under the same op path; the first request
makes the batch, each party may take its part once, and the batch is forgotten when every
party has taken it.  A request differing from the first one at the same path is refused, and a
job that asks for more than its budget gets :class:`~mpc_runtime.errors.PreprocessingExhausted`.

May import: numpy, errors, preprocessing.requests, preprocessing.dealer.algebra.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mpc_runtime.errors import PreprocessingExhausted, RemoteProtocolError
from mpc_runtime.preprocessing.dealer.algebra import generate
from mpc_runtime.preprocessing.requests import Component, Material, material_elements

__all__ = ["DEFAULT_BUDGET", "DealerState"]

DEFAULT_BUDGET = 2_000_000_000
"""Elements of material one job may draw (a guard against runaway requests)."""


@dataclass
class _Batch:
    components: tuple[Component, ...]
    seeds: list[bytes]
    corrections: list[Material]
    taken: set[int] = field(default_factory=set)


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
        label = f"party:{party}"
        if party not in self.parties:
            raise RemoteProtocolError(f"{label} is not part of this dealer's job", peer=label)
        key = (job, path)
        comps = tuple(components)
        batch = self._batches.get(key)
        if batch is None:
            need = material_elements(comps)
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
                f"{label} asked for different material than its peers", peer=label, op_path=path
            )
        if party in batch.taken:
            raise RemoteProtocolError(
                f"{label} asked twice for the same material", peer=label, op_path=path
            )
        batch.taken.add(party)
        idx = self.parties.index(party)
        result = (batch.seeds[idx], batch.corrections if idx == 0 else None)
        if len(batch.taken) == len(self.parties):
            del self._batches[key]
        return result

    def used(self, job: str) -> int:
        return self._used.get(job, 0)
