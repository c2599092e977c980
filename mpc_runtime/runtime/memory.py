"""Run a program on n parties inside one event loop over an in-memory mesh.

The mesh uses :func:`~mpc_runtime.transport.link.memory_link_pair` links carrying real wire
frames through the same per-peer state machine, and a preprocessing provider per party (an
in-process dealer by default, or any provider factory such as the OT provider), so protocols are
tested quickly with the same session code the TLS processes use.  Public testing helper, in the
spirit of anyio's ``memory_stream_pair``.

May import: ids, wire, transport (links, channels), preprocessing, runtime.*.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpc_runtime.ids import Identity
from mpc_runtime.preprocessing.dealer.local import LocalDealer
from mpc_runtime.preprocessing.dealer.state import DEFAULT_BUDGET, DealerState
from mpc_runtime.preprocessing.provider import Provider
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.contrib import ContributionDecl, ContributionFeed
from mpc_runtime.runtime.core import InputDecl
from mpc_runtime.runtime.dp import NoiseDecl
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import Session
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import memory_link_pair
from mpc_runtime.wire import DEFAULT_MAX_FRAME, Hello, HelloEvent, Message, MsgKind
from mpc_runtime.wire.control import encode_hello

__all__ = ["PartyRun", "ProviderFactory", "memory_mesh", "run_memory"]

ProviderFactory = Callable[[int], Provider]
"""Makes party ``p``'s preprocessing provider."""

DEFAULT_PROVIDER = {"name": "dealer"}
"""The provider :func:`run_memory` uses when none is given: ``dealer`` (an in-process dealer)
or ``ot``; test suites switch it to run every protocol test under both."""


def default_factory(parties: Sequence[int], job: str, budget: int | None) -> ProviderFactory:
    if DEFAULT_PROVIDER["name"] == "ot":
        from mpc_runtime.preprocessing.ot.provider import OTProvider

        return lambda p: OTProvider()
    return dealer_factory(parties, job, budget)


@dataclass
class PartyRun:
    """What one party ended with."""

    party: int
    result: Any
    outputs: dict[str, Any]
    ledger: Ledger
    error: BaseException | None = None


def memory_mesh(parties: Sequence[int]) -> dict[int, dict[int, Channel]]:
    """Channels for every ordered pair of parties, connected in memory (HELLO not yet sent)."""
    chans: dict[int, dict[int, Channel]] = {p: {} for p in parties}
    for i, a in enumerate(parties):
        for b in parties[i + 1 :]:
            la, lb = memory_link_pair()
            chans[a][b] = Channel(la, Identity.party(b), Identity.party(a), DEFAULT_MAX_FRAME)
            chans[b][a] = Channel(lb, Identity.party(a), Identity.party(b), DEFAULT_MAX_FRAME)
            chans[a][b].pair_seed = chans[b][a].pair_seed = os.urandom(16)  # as TLS HELLOs
    return chans


async def handshake_mesh(chans: Mapping[int, Mapping[int, Channel]], job: str) -> None:
    """Exchange HELLOs on every in-memory channel (as the TLS mesh does)."""
    hello = Message(MsgKind.HELLO, "", body=encode_hello(Hello("memory", job)))
    sends = []
    for _, peers in chans.items():
        for ch in peers.values():
            sends.append(ch.send(Message(MsgKind.HELLO, ch.me.label, body=hello.body)))
    await asyncio.gather(*sends)
    for _, peers in chans.items():
        for ch in peers.values():
            event = await ch.next_event()
            if not isinstance(event, HelloEvent):  # pragma: no cover - in-memory, cannot happen
                raise RuntimeError("in-memory handshake failed")


def dealer_factory(parties: Sequence[int], job: str, budget: int | None) -> ProviderFactory:
    state = DealerState(parties, DEFAULT_BUDGET if budget is None else budget)
    return lambda p: LocalDealer(state, job, p)


async def run_memory(
    n: int,
    program: Callable[[Context], Awaitable[Any]],
    *,
    inputs: Sequence[Mapping[str, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Sequence[str]] | None = None,
    declared: Sequence[InputDecl] = (),
    round_timeout: float = 5.0,
    job: str = "test-job",
    dealer_budget: int | None = None,
    provider: ProviderFactory | None = None,
    return_exceptions: bool = False,
    contribution: ContributionDecl | None = None,
    feeds: Sequence[ContributionFeed] | None = None,
    noise: Mapping[str, NoiseDecl] | None = None,
) -> list[PartyRun]:
    """Run ``program(ctx)`` on parties 1..n; outputs map an output name to recipient labels.

    ``provider(p)`` makes party p's preprocessing provider (default: :data:`DEFAULT_PROVIDER`).
    """
    parties = list(range(1, n + 1))
    chans = memory_mesh(parties)
    await handshake_mesh(chans, job)
    make = provider or default_factory(parties, job, dealer_budget)
    sessions = [
        Session(
            p,
            chans[p],
            job=job,
            round_timeout=round_timeout,
            provider=make(p),
            policy=RevealPolicy(
                {k: [Identity.from_label(x) for x in v] for k, v in (outputs or {}).items()},
                allow_open=True,
                noise=noise,
            ),
            inputs=(inputs[p - 1] if inputs else {}),
            params=params,
            declared=declared,
            feed=feeds[p - 1] if feeds is not None else None,
            contribution=contribution,
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
