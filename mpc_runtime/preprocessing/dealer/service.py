"""The dealer's request handler: a :class:`~mpc_runtime.wire.Material` operation in, a
:class:`~mpc_runtime.wire.MaterialReply` or :class:`~mpc_runtime.wire.MaterialError` out.

Used by the dealer process (``mpc dealer``) and, only when a deployment opts in explicitly, inside
the coordinator.  Large batches are generated in a worker thread so the event loop keeps
heartbeating and serving others.  The dealer sees the correlated randomness it makes, never an
input or a share of one.

May import: errors, wire (typed operations), preprocessing.*.
"""

from __future__ import annotations

import asyncio

from mpc_runtime.errors import MPCError, PreprocessingExhausted, RemoteProtocolError
from mpc_runtime.preprocessing.dealer.state import DEFAULT_BUDGET, DealerState
from mpc_runtime.preprocessing.requests import components_from_wire, material_elements
from mpc_runtime.wire import Material, MaterialError, MaterialReply

__all__ = ["THREAD_THRESHOLD", "DealerService"]

THREAD_THRESHOLD = 1 << 16
"""Requests with more elements than this are generated in a worker thread."""
MAX_PATH = 512


class DealerService:
    """Turns material requests into replies; one :class:`DealerState` for the cluster."""

    def __init__(self, parties: tuple[int, ...] | list[int], budget: int | None = None) -> None:
        self.state = DealerState(parties, budget if budget is not None else DEFAULT_BUDGET)
        self._lock = asyncio.Lock()
        self.requests = 0

    async def handle(self, job: str, party: int, req: Material) -> MaterialReply | MaterialError:
        """The reply to one request from ``party`` in ``job`` (never raises MPCError)."""
        label = f"party:{party}"
        try:
            if not req.path or len(req.path) > MAX_PATH:
                raise RemoteProtocolError("material request without a valid op path", peer=label)
            if not job:
                raise RemoteProtocolError("material request without a job id", peer=label)
            comps = components_from_wire(req.items, peer=label)
            self.requests += 1
            async with self._lock:  # one DealerState, consistent while a batch is made off-loop
                if material_elements(comps) > THREAD_THRESHOLD:
                    seed, corr = await asyncio.to_thread(
                        self.state.take, job, req.path, comps, party
                    )
                else:
                    seed, corr = self.state.take(job, req.path, comps, party)
        except MPCError as exc:
            code = (
                "PreprocessingExhausted"
                if isinstance(exc, PreprocessingExhausted)
                else ("RemoteProtocolError")
            )
            return MaterialError(req.rid, code, exc.message[:300])
        return MaterialReply(req.rid, seed, corr)
