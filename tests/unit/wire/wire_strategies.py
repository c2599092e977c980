"""Hypothesis strategies and helpers shared by the wire tests (imports no event loop)."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc_runtime.errors import DecodeError
from mpc_runtime.wire import Message, MessageStream, MsgKind
from mpc_runtime.wire.codec import DTYPES

WIRE_DTYPES = [np.dtype(d) for d in ("uint8", "uint32", "uint64", "int64", "float64", "bool")]
BIG_ENDIAN = [np.dtype(d) for d in (">u4", ">u8", ">i8", ">f8")]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    dtype = draw(st.sampled_from(WIRE_DTYPES + BIG_ENDIAN))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    arr = draw(hnp.arrays(dtype, shape))
    if arr.ndim >= 2 and draw(st.booleans()):
        arr = arr.T  # not C-contiguous
    elif arr.ndim == 1 and draw(st.booleans()):
        arr = arr[::2]
    return arr


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.sampled_from([-(2**63), 2**63 - 1, 2**63, 2**64 - 1, 0, -1])
    | st.floats()
    | st.text(max_size=16)
    | st.binary(max_size=16)
)

payloads = st.recursive(
    scalars | arrays(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)

messages = st.builds(
    Message,
    kind=st.sampled_from(MsgKind),
    sender=st.text(max_size=12),
    job=st.text(max_size=12),
    path=st.text(max_size=24),
    round=st.integers(0, 2**32 - 1),
    body=payloads,
)


def wire_dtype(dt: np.dtype[Any]) -> np.dtype[Any]:
    for canon in DTYPES:
        if (canon.kind, canon.itemsize) == (dt.kind, dt.itemsize):
            return canon
    raise AssertionError(f"not a wire dtype: {dt}")


def same_payload(sent: object, got: object) -> bool:
    """Equality after a round trip: tuples become lists, NaNs and -0.0 compare bitwise."""
    if isinstance(sent, np.ndarray | np.generic):
        sent = np.asarray(sent)
        return (
            isinstance(got, np.ndarray)
            and got.dtype == wire_dtype(sent.dtype)
            and got.shape == sent.shape
            and np.asarray(sent, dtype=got.dtype).tobytes() == got.tobytes()
        )
    if isinstance(sent, float):
        return type(got) is float and struct.pack(">d", sent) == struct.pack(">d", got)
    if isinstance(sent, list | tuple):
        return (
            type(got) is list
            and len(sent) == len(got)
            and all(same_payload(a, b) for a, b in zip(sent, got, strict=True))
        )
    if isinstance(sent, dict):
        return (
            type(got) is dict
            and list(sent) == list(got)
            and all(same_payload(v, got[k]) for k, v in sent.items())
        )
    return type(sent) is type(got) and sent == got


def same_message(a: Message, b: Message) -> bool:
    return (
        (a.kind, a.sender, a.job, a.path, a.round) == (b.kind, b.sender, b.job, b.path, b.round)
        and type(b.kind) is MsgKind
        and same_payload(a.body, b.body)
    )


def frame_bytes(parts: list[bytes | memoryview]) -> bytes:
    return b"".join(parts)


def raw_body(meta: object, blob: bytes = b"") -> bytes:
    """A body with hand-made msgpack metadata (may hold raw ExtTypes) and blob; a non-empty blob
    starts 8-aligned after zero padding, as the codec lays it out."""
    packed = msgpack.packb(meta, use_bin_type=True)
    head = struct.pack(">I", len(packed)) + packed
    pad = b"\0" * (-len(head) % 8) if blob else b""
    return head + pad + blob


def array_ext(code: int, shape: list[int], offset: int, nbytes: int) -> msgpack.ExtType:
    return msgpack.ExtType(1, msgpack.packb([code, shape, offset, nbytes]))


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def drain(conn: MessageStream, chunks: list[bytes], *, eof: bool = True) -> list[Message]:
    """Feed chunks, pull every message; a DecodeError ends the stream, anything else escapes.

    After a DecodeError the connection must keep raising DecodeError.
    """
    got: list[Message] = []
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            while (item := conn.next_message()) is not None:
                repr(item[0])
                got.append(item[0])
        if eof:
            conn.receive_eof()
            while (item := conn.next_message()) is not None:
                got.append(item[0])
    except DecodeError as exc:
        first = exc
        try:
            conn.next_message()
        except DecodeError:
            pass
        else:
            raise AssertionError("connection did not stay broken after a DecodeError") from first
    return got
