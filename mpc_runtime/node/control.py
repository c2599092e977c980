"""Client side of the control protocol on one channel (to the coordinator or to the dealer).

Control messages are CONTROL frames whose body is a dict with ``svc`` (``job`` or ``dealer``)
and ``op``.  One reader task routes ``job`` events to a queue and ``dealer`` replies to the
request waiting on their ``rid``.  Every wait is bounded; losing the connection or an ``abort``
from the coordinator wakes every waiter with a typed error and calls ``on_abort`` so a running
session stops at once instead of waiting for its round timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from mpc_runtime.errors import (
    MPCError,
    PeerLostError,
    PreprocessingExhausted,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
)
from mpc_runtime.ids import Identity
from mpc_runtime.preprocessing.state import components_to_wire
from mpc_runtime.sharing.dealer import Component, Material, expand
from mpc_runtime.transport.channel import Channel
from mpc_runtime.wire import Message, MsgKind

log = logging.getLogger("mpc.control")

DEALER_TIMEOUT_MIN = 60.0
"""Generating a large batch takes time; a dealer reply may take at least this long."""


class ControlClient:
    """Requests and events over one control channel."""

    def __init__(
        self,
        ch: Channel,
        job: str,
        me: Identity,
        *,
        party_index: int = 0,
        timeout: float = 10.0,
    ) -> None:
        self.ch = ch
        self.job = job
        self.me = me
        self.party_index = party_index
        self.timeout = timeout
        self.events: asyncio.Queue[dict[str, Any] | MPCError] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._rid = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.failure: MPCError | None = None
        self.on_abort: Callable[[MPCError], Awaitable[None]] | None = None

    @property
    def peer(self) -> str:
        return self.ch.peer.label

    def start(self) -> None:
        self._task = asyncio.create_task(self._reader(), name=f"control-{self.peer}")

    async def send(self, body: dict[str, Any]) -> None:
        if self.failure is not None:
            raise self.failure
        msg = Message(MsgKind.CONTROL, sender=self.me.label, job=self.job, body=body)
        try:
            async with asyncio.timeout(self.timeout):
                await self.ch.send(msg)
        except TimeoutError:
            raise RoundTimeout(
                f"{self.peer} did not accept a control message", peer=self.peer
            ) from None

    async def next_event(self, timeout: float, waiting_for: str) -> dict[str, Any]:
        """The next ``job`` event from the coordinator; typed error on abort, loss or timeout."""
        try:
            async with asyncio.timeout(timeout):
                ev = await self.events.get()
        except TimeoutError:
            raise RoundTimeout(
                f"{self.peer} sent nothing while we waited for {waiting_for} ({timeout:g}s)",
                peer=self.peer,
            ) from None
        if isinstance(ev, MPCError):
            self.events.put_nowait(ev)  # later waiters see it too
            raise ev
        return ev

    async def fetch(self, path: str, components: list[Component]) -> tuple[list[Material], int]:
        """Dealer material for ``components`` at op path ``path`` (the runtime's dealer API)."""
        self._rid += 1
        rid = self._rid
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await self.send(
                {
                    "svc": "dealer",
                    "op": "material",
                    "rid": rid,
                    "path": path,
                    "components": components_to_wire(components),
                }
            )
            wait = max(self.timeout, DEALER_TIMEOUT_MIN)
            try:
                async with asyncio.timeout(wait):
                    reply = await fut
            except TimeoutError:
                raise PreprocessingExhausted(
                    f"the dealer sent no material within {wait:g}s", peer=self.peer, op_path=path
                ) from None
        finally:
            self._pending.pop(rid, None)
        if reply.get("op") == "error":
            code = str(reply.get("code", ""))
            reason = str(reply.get("reason", ""))[:300]
            if code == "PreprocessingExhausted":
                raise PreprocessingExhausted(f"dealer: {reason}", peer=self.peer, op_path=path)
            raise RemoteProtocolError(f"dealer refused: {reason}", peer=self.peer, op_path=path)
        seed = reply.get("seed")
        corrections = reply.get("corrections")
        if not isinstance(seed, bytes):
            raise RemoteProtocolError("dealer reply without a seed", peer=self.peer, op_path=path)
        if corrections is not None and not (
            isinstance(corrections, list)
            and all(
                isinstance(m, dict) and all(isinstance(a, np.ndarray) for a in m.values())
                for m in corrections
            )
        ):
            raise RemoteProtocolError("dealer reply with bad corrections", peer=self.peer)
        if (corrections is None) != (self.party_index != 0):
            raise RemoteProtocolError("dealer sent corrections to the wrong party", peer=self.peer)
        mats = expand(components, seed, self.party_index, corrections)
        nbytes = len(seed) + sum(int(a.nbytes) for m in corrections or [] for a in m.values())
        return mats, nbytes

    async def _fail(self, err: MPCError) -> None:
        if self.failure is None:
            self.failure = err
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.events.put_nowait(err)
        if self.on_abort is not None:
            cb, self.on_abort = self.on_abort, None
            await cb(err)

    async def _reader(self) -> None:
        try:
            while True:
                msg = await self.ch.receive()
                if msg is None:
                    if self._closing:
                        return
                    raise PeerLostError(f"{self.peer} was lost (connection closed)", peer=self.peer)
                if msg.kind is MsgKind.ABORT:
                    body = msg.body if isinstance(msg.body, dict) else {}
                    raise SessionAborted(
                        f"{self.peer} aborted: {str(body.get('reason', ''))[:300]}", peer=self.peer
                    )
                if msg.kind is MsgKind.BYE:
                    self._closing = True
                    continue
                if msg.kind is not MsgKind.CONTROL or not isinstance(msg.body, dict):
                    raise RemoteProtocolError(f"{self.peer} sent an unexpected {msg.kind.name}")
                body = msg.body
                svc, op = body.get("svc"), body.get("op")
                if svc == "dealer":
                    rid = body.get("rid")
                    fut = self._pending.get(rid) if isinstance(rid, int) else None
                    if fut is None:
                        raise RemoteProtocolError(f"{self.peer} answered a request nobody made")
                    if not fut.done():
                        fut.set_result(body)
                elif svc == "job" and op == "abort":
                    lost = body.get("lost")
                    err = SessionAborted(
                        f"{self.peer} aborted the job: {str(body.get('reason', ''))[:300]}",
                        peer=str(lost) if isinstance(lost, str) else self.peer,
                    )
                    await self._fail(err)
                    return
                elif svc == "job":
                    self.events.put_nowait(body)
                else:
                    raise RemoteProtocolError(f"{self.peer} sent an unknown control message")
        except MPCError as err:
            await self._fail(err)
        except asyncio.CancelledError:
            return

    async def aclose(self) -> None:
        self._closing = True
        await self.ch.send_quietly(Message(MsgKind.BYE, sender=self.me.label, job=self.job), 0.5)
        if self._task is not None:
            self._task.cancel()
        await self.ch.aclose()
