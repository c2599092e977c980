"""A sans-IO connection to one peer: bytes in, typed events out, and the order of messages enforced.

:class:`WireConnection` never touches a socket (like h11's ``Connection``): the transport feeds it
what it read (:meth:`~WireConnection.receive_data`, or the zero-copy pair
:meth:`~WireConnection.get_buffer` / :meth:`~WireConnection.buffer_updated`, then
:meth:`~WireConnection.receive_eof`), pulls :class:`Event` s with
:meth:`~WireConnection.next_event`, and writes the buffers :meth:`~WireConnection.send` returns.

The per-peer state machine, the same in both directions::

    HANDSHAKE --HELLO--> OPEN --BYE--> CLOSING --end of stream--> ENDED
        |                  |               |
        +------ABORT-------+------ABORT----+---> ENDED (nothing may follow an ABORT)

* the first message must be HELLO (or an ABORT refusing the connection);
* DATA and CONTROL are allowed only while OPEN; PING (a heartbeat) after HELLO until the end;
* the end of the stream is clean (:class:`EndOfStream` ``clean=True``) only after a BYE or an
  ABORT; otherwise the peer was lost;
* every message must carry the sender identity the certificate proved (``peer``), else
  :class:`RemoteProtocolError` with ``claimed`` set.

Breaking the order on receive is a :class:`RemoteProtocolError`, on send a
:class:`LocalProtocolError`.  Frame sizes are counted here, once: every :class:`Data` and
:class:`Control` event carries the size of the frame it came in.

May import: the standard library (no asyncio, ssl, socket), :mod:`mpc_runtime.errors` and the
other modules of this package.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from mpc_runtime.errors import DecodeError, LocalProtocolError, RemoteProtocolError

from .control import Abort, ControlOp, Hello, decode_abort, decode_hello, decode_op
from .frames import (
    HEADER_BYTES,
    BytesPart,
    FrameDecoder,
    OutgoingFrameTooLarge,
    StreamTruncated,
    encode_frame_parts,
    part_nbytes,
)
from .messages import Message, MsgKind, message_from_body, to_body

__all__ = [
    "MessageStream",
    "Bye",
    "Control",
    "Data",
    "EndOfStream",
    "Event",
    "HelloEvent",
    "PeerAbort",
    "State",
    "WireConnection",
]


class State(enum.Enum):
    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSING = "closing"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class HelloEvent:
    hello: Hello


@dataclass(frozen=True, slots=True)
class Data:
    """One round's message of a protocol: routed by (path, round, sender)."""

    job: str
    path: str
    round: int
    body: Any = field(repr=False)
    frame_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Control:
    job: str
    op: ControlOp
    frame_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Bye:
    job: str = ""


@dataclass(frozen=True, slots=True)
class PeerAbort:
    job: str
    abort: Abort


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer closed its side; ``clean`` if it said BYE or ABORT first.  ``detail`` says
    where it stopped when that matters ("in the middle of a frame")."""

    clean: bool
    detail: str = ""


Event = HelloEvent | Data | Control | Bye | PeerAbort | EndOfStream

_ALLOWED_IN: dict[State, frozenset[MsgKind]] = {
    State.HANDSHAKE: frozenset({MsgKind.HELLO, MsgKind.ABORT}),
    State.OPEN: frozenset(
        {MsgKind.DATA, MsgKind.CONTROL, MsgKind.BYE, MsgKind.ABORT, MsgKind.PING}
    ),
    State.CLOSING: frozenset({MsgKind.ABORT, MsgKind.PING, MsgKind.BYE}),
    State.ENDED: frozenset(),
}


def _next_state(state: State, kind: MsgKind) -> State:
    if kind is MsgKind.ABORT:
        return State.ENDED
    if kind is MsgKind.HELLO:
        return State.OPEN
    if kind is MsgKind.BYE:
        return State.CLOSING
    return state


class MessageStream:
    """Frames to and from messages, with no notion of order (the layer under the state machine;
    the codec and framing tests drive it directly).

    ``bytes_sent`` / ``bytes_received`` count whole frames, headers included.  Once a received
    frame fails to decode the stream is broken: :meth:`next_message` raises the same error again.
    """

    def __init__(self, max_frame_bytes: int) -> None:
        self._decoder = FrameDecoder(max_frame_bytes)
        self.max_frame_bytes = max_frame_bytes
        self.bytes_sent = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.messages_received = 0
        self._error: RemoteProtocolError | None = None

    def send(self, msg: Message) -> list[BytesPart]:
        """Return the buffers of ``msg``'s frame (for ``writer.writelines``) and count them.

        Raises :class:`LocalProtocolError` for an unsendable message and
        :class:`~.frames.OutgoingFrameTooLarge` if the body would exceed ``max_frame_bytes``.
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
        """Lend a buffer for the reader to fill (``asyncio.BufferedProtocol`` style, no copy)."""
        return self._decoder.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        """Record that ``nbytes`` bytes were written into the buffer :meth:`get_buffer` lent."""
        self._decoder.buffer_updated(nbytes)

    def receive_eof(self) -> None:
        """Tell the stream the peer closed its side."""
        self._decoder.receive_eof()

    @property
    def eof(self) -> bool:
        return self._decoder.eof

    @property
    def ready(self) -> bool:
        """Whether the next read would return something or raise without more data."""
        return (
            self._error is not None
            or self._decoder.frames_ready > 0
            or (self._decoder.eof and self._decoder.buffered == 0)
        )

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into messages."""
        return self._decoder.buffered

    def next_message(self) -> tuple[Message, int] | None:
        """The next message and its frame size, or ``None`` if more data is needed (or at EOF).

        Raises :class:`DecodeError` (and :class:`StreamTruncated` for an end of stream inside a
        frame); a decode error leaves the stream broken.  No copy: arrays are views of the frame.
        """
        if self._error is not None:
            raise self._error
        try:
            body = self._decoder.next_frame()
            if body is None:
                return None
            msg = message_from_body(body)
        except StreamTruncated:
            raise
        except DecodeError as exc:
            self._error = exc
            raise
        size = HEADER_BYTES + len(body)
        self.bytes_received += size
        self.messages_received += 1
        return msg, size


class WireConnection(MessageStream):
    """One peer link as a state machine over a :class:`MessageStream` (see the module docstring)."""

    def __init__(self, max_frame_bytes: int, *, peer: str | None = None) -> None:
        super().__init__(max_frame_bytes)
        self.peer = peer
        self.their_state = State.HANDSHAKE
        self.our_state = State.HANDSHAKE
        self._eof_reported = False

    def send(self, msg: Message) -> list[BytesPart]:
        """The frame of ``msg``; :class:`LocalProtocolError` if our state forbids it (DATA before
        HELLO or after BYE, anything after ABORT)."""
        if msg.kind not in _ALLOWED_IN[self.our_state]:
            raise LocalProtocolError(
                f"cannot send {msg.kind.name} in state {self.our_state.value}",
                op_path=msg.path or None,
            )
        parts = super().send(msg)
        self.our_state = _next_state(self.our_state, msg.kind)
        return parts

    def next_event(self) -> Event | None:
        """The next event, or ``None`` if more data is needed.  PINGs are consumed silently.

        Raises :class:`DecodeError` for bad bytes and :class:`RemoteProtocolError` for a message
        out of order or from a sender other than ``peer``; both leave the connection broken.
        """
        while True:
            try:
                got = self.next_message()
            except StreamTruncated:
                return self._end(clean=False, detail="in the middle of a frame")
            except RemoteProtocolError as exc:
                raise self._broken(exc) from None
            if got is None:
                if self._decoder.eof and self._decoder.buffered == 0:
                    return self._end(clean=self.their_state in (State.CLOSING, State.ENDED))
                return None
            event = self._event(*got)
            if event is not None:
                return event

    def _end(self, clean: bool, detail: str = "") -> EndOfStream | None:
        if self._eof_reported:
            return None
        self.their_state, self._eof_reported = State.ENDED, True
        return EndOfStream(clean, detail)

    def _event(self, msg: Message, size: int) -> Event | None:
        if self.peer is not None and msg.sender != self.peer:
            claimed = _claimed(msg.sender)
            raise self._broken(
                RemoteProtocolError(
                    f"{self.peer} sent a message claiming to be from {claimed}",
                    peer=self.peer,
                    claimed=claimed,
                )
            )
        if msg.kind not in _ALLOWED_IN[self.their_state]:
            problem = _order_problem(self.their_state, msg.kind)
            raise self._broken(RemoteProtocolError(problem, peer=self.peer, op_path=msg.path))
        self.their_state = _next_state(self.their_state, msg.kind)
        try:
            return _typed(msg, size)
        except DecodeError as exc:
            raise self._broken(exc) from None

    def _broken(self, err: RemoteProtocolError) -> RemoteProtocolError:
        if self.peer is not None and err.peer is None:
            err = err.with_context(peer=self.peer)  # type: ignore[assignment]
        self._error = err
        return err


def _typed(msg: Message, size: int) -> Event | None:
    kind = msg.kind
    if kind is MsgKind.DATA:
        return Data(msg.job, msg.path, msg.round, msg.body, size)
    if kind is MsgKind.CONTROL:
        return Control(msg.job, decode_op(msg.body), size)
    if kind is MsgKind.HELLO:
        return HelloEvent(decode_hello(msg.body))
    if kind is MsgKind.ABORT:
        return PeerAbort(msg.job, decode_abort(msg.body))
    if kind is MsgKind.BYE:
        return Bye(msg.job)
    return None  # PING: liveness only


def _order_problem(state: State, kind: MsgKind) -> str:
    if state is State.HANDSHAKE:
        return f"did not start with HELLO (sent {kind.name})"
    if state is State.CLOSING:
        return f"sent {kind.name} after saying goodbye"
    if state is State.ENDED:
        return f"sent {kind.name} after aborting"
    return f"sent an unexpected {kind.name}"


def _claimed(sender: str) -> str:
    """The identity a peer claimed, if it looks like one (the text is the peer's: kept short)."""
    role, sep, name = sender.partition(":")
    if sender in ("coordinator", "dealer"):
        return sender
    if (
        sep
        and role in ("party", "recipient", "contributor")
        and name.replace("-", "").replace("_", "").replace(".", "").isalnum()
        and len(sender) <= 80
    ):
        return sender
    return "an invalid identity"
