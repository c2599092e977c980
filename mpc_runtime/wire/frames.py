"""Length-prefixed framing: a frame is a 4-byte big-endian unsigned length ``L``, then ``L`` bytes.

Sans-IO: :func:`encode_frame_parts` turns a body into buffers for ``writer.writelines`` without
copying it, and :class:`FrameDecoder` is fed arbitrary chunks of a byte stream and hands back
whole frame bodies.  The decoder never allocates from a length a peer sent: it buffers only bytes
that actually arrived, and refuses a length prefix above its maximum before any body arrives.

May import: the standard library (no asyncio, ssl, socket) and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import struct
from collections import deque

from mpc_runtime.errors import DecodeError, FrameTooLarge, LocalProtocolError

__all__ = [
    "HEADER_BYTES",
    "MAX_FRAME_LIMIT",
    "BytesPart",
    "FrameDecoder",
    "OutgoingFrameTooLarge",
    "encode_frame_parts",
    "part_nbytes",
]

BytesPart = bytes | memoryview
"""One buffer of an outgoing frame (a list of them goes to ``writer.writelines``)."""

_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size
MAX_FRAME_LIMIT = 2**32 - 1
"""The largest body a 4-byte length prefix can describe."""


class OutgoingFrameTooLarge(LocalProtocolError, FrameTooLarge):
    """We were asked to send a frame above the maximum frame size.

    It is both a :class:`LocalProtocolError` (the fault is ours) and a :class:`FrameTooLarge`
    (so code that catches either sees it).
    """


def part_nbytes(part: BytesPart) -> int:
    """Number of bytes in one buffer (``len`` of a multi-dimensional memoryview is not that)."""
    return part.nbytes if isinstance(part, memoryview) else len(part)


def encode_frame_parts(body_parts: list[BytesPart]) -> list[BytesPart]:
    """Return ``[header, *body_parts]``: the frame for a body given as buffers, without copying.

    Raises :class:`LocalProtocolError` for an empty body (a zero-length frame is invalid) or a
    body longer than a 4-byte length can describe.
    """
    length = sum(part_nbytes(p) for p in body_parts)
    if length == 0:
        raise LocalProtocolError("refusing to send an empty frame")
    if length > MAX_FRAME_LIMIT:
        raise OutgoingFrameTooLarge(f"frame body of {length} bytes exceeds the 4-byte length limit")
    return [_HEADER.pack(length), *body_parts]


class FrameDecoder:
    """Incremental decoder of a stream of frames (h11-style, no I/O).

    Feed bytes with :meth:`receive_data` and the end of the stream with :meth:`receive_eof`;
    pull whole frame bodies with :meth:`next_frame` until it returns ``None`` (more data needed).
    ``receive_data`` never raises for bad input; errors come out of ``next_frame`` in stream
    order, and once one is raised the decoder is dead: it drops further data and raises it again.

    Chunks are kept in a deque with a running count and joined once per frame, so a 32 MiB frame
    arriving in 64 KiB chunks is copied once.
    """

    def __init__(self, max_frame_bytes: int) -> None:
        if isinstance(max_frame_bytes, bool) or not isinstance(max_frame_bytes, int):
            raise TypeError("max_frame_bytes must be an int")
        if not 1 <= max_frame_bytes <= MAX_FRAME_LIMIT:
            raise ValueError(f"max_frame_bytes must be in [1, {MAX_FRAME_LIMIT}]")
        self.max_frame_bytes = max_frame_bytes
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of self._chunks[0] already consumed
        self._nbuf = 0  # unconsumed bytes held in self._chunks
        self._body_len: int | None = None  # length of the frame at the front, once its header is in
        self._eof = False
        self._error: DecodeError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned (including the pending frame's header)."""
        return self._nbuf

    @property
    def eof(self) -> bool:
        """Whether :meth:`receive_eof` was called."""
        return self._eof

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer a chunk of the stream (any size, empty included)."""
        if self._eof:
            raise LocalProtocolError("data received after end of stream")
        if self._error is not None or not data:
            return
        chunk = bytes(data)  # no copy for bytes; a private copy of a mutable buffer
        self._chunks.append(chunk)
        self._nbuf += len(chunk)
        self._parse_header()

    def receive_eof(self) -> None:
        """Record the end of the stream; a partial frame left over is then an error."""
        self._eof = True

    def next_frame(self) -> bytes | None:
        """Return the next whole frame body, or ``None`` if more data is needed (or at clean EOF).

        Raises :class:`FrameTooLarge` for a length prefix above the maximum, and
        :class:`DecodeError` for a zero-length frame or a stream that ended inside a frame.
        """
        if self._error is not None:
            raise self._error
        self._parse_header()
        if self._error is not None:
            raise self._error
        body_len = self._body_len
        if body_len is not None and self._nbuf >= HEADER_BYTES + body_len:
            self._take(HEADER_BYTES)
            body = self._take(body_len)
            self._body_len = None
            self._parse_header()
            return body
        if self._eof and self._nbuf:
            self._error = DecodeError("connection closed in the middle of a frame")
            self._drop()
            raise self._error
        return None

    # -- internals -------------------------------------------------------------------------

    def _parse_header(self) -> None:
        if self._body_len is not None or self._error is not None or self._nbuf < HEADER_BYTES:
            return
        first = self._chunks[0]
        if len(first) - self._offset >= HEADER_BYTES:
            (length,) = _HEADER.unpack_from(first, self._offset)
        else:
            (length,) = _HEADER.unpack(self._peek(HEADER_BYTES))
        if length == 0:
            self._error = DecodeError("zero-length frame")
        elif length > self.max_frame_bytes:
            self._error = FrameTooLarge(
                f"frame length {length} exceeds the maximum of {self.max_frame_bytes} bytes"
            )
        else:
            self._body_len = length
            return
        self._drop()

    def _peek(self, n: int) -> bytes:
        out = bytearray()
        offset = self._offset
        for chunk in self._chunks:
            out += chunk[offset : offset + n - len(out)]
            offset = 0
            if len(out) == n:
                break
        return bytes(out)

    def _take(self, n: int) -> bytes:
        """Remove and return the next ``n`` buffered bytes (the caller checked they are there)."""
        parts: list[bytes | memoryview] = []
        remaining = n
        while remaining:
            chunk = self._chunks[0]
            avail = len(chunk) - self._offset
            if avail <= remaining:
                parts.append(memoryview(chunk)[self._offset :] if self._offset else chunk)
                self._chunks.popleft()
                self._offset = 0
                remaining -= avail
            else:
                parts.append(memoryview(chunk)[self._offset : self._offset + remaining])
                self._offset += remaining
                remaining = 0
        self._nbuf -= n
        if len(parts) == 1:
            return bytes(parts[0])  # the chunk itself when it is exactly one frame
        return b"".join(parts)

    def _drop(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self._nbuf = 0
        self._body_len = None
