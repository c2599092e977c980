"""A participant's connection to a service (the coordinator or the dealer), read by one task.

The reader ``match`` es on typed events: job operations (accept, refuse, start, finished) go to a
queue the process waits on with a deadline; dealer replies go to the
:class:`~mpc_runtime.preprocessing.dealer.client.DealerClient`; an ABORT, a lost connection or a
frozen service (no heartbeat for the round timeout) wakes every waiter with a typed error naming
the culprit and calls ``on_failure`` so a running session stops at once.  Heartbeats keep the
service informed that we are alive.

May import: asyncio, errors, ids, deadline, wire, transport, preprocessing.dealer.client,
runtime.session (abort helpers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import MPCError, PeerLostError, RemoteProtocolError, RoundTimeout
from mpc_runtime.preprocessing.dealer.client import DealerClient
from mpc_runtime.runtime.session import aborted_by
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.wire import (
    Abort,
    Accept,
    Batch,
    Bye,
    Close,
    Control,
    ControlOp,
    EndOfStream,
    Finished,
    MaterialError,
    MaterialReply,
    PeerAbort,
    Refuse,
    Start,
)

__all__ = ["ServiceLink"]

log = logging.getLogger("mpc.control")

JobEvent = Accept | Refuse | Start | Finished
T = TypeVar("T")

EXPLAIN_WAIT = 0.5
"""How long a failed send waits for the reader to deliver the ABORT that explains it."""


class Sink(Protocol):
    """Where relayed contributions go (a party's :class:`~mpc_runtime.node.feed.PartyFeed`)."""

    def on_op(self, op: ControlOp) -> None: ...

    def fail(self, err: MPCError) -> None: ...


class ServiceLink:
    """Control operations to and from one service over one channel."""

    def __init__(self, ch: Channel, job: str, *, round_timeout: float) -> None:
        self.ch = ch
        self.job = job
        self.round_timeout = round_timeout
        self.events: asyncio.Queue[JobEvent | MPCError] = asyncio.Queue()
        self.dealer: DealerClient | None = None
        self.contributions: Sink | None = None
        self.failure: MPCError | None = None
        self.on_failure: Callable[[MPCError], Awaitable[None]] | None = None
        self._closing = False
        self.failed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._liveness = Liveness(lambda: [] if self._closing else [self.ch], round_timeout)

    @property
    def peer(self) -> str:
        return self.ch.peer.label

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._reader(), name=f"control-{self.peer}"))
        self._tasks.append(asyncio.create_task(self._liveness.run(self._fail)))

    def dealer_client(self, party_index: int) -> DealerClient:
        """The dealer provider whose requests go over this link."""
        self.dealer = DealerClient(
            self.send, party_index=party_index, peer=self.peer, timeout=self.round_timeout
        )
        if self.failure is not None:
            self.dealer.fail(self.failure)
        return self.dealer

    async def send(self, op: ControlOp) -> None:
        if self.failure is not None:
            raise self.failure
        try:
            async with asyncio.timeout(self.round_timeout):
                await self.ch.send_op(self.job, op)
        except TimeoutError:
            raise RoundTimeout(
                f"{self.peer} did not accept a control message", peer=self.peer, culprit=self.peer
            ) from None
        except PeerLostError as err:
            raise await self._explain(err) from None

    async def _explain(self, err: MPCError) -> MPCError:
        """A send found the connection closed: if the service said why (an ABORT still being
        read), that reason names the culprit, not the closed connection."""
        try:
            async with asyncio.timeout(EXPLAIN_WAIT):
                while self.failure is None and not self._reader_done():
                    await asyncio.sleep(0.01)
        except TimeoutError:
            pass
        return self.failure or err

    async def guard(self, work: Awaitable[T]) -> T:
        """Run ``work`` (a connection step) unless this link fails first: then its failure."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self.failed.wait())
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise self.failure or MPCError("the connection step was interrupted")
        return task.result()

    def _reader_done(self) -> bool:
        return bool(self._tasks) and self._tasks[0].done()

    async def abort(self, abort: Abort) -> None:
        """Tell the service we stop, and why (best effort, bounded)."""
        await self.ch.abort_quietly(self.job, abort)

    async def next_event(self, deadline: Deadline, waiting_for: str) -> JobEvent:
        """The next job operation from the service; a typed error on abort, loss or deadline."""
        try:
            async with deadline.scope():
                ev = await self.events.get()
        except TimeoutError:
            raise RoundTimeout(
                f"{self.peer} sent nothing while we waited for {waiting_for}",
                peer=self.peer,
                culprit=self.peer,
            ) from None
        if isinstance(ev, MPCError):
            self.events.put_nowait(ev)  # later waiters see it too
            raise ev
        return ev

    async def _fail(self, err: MPCError) -> None:
        if self.failure is not None:
            return
        self.failure = err
        self.failed.set()
        if self.dealer is not None:
            self.dealer.fail(err)
        if self.contributions is not None:
            self.contributions.fail(err)
        self.events.put_nowait(err)
        if self.on_failure is not None:
            cb, self.on_failure = self.on_failure, None
            await cb(err)

    async def _reader(self) -> None:
        try:
            while True:
                match await self.ch.next_event():
                    case Control(op=Accept() | Refuse() | Start() | Finished() as op):
                        self.events.put_nowait(op)
                    case Control(op=MaterialReply() | MaterialError() as reply):
                        if self.dealer is None:
                            raise RemoteProtocolError(
                                f"{self.peer} sent material nobody asked for", peer=self.peer
                            )
                        self.dealer.on_reply(reply)
                        del reply  # the client holds it now
                    case Control(op=Batch() | Close() as op):
                        if self.contributions is None:
                            raise RemoteProtocolError(
                                f"{self.peer} relayed contributions to a job that takes none",
                                peer=self.peer,
                            )
                        self.contributions.on_op(op)
                    case PeerAbort(abort=abort):
                        await self._fail(aborted_by(self.peer, abort))
                        return
                    case Bye():
                        self._closing = True
                    case EndOfStream():
                        if self._closing:
                            return
                        raise PeerLostError(
                            f"{self.peer} was lost (connection closed)",
                            peer=self.peer,
                            culprit=self.peer,
                        )
                    case _:
                        raise RemoteProtocolError(
                            f"{self.peer} sent an unexpected message", peer=self.peer
                        )
        except MPCError as err:
            await self._fail(err)
        except asyncio.CancelledError:
            return

    async def aclose(self) -> None:
        self._closing = True
        await self.ch.bye_quietly(self.job)
        for t in self._tasks:
            t.cancel()
        await self.ch.aclose()
