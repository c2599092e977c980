"""A channel: one authenticated peer, a byte link and a sans-IO wire connection.

Sending encodes a :class:`~mpc_runtime.wire.Message` into frame parts and writes them; receiving
asks the link to fill the wire connection (a :class:`~.link.ProtocolLink` reads straight into
its frame buffers) until a whole message is ready.  Every message from
the peer must carry the sender identity its certificate proved, or it is refused.
"""

from __future__ import annotations

import asyncio

from mpc_runtime.errors import DecodeError, MPCError, PeerLostError, RemoteProtocolError
from mpc_runtime.ids import Identity
from mpc_runtime.transport.link import Link
from mpc_runtime.wire import DEFAULT_MAX_FRAME, Message, MsgKind, WireConnection


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
        self._eof = False
        self.latency = 0.0
        """Seconds to hold each DATA message before sending (simulated network latency)."""

    @property
    def bytes_sent(self) -> int:
        return self.wire.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self.wire.bytes_received

    async def send(self, msg: Message) -> int:
        """Send one message; returns the number of frame bytes written."""
        before = self.wire.bytes_sent
        parts = self.wire.send(msg)
        if self.latency and msg.kind is MsgKind.DATA:
            await asyncio.sleep(self.latency)
        try:
            await self.link.send(parts)
        except PeerLostError as exc:  # the link does not know who is on the other end
            raise PeerLostError(
                f"{self.peer.label} was lost ({exc.message})", peer=self.peer.label
            ) from None
        return self.wire.bytes_sent - before

    async def send_quietly(self, msg: Message, timeout: float = 1.0) -> bool:
        """Best-effort send bounded by ``timeout`` (an ABORT or BYE to a peer that may be gone);
        True if it was written, False if the peer was lost, slow or refused."""
        try:
            async with asyncio.timeout(timeout):
                await self.send(msg)
        except (MPCError, TimeoutError, OSError):
            return False
        return True

    async def receive(self) -> Message | None:
        """The next message, or None at a clean end of stream (the caller decides if it was).

        Raises DecodeError for bad bytes, RemoteProtocolError for a wrong sender.
        """
        while True:
            try:
                msg = self.wire.next_message()
            except DecodeError as exc:  # the wire layer does not know who sent the bytes
                raise type(exc)(exc.message, peer=self.peer.label) from None
            if msg is not None:
                if msg.sender != self.peer.label:
                    claimed = _claimed_label(msg.sender)
                    err = RemoteProtocolError(
                        f"{self.peer.label} sent a message claiming to be from {claimed}",
                        peer=self.peer.label,
                    )
                    err.claimed = claimed  # type: ignore[attr-defined]
                    raise err
                return msg
            if self._eof:
                return None
            try:
                more = await self.link.fill(self.wire)
            except PeerLostError:
                more = False
                self.wire.receive_eof()
            if not more:
                self._eof = True

    def close(self) -> None:
        self.link.close()

    async def aclose(self) -> None:
        self.link.close()
        await self.link.wait_closed()

    def __repr__(self) -> str:
        return f"Channel(peer={self.peer.label})"


def _claimed_label(sender: str) -> str:
    """The identity a peer claimed, if it is a well-formed one (the text is the peer's)."""
    try:
        return Identity.from_label(sender).label
    except ValueError:
        return "an invalid identity"
