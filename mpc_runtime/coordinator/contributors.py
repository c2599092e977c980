"""The coordinator's contributor port: TLS connections from contributors, answered one by one.

A contributor connects over TLS 1.3 (a client certificate is optional: token holders present
none and are ``contributor:anonymous``), exchanges HELLO, then sends one or more
:class:`~mpc_runtime.wire.Contribute` operations; each gets a
:class:`~mpc_runtime.wire.Receipt`.  Contributors never join the job and never fail it: a
contributor that misbehaves (bad bytes, wrong order, silence for ``IDLE_SECONDS``) loses only its
own connection.  A connection that ends in the middle of a frame is counted as a contribution
dropped mid-upload.  At most ``MAX_CONNECTIONS`` contributors are served at once; more are told
the coordinator is busy.

May import: asyncio, config, errors, ids, transport, wire, coordinator.desk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.desk import ContributionDesk
from mpc_runtime.errors import MPCError
from mpc_runtime.ids import Identity, Role
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener, cluster_check
from mpc_runtime.transport.mesh import tls_files
from mpc_runtime.wire import (
    Abort,
    Bye,
    Contribute,
    Control,
    EndOfStream,
    Event,
    Hello,
    Message,
    Receipt,
)

__all__ = ["IDLE_SECONDS", "MAX_CONNECTIONS", "ContributorPort"]

log = logging.getLogger("mpc.coordinator")

IDLE_SECONDS = 30.0
"""A contributor connection that sends nothing for this long is closed."""
MAX_CONNECTIONS = 2048
"""Contributor connections served at once."""
MAX_COALESCED = 64
"""Receipts sent in one write, at most."""
ANONYMOUS = Identity(Role.CONTRIBUTOR, "anonymous")


class ContributorPort:
    """Accepts contributors and hands their contributions to a :class:`ContributionDesk`."""

    def __init__(
        self,
        cfg: ClusterConfig,
        job: str,
        desk: ContributionDesk,
        *,
        fail: Callable[[MPCError], None],
    ) -> None:
        self.cfg, self.job, self.desk = cfg, job, desk
        self._fail = fail
        me = Identity.coordinator()
        ep = cfg.coordinator.contributors
        self.listener = Listener(
            ep.listen_host,
            ep.port,
            ctx=tls_files(cfg, me).server(client_cert_optional=True),
            me=me,
            hello=Hello(cfg.name),
            admit=lambda peer: peer.role is Role.CONTRIBUTOR,
            max_frame_bytes=cfg.limits.max_frame_bytes,
            handshake_timeout=cfg.timeouts.round,
            check=cluster_check(cfg.name),
            anonymous=ANONYMOUS,
        )
        self.where = f"{ep.listen_host}:{ep.port}"
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.listener.start()

    async def run(self) -> None:
        """Serve contributors until cancelled."""
        while True:
            ch = await self.listener.next_channel()
            if len(self._tasks) >= MAX_CONNECTIONS:
                await ch.abort_quietly(self.job, Abort("busy", "too many contributors at once"))
                ch.close()
                continue
            task = asyncio.create_task(self._serve(ch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await self.listener.aclose()

    async def _receipt(self, ch: Channel, op: Contribute) -> Receipt:
        try:
            return await self.desk.submit(ch.peer, op)
        except MPCError as err:  # a compute party could not take it: the job fails, not them
            self._fail(err)
            return Receipt(op.cid, False, "failed", "the job failed; see the coordinator")

    async def _handle(self, ch: Channel, event: Event, replies: list[Message]) -> bool:
        """Handle one event; False when the connection is done."""
        match event:
            case Control(op=Contribute() as op):
                replies.append(ch.op_message(self.job, await self._receipt(ch, op)))
                return True
            case Bye():
                return True
            case EndOfStream(detail=detail):
                if "middle" in detail:
                    self.desk.totals.dropped += 1
                return False
            case _:
                log.info("a contributor sent an unexpected message; closing it")
                return False

    async def _serve(self, ch: Channel) -> None:
        """Answer contributions in order; receipts for contributions that arrived together
        (pipelined) go out in one write."""
        pending: Event | None = None
        try:
            while True:
                if pending is None:
                    async with asyncio.timeout(IDLE_SECONDS):
                        pending = await ch.next_event()
                replies: list[Message] = []
                going = True
                while pending is not None and going and len(replies) < MAX_COALESCED:
                    going = await self._handle(ch, pending, replies)
                    pending = ch.ready_event() if going else None
                if replies:
                    async with asyncio.timeout(self.cfg.timeouts.round):
                        await ch.send_many(replies)
                if not going:
                    return
        except (MPCError, TimeoutError, OSError) as exc:
            log.info("contributor connection closed: %s", type(exc).__name__)
        finally:
            ch.close()
