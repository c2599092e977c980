"""A pipelined round driver: chunks of a batch go through the same S message stages.

A preprocessing batch is split into C chunks (bounded memory); each chunk runs a job with S
stages, every stage sending at most one payload to each peer.  Chunk c runs stage s in round
``c + s``, so one ``exchange`` carries stage s of chunk c and stage s+1 of chunk c-1 side by side:
**C + S - 1 rounds** in all instead of C * S, while at most S chunks are alive at a time.

Each round's message to a peer is a dict ``{str(stage): payload or None}`` holding exactly the
stages active in that round (public: it depends only on C, S and the round).  A peer whose
message has other keys, or is not a dict, is named in a RemoteProtocolError; the jobs check the
payloads themselves.

May import: :mod:`mpc_runtime.errors` and ``.exchange``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .exchange import Exchanger, check_fields

__all__ = ["ChunkJob", "run_pipeline"]


class ChunkJob(Protocol):
    """One chunk's stages.  ``step(0, {})`` starts it; ``finish`` gets the last stage's replies."""

    def step(self, stage: int, received: dict[int, Any]) -> dict[int, Any]: ...

    def finish(self, received: dict[int, Any]) -> None: ...


async def run_pipeline(
    ex: Exchanger,
    peers: tuple[int, ...],
    make_job: Callable[[int], ChunkJob],
    chunks: int,
    stages: int,
) -> None:
    """Run ``make_job(c)`` for c < ``chunks`` through ``stages`` stages in C + S - 1 rounds.

    ``received`` handed to a job maps every peer to what it sent for the previous stage of the
    same chunk (None when it sent nothing).
    """
    jobs: dict[int, ChunkJob] = {}
    inbox: dict[int, dict[int, Any]] = {}
    for rnd in range(chunks + stages - 1):
        active = [s for s in range(stages) if 0 <= rnd - s < chunks]
        outgoing: dict[int, dict[str, Any]] = {p: {} for p in peers}
        for s in active:
            c = rnd - s
            if s == 0:
                jobs[c] = make_job(c)
            msgs = jobs[c].step(s, inbox.pop(c, {}))
            for p in peers:
                outgoing[p][str(s)] = msgs.get(p)
        got = await ex.exchange(outgoing)
        keys = [str(s) for s in active]
        msgs_in = {p: check_fields(got.get(p), keys, p, "a pipeline message") for p in peers}
        for s in active:
            c = rnd - s
            received = {p: msgs_in[p][str(s)] for p in peers}
            if s == stages - 1:
                jobs.pop(c).finish(received)
            else:
                inbox[c] = received
