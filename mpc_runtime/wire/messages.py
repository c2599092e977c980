"""Message types of the wire protocol and their (de)serialization to frames.

A :class:`Message` travels as one frame whose body is encoded by :mod:`.codec` from the meta
dict ``{"k": kind, "s": sender, "j": job, "p": path, "r": round, "b": body}``.  Decoding checks
every field's type and bounds; a message's repr never shows its body (it may hold secrets).

May import: the standard library (no asyncio, ssl, socket), :mod:`mpc_runtime.errors` and the
other modules of this package.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mpc_runtime.errors import DecodeError, LocalProtocolError

from .codec import decode_body, encode_body
from .frames import BytesPart, encode_frame_parts

__all__ = [
    "MAX_JOB_LEN",
    "MAX_PATH_LEN",
    "MAX_ROUND",
    "MAX_SENDER_LEN",
    "Message",
    "MsgKind",
    "message_from_body",
    "to_body",
    "to_wire",
]

MAX_SENDER_LEN = 256
MAX_JOB_LEN = 128
MAX_PATH_LEN = 512
MAX_ROUND = 2**32 - 1

_KEYS = frozenset("ksjprb")


class MsgKind(enum.IntEnum):
    """What a message is for."""

    HELLO = 1
    DATA = 2
    ABORT = 3
    BYE = 4
    CONTROL = 5
    PING = 6
    """A heartbeat: proves the sender's process is alive; carries nothing."""


@dataclass(frozen=True, slots=True)
class Message:
    """One protocol message.  ``body`` is any codec payload; it never appears in the repr."""

    kind: MsgKind
    sender: str
    job: str = ""
    path: str = ""
    round: int = 0
    body: object = None

    def __repr__(self) -> str:
        return (
            f"Message(kind={self.kind!r}, sender={self.sender!r}, job={self.job!r}, "
            f"path={self.path!r}, round={self.round!r}, body=<...>)"
        )


_KIND_VALUES = frozenset(int(k) for k in MsgKind)


def _check_fields(
    kind: object, sender: object, job: object, path: object, rnd: object
) -> str | None:
    """Return what is wrong with the header fields, or None.  Never quotes field values."""
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in _KIND_VALUES:
        return "unknown message kind"
    for name, value, limit in (
        ("sender", sender, MAX_SENDER_LEN),
        ("job", job, MAX_JOB_LEN),
        ("path", path, MAX_PATH_LEN),
    ):
        if not isinstance(value, str):
            return f"message {name} is not a str"
        if len(value) > limit:
            return f"message {name} is longer than {limit} characters"
    if isinstance(rnd, bool) or not isinstance(rnd, int) or not 0 <= rnd <= MAX_ROUND:
        return f"message round is not an int in [0, {MAX_ROUND}]"
    return None


def to_body(msg: Message) -> list[BytesPart]:
    """Encode a message into body buffers (no frame header).  Raises LocalProtocolError."""
    problem = _check_fields(msg.kind, msg.sender, msg.job, msg.path, msg.round)
    if problem is not None:
        raise LocalProtocolError(f"cannot send: {problem}")
    meta = {
        "k": int(msg.kind),
        "s": msg.sender,
        "j": msg.job,
        "p": msg.path,
        "r": int(msg.round),
        "b": msg.body,
    }
    return encode_body(meta)


def to_wire(msg: Message) -> list[BytesPart]:
    """Encode a message into frame buffers, header included, ready for ``writer.writelines``."""
    return encode_frame_parts(to_body(msg))


def message_from_body(body: bytes | bytearray | memoryview) -> Message:
    """Decode one frame body into a :class:`Message` (arrays are views into ``body``, no copy).

    Raises :class:`DecodeError`.
    """
    meta = decode_body(body)
    if not isinstance(meta, dict):
        raise DecodeError("message metadata is not a map")
    if meta.keys() != _KEYS:
        raise DecodeError("message metadata does not have exactly the keys k, s, j, p, r, b")
    kind, sender, job, path, rnd = meta["k"], meta["s"], meta["j"], meta["p"], meta["r"]
    problem = _check_fields(kind, sender, job, path, rnd)
    if problem is not None:
        raise DecodeError(problem)
    return Message(MsgKind(kind), sender, job, path, rnd, meta["b"])
