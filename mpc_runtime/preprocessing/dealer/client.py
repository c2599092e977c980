"""A party's dealer provider over a control connection to a remote dealer.

Each request is a :class:`~mpc_runtime.wire.Material` operation with a request id; the process
owning the connection routes the dealer's :class:`~mpc_runtime.wire.MaterialReply` /
:class:`~mpc_runtime.wire.MaterialError` back with :meth:`DealerClient.on_reply`, and a lost
connection with :meth:`DealerClient.fail`.  Every wait is bounded by the round timeout: the dealer
must answer a request within it (it generates large batches off its event loop and keeps
heartbeating meanwhile).

May import: numpy, errors, wire (typed operations only), preprocessing.*.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from mpc_runtime.errors import (
    MPCError,
    PreprocessingExhausted,
    RemoteProtocolError,
    RoundTimeout,
)
from mpc_runtime.preprocessing.dealer.algebra import correction_nbytes, expand
from mpc_runtime.preprocessing.provider import Exchanger, Fetched
from mpc_runtime.preprocessing.requests import Component, Material, components_to_wire
from mpc_runtime.wire import ControlOp, MaterialError, MaterialReply
from mpc_runtime.wire import Material as MaterialOp

__all__ = ["DealerClient"]


class DealerClient:
    """The dealer provider of one party; ``send`` writes a control operation to the dealer."""

    name = "dealer"

    def __init__(
        self,
        send: Callable[[ControlOp], Awaitable[None]],
        *,
        party_index: int,
        peer: str,
        timeout: float,
    ) -> None:
        self._send = send
        self.party_index = party_index
        self.peer = peer
        self.timeout = timeout
        self._rid = 0
        self._pending: dict[int, asyncio.Future[MaterialReply | MaterialError]] = {}
        self.failure: MPCError | None = None

    def on_reply(self, op: MaterialReply | MaterialError) -> None:
        fut = self._pending.get(op.rid)
        if fut is None:
            raise RemoteProtocolError(f"{self.peer} answered a request nobody made", peer=self.peer)
        if not fut.done():
            fut.set_result(op)

    def fail(self, err: MPCError) -> None:
        """Wake every pending request with ``err``; later requests fail at once."""
        if self.failure is None:
            self.failure = err
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)

    async def fetch(self, ex: Exchanger, path: str, components: Sequence[Component]) -> Fetched:
        if self.failure is not None:
            raise self.failure
        self._rid += 1
        rid = self._rid
        fut: asyncio.Future[MaterialReply | MaterialError] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[rid] = fut
        try:
            await self._send(MaterialOp(rid, path, components_to_wire(components)))
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await fut
            except TimeoutError:
                raise RoundTimeout(
                    f"{self.peer} sent no material within the round timeout of {self.timeout:g}s",
                    peer=self.peer,
                    culprit=self.peer,
                    op_path=path,
                ) from None
        finally:
            self._pending.pop(rid, None)
        if isinstance(reply, MaterialError):
            cls = PreprocessingExhausted if reply.code == "PreprocessingExhausted" else None
            if cls is not None:
                raise cls(f"dealer: {reply.reason}", peer=self.peer, op_path=path)
            raise RemoteProtocolError(
                f"{self.peer} refused the request: {reply.reason}", peer=self.peer, op_path=path
            )
        return self._expand(components, reply, path)

    def _expand(self, components: Sequence[Component], reply: MaterialReply, path: str) -> Fetched:
        corrections = reply.corrections
        if corrections is not None and not all(
            isinstance(m, dict) and all(isinstance(a, np.ndarray) for a in m.values())
            for m in corrections
        ):
            raise RemoteProtocolError(f"{self.peer} sent bad corrections", peer=self.peer)
        if (corrections is None) != (self.party_index != 0):
            raise RemoteProtocolError(
                f"{self.peer} sent corrections to the wrong party", peer=self.peer, op_path=path
            )
        corr: list[Material] | None = corrections
        mats = expand(components, reply.seed, self.party_index, corr, peer=self.peer)
        return Fetched(mats, len(reply.seed) + correction_nbytes(corr), 1)
