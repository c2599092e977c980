"""The sans-IO wire layer: frames, the msgpack/ndarray body codec, messages, typed control
operations, and the per-peer connection state machine.

Nothing here does I/O: bytes go in through ``receive_data`` and come out of ``send``.  The
transport moves them; the runtime and the processes read typed events.

May import: the standard library (never asyncio, ssl or socket), numpy, msgpack and
:mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

from .codec import decode_body, encode_body, payload_nbytes
from .connection import (
    Bye,
    Control,
    Data,
    EndOfStream,
    Event,
    HelloEvent,
    MessageStream,
    PeerAbort,
    State,
    WireConnection,
)
from .control import (
    Abort,
    Accept,
    Batch,
    Close,
    Contribute,
    ControlOp,
    Done,
    Finished,
    Hello,
    Join,
    Material,
    MaterialError,
    MaterialReply,
    Receipt,
    Received,
    Refuse,
    Sealed,
    Start,
    decode_op,
    encode_op,
    short,
)
from .frames import FrameDecoder, OutgoingFrameTooLarge, encode_frame_parts
from .messages import Message, MsgKind, message_from_body, to_wire

DEFAULT_MAX_FRAME = 256 * 1024 * 1024
"""Default cap on a frame body: 256 MiB."""

__all__ = [
    "DEFAULT_MAX_FRAME",
    "Abort",
    "Accept",
    "Batch",
    "Bye",
    "Close",
    "Contribute",
    "Control",
    "ControlOp",
    "Data",
    "Done",
    "EndOfStream",
    "Event",
    "Finished",
    "FrameDecoder",
    "Hello",
    "HelloEvent",
    "Join",
    "Material",
    "MaterialError",
    "MaterialReply",
    "Message",
    "MessageStream",
    "MsgKind",
    "OutgoingFrameTooLarge",
    "PeerAbort",
    "Receipt",
    "Received",
    "Refuse",
    "Sealed",
    "Start",
    "State",
    "WireConnection",
    "decode_body",
    "decode_op",
    "encode_body",
    "encode_frame_parts",
    "encode_op",
    "message_from_body",
    "payload_nbytes",
    "short",
    "to_wire",
]
