"""The sans-IO wire layer: frames, the msgpack/ndarray body codec, messages, a connection.

Nothing here does I/O: bytes go in through ``receive_data`` and come out of ``send``.  The
transport moves them; the runtime speaks :class:`Message`.

May import: the standard library (never asyncio, ssl or socket), numpy, msgpack and
:mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

from .codec import decode_body, encode_body, payload_nbytes
from .connection import WireConnection
from .frames import FrameDecoder, OutgoingFrameTooLarge, encode_frame_parts
from .messages import Message, MsgKind, message_from_body, to_wire

DEFAULT_MAX_FRAME = 256 * 1024 * 1024
"""Default cap on a frame body: 256 MiB."""

__all__ = [
    "DEFAULT_MAX_FRAME",
    "FrameDecoder",
    "Message",
    "MsgKind",
    "OutgoingFrameTooLarge",
    "WireConnection",
    "decode_body",
    "encode_body",
    "encode_frame_parts",
    "message_from_body",
    "payload_nbytes",
    "to_wire",
]
