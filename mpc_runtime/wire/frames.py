"""Length-prefixed framing: a frame is a 4-byte big-endian unsigned length ``L``, then ``L`` bytes.

Sans-IO: :func:`encode_frame_parts` turns a body into buffers for ``writer.writelines`` without
copying it, and :class:`FrameDecoder` is fed arbitrary chunks of a byte stream (or lends buffers
for a reader to fill, like ``asyncio.BufferedProtocol``) and hands back whole frame bodies.  The
decoder refuses a length prefix above its maximum before any body arrives; only a length that
passed that check sizes a body buffer (see :class:`FrameDecoder` on memory).

May import: the standard library (no asyncio, ssl, socket), numpy (uninitialised heap bodies)
and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import struct
from collections import deque

import numpy as np

from mpc_runtime.errors import DecodeError, FrameTooLarge, LocalProtocolError

__all__ = [
    "HEADER_BYTES",
    "MAX_FRAME_LIMIT",
    "BytesPart",
    "FrameDecoder",
    "OutgoingFrameTooLarge",
    "StreamTruncated",
    "encode_frame_parts",
    "part_nbytes",
]

BytesPart = bytes | memoryview
"""One buffer of an outgoing frame (a list of them goes to ``writer.writelines``)."""

_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size
MAX_FRAME_LIMIT = 2**32 - 1
"""The largest body a 4-byte length prefix can describe."""
SCRATCH_BYTES = 64 * 1024
"""Size of the buffer :meth:`FrameDecoder.get_buffer` lends between frame bodies."""
LAZY_BODY_BYTES = 1 << 20
"""Bodies at least this large are uninitialised heap arrays instead of zero-filled bytearrays."""

Body = bytearray | np.ndarray


def _view(body: Body) -> memoryview:
    """A writable byte view of a body."""
    return body.data if isinstance(body, np.ndarray) else memoryview(body)


class StreamTruncated(DecodeError):
    """The stream ended inside a frame (the peer went away mid-message)."""


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

    Two ways to feed it, freely mixed:

    * :meth:`receive_data` with arbitrary chunks (copied into the decoder);
    * the buffered-reading pair :meth:`get_buffer` / :meth:`buffer_updated` (the shape of
      ``asyncio.BufferedProtocol``): the reader writes straight into a buffer the decoder lends,
      so a large frame body is filled in place (e.g. decrypted into it by TLS) with no join.

    End the stream with :meth:`receive_eof`; pull whole frame bodies with :meth:`next_frame` until
    it returns ``None``.  Feeding never raises for bad input; errors come out of ``next_frame`` in
    stream order (after the frames that preceded them), and once one is raised the decoder is
    dead: it drops further data and raises it again.

    Memory: the body of a frame is allocated when its header has arrived and passed the
    ``max_frame_bytes`` check, so a peer can make us reserve at most ``max_frame_bytes`` per
    connection with 4 bytes.  Bodies under :data:`LAZY_BODY_BYTES` are bytearrays; larger ones
    are uninitialised numpy arrays from the heap.  Where the process keeps freed memory for reuse
    (:func:`mpc_runtime.procinfo.keep_freed_memory`, as every party does), a body takes memory
    that earlier frames and arrays released, with no page fault: a fresh memory map per frame
    cost a party 14,700 page faults, 40% of its CPU, per 10^6 comparisons.  Fresh heap pages are
    committed only when written, so what a peer makes us commit still follows the bytes that
    arrived.  A body's old contents are never seen: it is handed out only once every byte of it
    has arrived, and dropped if the stream ends first.  Nothing is kept between frames: a body
    lives exactly as long as a view of it (the memoryview :meth:`next_frame` returns, its
    slices, numpy arrays decoded from it) does, and is never refilled while one does.
    """

    def __init__(self, max_frame_bytes: int) -> None:
        if isinstance(max_frame_bytes, bool) or not isinstance(max_frame_bytes, int):
            raise TypeError("max_frame_bytes must be an int")
        if not 1 <= max_frame_bytes <= MAX_FRAME_LIMIT:
            raise ValueError(f"max_frame_bytes must be in [1, {MAX_FRAME_LIMIT}]")
        self.max_frame_bytes = max_frame_bytes
        self._header = bytearray()  # bytes of the next header received so far (< 4)
        self._body: Body | None = None  # the frame being filled (maybe longer than the frame)
        self._body_view: memoryview | None = None  # exactly the frame's bytes of self._body
        self._filled = 0  # bytes of self._body received
        self._frames: deque[tuple[Body, int]] = deque()  # whole bodies not yet returned
        self._nbuf = 0  # received bytes not yet returned (headers included)
        self._scratch = bytearray(SCRATCH_BYTES)
        self._scratch_view = memoryview(self._scratch)
        self._lent: memoryview | None = None  # what get_buffer handed out last
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

    @property
    def frames_ready(self) -> int:
        """Frames (or a pending error) that :meth:`next_frame` can return without more data."""
        return len(self._frames) + (self._error is not None)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer a chunk of the stream (any size, empty included)."""
        if self._eof:
            raise LocalProtocolError("data received after end of stream")
        self._feed(memoryview(data).cast("B") if isinstance(data, memoryview) else data)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Lend a writable buffer for the next bytes of the stream (``BufferedProtocol`` style).

        Inside a frame body whose header has been checked this is the unfilled rest of the body
        itself; between frames it is a small scratch buffer.  Report what was written with
        :meth:`buffer_updated` before asking again.  ``sizehint`` is ignored.
        """
        if self._eof:
            raise LocalProtocolError("data received after end of stream")
        if self._body_view is not None and self._error is None:
            self._lent = self._body_view[self._filled :]
        else:
            self._lent = self._scratch_view
        return self._lent

    def buffer_updated(self, nbytes: int) -> None:
        """Record that ``nbytes`` bytes were written at the start of the last lent buffer."""
        lent, self._lent = self._lent, None
        if lent is None or not 0 <= nbytes <= len(lent):
            raise LocalProtocolError("buffer_updated without a matching get_buffer")
        if nbytes == 0 or self._error is not None:
            return
        if lent.obj is self._scratch:
            self._feed(self._scratch_view[:nbytes])
        else:
            self._nbuf += nbytes
            self._filled += nbytes
            self._finish_body()

    def receive_eof(self) -> None:
        """Record the end of the stream; a partial frame left over is then an error."""
        self._eof = True
        if self._error is None and (self._header or self._body is not None):
            self._fail(StreamTruncated("connection closed in the middle of a frame"))

    def next_frame(self) -> memoryview | None:
        """Return the next whole frame body, or ``None`` if more data is needed (or at clean EOF).

        The body is a writable 1-D byte memoryview owned by the caller, over a bytearray or (for
        large bodies) a numpy array; it compares equal to ``bytes`` of the same content.

        Raises :class:`FrameTooLarge` for a length prefix above the maximum, and
        :class:`DecodeError` for a zero-length frame or a stream that ended inside a frame.
        """
        if self._frames:
            body, length = self._frames.popleft()
            self._nbuf -= HEADER_BYTES + length
            view = _view(body)
            return view if len(body) == length else view[:length]
        if self._error is not None:
            raise self._error
        return None

    # -- internals -------------------------------------------------------------------------

    def _feed(self, data: bytes | bytearray | memoryview) -> None:
        pos, end = 0, len(data)
        while pos < end and self._error is None:
            if self._body_view is not None:
                n = min(end - pos, len(self._body_view) - self._filled)
                self._body_view[self._filled : self._filled + n] = data[pos : pos + n]
                self._filled += n
                self._nbuf += n
                pos += n
                self._finish_body()
                continue
            n = min(end - pos, HEADER_BYTES - len(self._header))
            self._header += data[pos : pos + n]
            self._nbuf += n
            pos += n
            if len(self._header) == HEADER_BYTES:
                self._start_body()

    def _start_body(self) -> None:
        (length,) = _HEADER.unpack(self._header)
        if length == 0:
            self._fail(DecodeError("zero-length frame"))
        elif length > self.max_frame_bytes:
            self._fail(
                FrameTooLarge(
                    f"frame length {length} exceeds the maximum of {self.max_frame_bytes} bytes"
                )
            )
        else:
            self._header.clear()
            body = self._new_body(length)
            self._body = body
            self._body_view = _view(body)[:length]
            self._filled = 0

    def _new_body(self, length: int) -> Body:
        """A body for a frame of ``length`` bytes (see the class docstring on memory)."""
        if length < LAZY_BODY_BYTES:
            return bytearray(length)
        return np.empty(length, dtype=np.uint8)

    def _finish_body(self) -> None:
        view = self._body_view
        if self._body is not None and view is not None and self._filled == len(view):
            self._frames.append((self._body, len(view)))
            view.release()
            self._body, self._body_view, self._filled = None, None, 0

    def _fail(self, error: DecodeError) -> None:
        """Record ``error`` and drop the partial frame; whole frames before it stay returnable."""
        self._error = error
        if self._body_view is not None:
            self._body_view.release()
        self._body, self._body_view, self._filled = None, None, 0
        self._header.clear()
        self._nbuf = sum(HEADER_BYTES + n for _, n in self._frames)
