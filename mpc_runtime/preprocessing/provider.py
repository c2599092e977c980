"""The interface between the runtime and whoever makes preprocessing material.

A :class:`Provider` answers a list of typed requests
(:class:`~mpc_runtime.preprocessing.requests.Component`) with this party's material.  Two kinds
exist: the ``dealer`` (a separate service that sends PRG seeds and corrections; see
:mod:`.dealer`) and ``ot`` (the parties make it among themselves with oblivious transfer; see
:mod:`.ot`).  A job's spec names the provider, so every party uses the same one; protocols only
call ``ctx.material(...)`` and never know which provider served them.

Interactive providers talk through an :class:`Exchanger`, which the runtime's context satisfies
(one ``exchange`` is one round, counted in the ledger's offline phase).

May import: numpy, errors, preprocessing.requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mpc_runtime.preprocessing.requests import Component, Material

__all__ = ["PROVIDERS", "Exchanger", "Fetched", "Provider"]

PROVIDERS = ("ot", "dealer")
"""Provider names a job spec may ask for."""


class Exchanger(Protocol):
    """What an interactive provider needs from the runtime: who we are and one-round exchanges."""

    @property
    def party_id(self) -> int: ...

    @property
    def parties(self) -> tuple[int, ...]: ...

    def scope(self, name: str) -> Exchanger: ...

    async def exchange(
        self, outgoing: Mapping[int, Any], expect_from: Iterable[int] | None = None
    ) -> dict[int, Any]: ...


@dataclass(frozen=True)
class Fetched:
    """This party's material, and what it cost outside the exchanger's own counting: bytes and
    requests exchanged with a third party (the dealer)."""

    materials: list[Material]
    third_party_bytes: int = 0
    third_party_requests: int = 0


class Provider(Protocol):
    """Makes or fetches preprocessing material for one party of one job."""

    name: str

    async def fetch(self, ex: Exchanger, path: str, components: Sequence[Component]) -> Fetched: ...
