"""A sans-IO message connection: bytes in, :class:`Message` out, and back (like h11).

:class:`WireConnection` never touches a socket: the transport feeds it what it read with
:meth:`~WireConnection.receive_data` / :meth:`~WireConnection.receive_eof`, pulls messages with
:meth:`~WireConnection.next_message`, and writes what :meth:`~WireConnection.send` returns.

May import: the standard library (no asyncio, ssl, socket), :mod:`mpc_runtime.errors` and the
other modules of this package.
"""

from __future__ import annotations

from mpc_runtime.errors import DecodeError

from .frames import (
    HEADER_BYTES,
    BytesPart,
    FrameDecoder,
    OutgoingFrameTooLarge,
    encode_frame_parts,
    part_nbytes,
)
from .messages import Message, message_from_body, to_body

__all__ = ["WireConnection"]


class WireConnection:
    """One direction-pair of a peer link, as a state machine.

    ``bytes_sent`` / ``bytes_received`` count whole frames, headers included.  Once a received
    frame fails to decode the connection is broken: :meth:`next_message` raises the same
    :class:`DecodeError` again on every call.
    """

    def __init__(self, max_frame_bytes: int) -> None:
        self._decoder = FrameDecoder(max_frame_bytes)
        self.max_frame_bytes = max_frame_bytes
        self.bytes_sent = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.messages_received = 0
        self._error: DecodeError | None = None

    def send(self, msg: Message) -> list[BytesPart]:
        """Return the buffers of ``msg``'s frame (for ``writer.writelines``) and count them.

        Raises :class:`LocalProtocolError` for an unsendable message, and
        :class:`~.frames.OutgoingFrameTooLarge` (a LocalProtocolError and a FrameTooLarge) if the
        frame body would exceed ``max_frame_bytes``.
        """
        body = to_body(msg)
        size = sum(part_nbytes(p) for p in body)
        if size > self.max_frame_bytes:
            raise OutgoingFrameTooLarge(
                f"message of {size} bytes exceeds the maximum frame of {self.max_frame_bytes}",
                op_path=msg.path or None,
                round=msg.round,
            )
        parts = encode_frame_parts(body)
        self.bytes_sent += HEADER_BYTES + size
        self.messages_sent += 1
        return parts

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the peer (any chunking)."""
        self._decoder.receive_data(data)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Lend a buffer for the reader to fill (``asyncio.BufferedProtocol`` style, no copy).

        Inside a large frame this is the frame body itself; see :meth:`FrameDecoder.get_buffer`.
        """
        return self._decoder.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        """Record that ``nbytes`` bytes were written into the buffer :meth:`get_buffer` lent."""
        self._decoder.buffer_updated(nbytes)

    def receive_eof(self) -> None:
        """Tell the connection the peer closed its side."""
        self._decoder.receive_eof()

    @property
    def ready(self) -> bool:
        """Whether :meth:`next_message` would return a message or raise without more data."""
        return self._error is not None or self._decoder.frames_ready > 0

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into messages."""
        return self._decoder.buffered

    def next_message(self) -> Message | None:
        """Return the next complete message, or ``None`` if more data is needed (or clean EOF).

        Raises :class:`DecodeError` (or :class:`FrameTooLarge`) for a bad stream.
        """
        if self._error is not None:
            raise self._error
        try:
            body = self._decoder.next_frame()
            if body is None:
                return None
            # decode_body wants bytes (its arrays are read-only views into them): one copy.
            msg = message_from_body(bytes(body))
        except DecodeError as exc:
            self._error = exc
            raise
        self.bytes_received += HEADER_BYTES + len(body)
        self.messages_received += 1
        return msg
