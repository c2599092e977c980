"""An in-process dealer provider: the dealer's algebra called directly, for in-memory runs.

One :class:`~.state.DealerState` is shared by every party of an in-memory run; each party's
:class:`LocalDealer` takes its seed (and party 0 its corrections) and expands them, exactly as a
party does with a remote dealer's reply.

May import: preprocessing.*.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpc_runtime.preprocessing.dealer.algebra import correction_nbytes, expand
from mpc_runtime.preprocessing.dealer.state import DealerState
from mpc_runtime.preprocessing.provider import Exchanger, Fetched
from mpc_runtime.preprocessing.requests import Component

__all__ = ["LocalDealer"]


class LocalDealer:
    """The dealer provider of one party, in process."""

    name = "dealer"

    def __init__(self, state: DealerState, job: str, party: int) -> None:
        self.state = state
        self.job = job
        self.party = party

    async def fetch(self, ex: Exchanger, path: str, components: Sequence[Component]) -> Fetched:
        seed, corr = self.state.take(self.job, path, components, self.party)
        idx = self.state.parties.index(self.party)
        mats = expand(components, seed, idx, corr)
        return Fetched(mats, len(seed) + correction_nbytes(corr), 1)
