"""Run a program on n parties inside one event loop over an in-memory mesh.

The mesh uses :func:`~mpc_runtime.transport.link.memory_link_pair` links carrying real wire
frames, and an in-process dealer, so protocols are tested quickly with the same session code the
TLS processes use.  Public testing helper, in the spirit of anyio's ``memory_stream_pair``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpc_runtime.ids import Identity
from mpc_runtime.preprocessing.state import DealerState, LocalDealer
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import Session
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import memory_link_pair
from mpc_runtime.wire import DEFAULT_MAX_FRAME


@dataclass
class PartyRun:
    """What one party ended with."""

    party: int
    result: Any
    outputs: dict[str, Any]
    ledger: Ledger
    error: BaseException | None = None


def memory_mesh(parties: Sequence[int]) -> dict[int, dict[int, Channel]]:
    """Channels for every ordered pair of parties, connected in memory."""
    chans: dict[int, dict[int, Channel]] = {p: {} for p in parties}
    for i, a in enumerate(parties):
        for b in parties[i + 1 :]:
            la, lb = memory_link_pair()
            chans[a][b] = Channel(la, Identity.party(b), Identity.party(a), DEFAULT_MAX_FRAME)
            chans[b][a] = Channel(lb, Identity.party(a), Identity.party(b), DEFAULT_MAX_FRAME)
    return chans


async def run_memory(
    n: int,
    program: Callable[[Any], Awaitable[Any]],
    *,
    inputs: Sequence[Mapping[str, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Sequence[str]] | None = None,
    round_timeout: float = 5.0,
    job: str = "test-job",
    dealer_budget: int | None = None,
    return_exceptions: bool = False,
) -> list[PartyRun]:
    """Run ``program(ctx)`` on parties 1..n; outputs map an output name to recipient labels.

    With no ``outputs`` every output name a program reveals must be declared; pass e.g.
    ``{"y": ["party:1", "party:2"]}``.
    """
    parties = list(range(1, n + 1))
    chans = memory_mesh(parties)
    state = DealerState(parties) if dealer_budget is None else DealerState(parties, dealer_budget)
    policy = RevealPolicy(
        {k: [Identity.from_label(x) for x in v] for k, v in (outputs or {}).items()}
    )
    sessions = [
        Session(
            p,
            chans[p],
            job=job,
            round_timeout=round_timeout,
            dealer=LocalDealer(state, job, p),
            revealer=policy,
            inputs=(inputs[p - 1] if inputs else {}),
            params=params,
        )
        for p in parties
    ]
    results = await asyncio.gather(*(s.run(program) for s in sessions), return_exceptions=True)
    runs = []
    for s, r in zip(sessions, results, strict=True):
        if isinstance(r, BaseException):
            if not return_exceptions:
                raise r
            runs.append(PartyRun(s.me, None, s.outputs, s.ledger, r))
        else:
            runs.append(PartyRun(s.me, r, s.outputs, s.ledger))
    return runs
