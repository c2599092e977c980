"""A channel: one authenticated peer, a byte link and its sans-IO wire connection.

Sending encodes a :class:`~mpc_runtime.wire.Message` and writes its frame; receiving asks the link
to fill the wire connection (a :class:`~.link.ProtocolLink` reads straight into its frame buffers)
until the connection hands out a typed :class:`~mpc_runtime.wire.Event`.  The wire connection
enforces the order of messages and that every one carries the sender identity the certificate
proved.  ``last_heard`` (when bytes last arrived) and ``last_sent`` drive heartbeats and the
detection of frozen peers (:mod:`.liveness`).
"""

from __future__ import annotations

import asyncio
import time

from mpc_runtime.errors import MPCError, PeerLostError
from mpc_runtime.ids import Identity
from mpc_runtime.transport.link import Link
from mpc_runtime.wire import (
    DEFAULT_MAX_FRAME,
    Abort,
    ControlOp,
    EndOfStream,
    Event,
    Hello,
    Message,
    MsgKind,
    WireConnection,
    encode_op,
)
from mpc_runtime.wire.control import encode_abort, encode_hello

__all__ = ["Channel"]


class Channel:
    """Messages to and from one authenticated peer."""

    def __init__(
        self,
        link: Link,
        peer: Identity,
        me: Identity,
        max_frame_bytes: int = DEFAULT_MAX_FRAME,
        *,
        wire: WireConnection | None = None,
    ) -> None:
        """``wire``: the connection the link already fills (a ProtocolLink's), else a new one."""
        self.link = link
        self.peer = peer
        self.me = me
        self.wire = wire if wire is not None else WireConnection(max_frame_bytes)
        self.wire.peer = peer.label
        self.last_sent = time.monotonic()
        self._end: EndOfStream | None = None
        self.pair_seed: bytes | None = None
        """The seed only this pair of participants knows (set by the handshake), or None."""

    @property
    def bytes_sent(self) -> int:
        return self.wire.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self.wire.bytes_received

    @property
    def last_heard(self) -> float:
        """``time.monotonic()`` when bytes from the peer last arrived."""
        return self.link.last_received

    # ---- sending ----------------------------------------------------------------------------
    async def send(self, msg: Message) -> int:
        """Send one message; returns the number of frame bytes written."""
        before = self.wire.bytes_sent
        parts = self.wire.send(msg)
        try:
            await self.link.send(parts)
        except PeerLostError as exc:  # the link does not know who is on the other end
            raise PeerLostError(
                f"{self.peer.label} was lost ({exc.message})",
                peer=self.peer.label,
                culprit=self.peer.label,
            ) from None
        self.last_sent = time.monotonic()
        return self.wire.bytes_sent - before

    async def send_many(self, msgs: list[Message]) -> int:
        """Send several messages with one write (small replies to pipelined requests)."""
        before = self.wire.bytes_sent
        parts = [part for msg in msgs for part in self.wire.send(msg)]
        try:
            await self.link.send(parts)
        except PeerLostError as exc:
            raise PeerLostError(
                f"{self.peer.label} was lost ({exc.message})",
                peer=self.peer.label,
                culprit=self.peer.label,
            ) from None
        self.last_sent = time.monotonic()
        return self.wire.bytes_sent - before

    def op_message(self, job: str, op: ControlOp) -> Message:
        return Message(MsgKind.CONTROL, self.me.label, job, body=encode_op(op))

    async def send_op(self, job: str, op: ControlOp) -> int:
        """Send one CONTROL operation."""
        return await self.send(self.op_message(job, op))

    async def send_hello(self, hello: Hello) -> int:
        return await self.send(Message(MsgKind.HELLO, self.me.label, body=encode_hello(hello)))

    def abort_message(self, job: str, abort: Abort) -> Message:
        return Message(MsgKind.ABORT, self.me.label, job, body=encode_abort(abort))

    async def send_quietly(self, msg: Message, timeout: float = 1.0) -> bool:
        """Best-effort send bounded by ``timeout`` (an ABORT, BYE or PING to a peer that may be
        gone); True if it was written, False if the peer was lost, slow or refused."""
        try:
            async with asyncio.timeout(timeout):
                await self.send(msg)
        except (MPCError, TimeoutError, OSError):
            return False
        return True

    async def abort_quietly(self, job: str, abort: Abort, timeout: float = 1.0) -> bool:
        return await self.send_quietly(self.abort_message(job, abort), timeout)

    async def bye_quietly(self, job: str = "", timeout: float = 0.5) -> bool:
        return await self.send_quietly(Message(MsgKind.BYE, self.me.label, job), timeout)

    async def ping(self, timeout: float = 1.0) -> bool:
        """A heartbeat (skipped while the connection is closing)."""
        if self.wire.our_state.value not in ("handshake", "open"):
            return False
        return await self.send_quietly(Message(MsgKind.PING, self.me.label), timeout)

    # ---- receiving --------------------------------------------------------------------------
    def ready_event(self) -> Event | None:
        """The next event if one is already here (never waits), else None."""
        if self._end is not None:
            return self._end
        event = self.wire.next_event()
        if isinstance(event, EndOfStream):
            self._end = event
        return event

    async def next_event(self) -> Event:
        """The next typed event.  After :class:`EndOfStream` every call returns it again.

        Raises DecodeError for bad bytes and RemoteProtocolError for a message out of order or
        from a sender that is not the certified peer.
        """
        while True:
            if self._end is not None:
                return self._end  # the first end of stream, again (clean or not)
            event = self.wire.next_event()
            if event is not None:
                if isinstance(event, EndOfStream):
                    self._end = event
                return event
            try:
                await self.link.fill(self.wire)
            except PeerLostError:
                self.wire.receive_eof()

    def close(self) -> None:
        self.link.close()

    async def aclose(self) -> None:
        self.link.close()
        await self.link.wait_closed()

    def __repr__(self) -> str:
        return f"Channel(peer={self.peer.label})"
