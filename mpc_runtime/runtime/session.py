"""A session: one party's view of a running job over a mesh of authenticated channels.

The session runs one reader task per peer under a TaskGroup; readers route DATA messages into the
:class:`~mpc_runtime.runtime.mailbox.Mailbox` by (op path, round, sender).  Protocol code talks to
a :class:`~mpc_runtime.runtime.context.Context`; every wait on a peer is bounded by the round
timeout.  When anything fails, the session tells every peer it is aborting (ABORT with the reason,
the lost peer and the op) and closes, so the whole mesh stops within the round timeout instead of
hanging; the ExceptionGroup of the TaskGroup becomes one MPCError whose ``__cause__`` is the group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from mpc_runtime.errors import (
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    SessionAborted,
)
from mpc_runtime.ids import Identity, OpPath
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.mailbox import Mailbox
from mpc_runtime.transport.channel import Channel
from mpc_runtime.wire import Message, MsgKind

log = logging.getLogger("mpc.session")

T = TypeVar("T")


def first_mpc_error(exc: BaseException) -> MPCError | None:
    """The first MPCError inside an exception (group), depth first."""
    if isinstance(exc, MPCError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = first_mpc_error(sub)
            if found is not None:
                return found
    return None


class Session:
    """One party's side of a job: channels to every peer, a mailbox, a ledger."""

    def __init__(
        self,
        me: int,
        channels: Mapping[int, Channel],
        *,
        job: str,
        round_timeout: float,
        ledger: Ledger | None = None,
        dealer: Any = None,
        revealer: Any = None,
        inputs: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        on_abort: Callable[[MPCError], Awaitable[None]] | None = None,
    ) -> None:
        self.me = me
        self.identity = Identity.party(me)
        self.channels = dict(channels)
        self.parties: tuple[int, ...] = tuple(sorted({me, *self.channels}))
        self.job = job
        self.round_timeout = round_timeout
        self.ledger = ledger if ledger is not None else Ledger()
        self.dealer = dealer
        self.revealer = revealer
        self.inputs: dict[str, Any] = dict(inputs or {})
        self.params: dict[str, Any] = dict(params or {})
        self.mailbox = Mailbox()
        self.outputs: dict[str, Any] = {}
        self._on_abort = on_abort
        self._bye: set[int] = set()
        self._bye_event = asyncio.Event()
        self._closing = False
        self._aborted_by_peer: SessionAborted | None = None

    # ---- public ----------------------------------------------------------------------------
    def context(self) -> Any:
        from mpc_runtime.runtime.context import Context

        return Context(self, OpPath(("main",)))

    async def run(self, program: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``program(ctx)`` with readers on every channel; close cleanly or abort everyone."""
        result: T
        try:
            async with asyncio.TaskGroup() as tg:
                readers = [
                    tg.create_task(self._reader(pid, ch)) for pid, ch in self.channels.items()
                ]
                try:
                    result = await program(self.context())
                    await self._goodbye()
                finally:
                    self._closing = True
                    for r in readers:
                        r.cancel()
        except BaseException as exc:  # noqa: BLE001 - mapped to one MPCError below
            err = first_mpc_error(exc)
            if err is None:
                await self.abort(MPCError(f"party {self.me} failed: {type(exc).__name__}"))
                raise
            await self.abort(err)
            if err is exc:
                raise
            raise err from exc
        return result

    async def abort(self, err: MPCError) -> None:
        """Tell every peer why we stop (best effort, bounded), then close every channel."""
        self._closing = True
        self.mailbox.fail_all(err)
        body = {
            "code": type(err).__name__,
            "reason": err.message[:300],
            "lost": str(err.peer) if err.peer is not None else None,
            "op": err.op_path,
            "round": err.round,
        }
        if isinstance(err, SessionAborted):
            body["code"] = "relay"  # do not echo an abort back and forth
        sends = []
        for pid, ch in self.channels.items():
            if isinstance(err, SessionAborted) and err.peer == Identity.party(pid).label:
                continue
            msg = Message(MsgKind.ABORT, sender=self.identity.label, job=self.job, body=body)
            sends.append(ch.send_quietly(msg, 0.5))
        if sends:
            await asyncio.gather(*sends)
        for ch in self.channels.values():
            ch.close()
        if self._on_abort is not None:
            try:
                async with asyncio.timeout(1.0):
                    await self._on_abort(err)
            except (MPCError, TimeoutError, OSError):
                pass

    # ---- internals -------------------------------------------------------------------------
    async def _goodbye(self) -> None:
        """Say BYE to everyone and wait (bounded) for everyone's BYE, then close."""
        msg = Message(MsgKind.BYE, sender=self.identity.label, job=self.job)
        await asyncio.gather(*(ch.send_quietly(msg, 0.5) for ch in self.channels.values()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.round_timeout
        while len(self._bye) < len(self.channels):
            failure = self.mailbox.failure
            if failure is not None:
                raise failure
            remaining = deadline - loop.time()
            if remaining <= 0:
                missing = sorted(set(self.channels) - self._bye)
                log.warning("parties %s did not say goodbye in time", missing)
                break
            self._bye_event.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._bye_event.wait()
            except TimeoutError:
                pass
        if self.mailbox.unclaimed():
            raise RemoteProtocolError(
                f"peers sent {self.mailbox.unclaimed()} messages the program never asked for"
            )
        for ch in self.channels.values():
            ch.close()

    async def _reader(self, pid: int, ch: Channel) -> None:
        label = ch.peer.label
        seen = ch.bytes_received
        try:
            while True:
                msg = await ch.receive()
                size, seen = ch.bytes_received - seen, ch.bytes_received
                if msg is None:
                    if pid in self._bye or self._closing:
                        return
                    raise PeerLostError(f"{label} was lost (connection closed)", peer=label)
                if msg.kind is MsgKind.DATA:
                    if msg.job != self.job:
                        raise RemoteProtocolError(
                            f"{label} sent a message for another job", peer=label
                        )
                    if pid in self._bye:
                        raise RemoteProtocolError(
                            f"{label} sent data after saying goodbye", peer=label
                        )
                    self.mailbox.put(msg, size)
                elif msg.kind is MsgKind.BYE:
                    self._bye.add(pid)
                    self._bye_event.set()
                elif msg.kind is MsgKind.ABORT:
                    raise _abort_from(label, msg.body)
                else:
                    raise RemoteProtocolError(
                        f"{label} sent an unexpected {msg.kind.name}", peer=label
                    )
        except MPCError as err:
            if self._closing and isinstance(err, PeerLostError):
                return
            if not isinstance(err, SessionAborted):
                log.error("party %s: %s", self.me, err)
            self.mailbox.fail_peer(label, err)
            self.mailbox.fail_all(err)
            self._bye_event.set()
        except asyncio.CancelledError:
            return


def _abort_from(label: str, body: Any) -> SessionAborted:
    if not isinstance(body, dict):
        return SessionAborted(f"{label} aborted the session", peer=label)
    reason = str(body.get("reason", ""))[:300]
    op = body.get("op")
    rnd = body.get("round")
    err = SessionAborted(
        f"{label} aborted the session: {reason}",
        peer=label,
        op_path=op if isinstance(op, str) else None,
        round=rnd if isinstance(rnd, int) else None,
    )
    lost = body.get("lost")
    err.lost = lost if isinstance(lost, str) else None  # type: ignore[attr-defined]
    return err
