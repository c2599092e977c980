"""Byte links: the smallest interface a channel needs (send parts, receive chunks, close).

:class:`StreamLink` wraps an asyncio stream pair (TLS in production); :func:`memory_link_pair`
gives two connected in-memory links, like anyio's ``memory_stream_pair``, so the session and the
protocols are tested without sockets but with the real wire encoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from mpc_runtime.errors import PeerLostError

Buffer = bytes | bytearray | memoryview

READ_CHUNK = 1 << 20


class Link(Protocol):
    """A reliable, ordered byte pipe to one peer."""

    async def send(self, parts: Sequence[Buffer]) -> None: ...

    async def receive(self) -> bytes:
        """Next chunk of bytes; ``b""`` at end of stream."""
        ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


class StreamLink:
    """A link over an asyncio ``StreamReader``/``StreamWriter`` (usually TLS)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, parts: Sequence[Buffer]) -> None:
        if self._writer.is_closing():
            raise PeerLostError("connection is closed")
        try:
            self._writer.writelines(parts)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise PeerLostError(f"connection lost while sending: {type(exc).__name__}") from None

    async def receive(self) -> bytes:
        try:
            return await self._reader.read(READ_CHUNK)
        except (ConnectionError, OSError) as exc:
            raise PeerLostError(f"connection lost while receiving: {type(exc).__name__}") from None

    def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()

    async def wait_closed(self) -> None:
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        except (ConnectionError, OSError, TimeoutError, asyncio.CancelledError):
            pass

    def abort(self) -> None:
        """Drop the connection at once (no TLS close_notify)."""
        transport = self._writer.transport
        transport.abort()

    @property
    def peername(self) -> str:
        addr = self._writer.get_extra_info("peername")
        return f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)


class MemoryLink:
    """One end of an in-memory link; bytes are copied so buffers may be reused by the sender."""

    def __init__(self, inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False
        self.peer_end: MemoryLink | None = None

    async def send(self, parts: Sequence[Buffer]) -> None:
        if self._closed or (self.peer_end is not None and self.peer_end._closed):
            raise PeerLostError("in-memory link is closed")
        self._outbox.put_nowait(b"".join(bytes(p) for p in parts))
        await asyncio.sleep(0)

    async def receive(self) -> bytes:
        if self._closed:
            return b""
        return await self._inbox.get()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._outbox.put_nowait(b"")  # peer sees end of stream
            self._inbox.put_nowait(b"")  # wake our own pending receive

    async def wait_closed(self) -> None:
        return None


def memory_link_pair() -> tuple[MemoryLink, MemoryLink]:
    """Two connected in-memory links."""
    a_to_b: asyncio.Queue[bytes] = asyncio.Queue()
    b_to_a: asyncio.Queue[bytes] = asyncio.Queue()
    a = MemoryLink(inbox=b_to_a, outbox=a_to_b)
    b = MemoryLink(inbox=a_to_b, outbox=b_to_a)
    a.peer_end, b.peer_end = b, a
    return a, b
