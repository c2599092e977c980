"""The body codec: msgpack metadata plus a blob of raw ndarray bytes.

A body is ``4-byte big-endian meta_len | msgpack(meta) | pad | blob``.  Every numpy array inside
the payload is replaced in the msgpack by ExtType code 1 whose data is the msgpack list
``[dtype_code, shape, offset, nbytes]``; the blob is the arrays' raw little-endian C-order bytes,
in the order msgpack serializes them.  Only allowlisted dtypes cross the wire, nothing is ever
unpickled, and decoding allocates nothing from a peer's numbers: arrays are read-only views into
the received body.

Alignment: the blob starts at the first multiple of :data:`ALIGN` (8) bytes after the metadata
(``pad``: 0 to 7 zero bytes, present only when the blob is not empty), and every non-empty array
starts at the next multiple of :data:`ALIGN` after the previous one ends (zero bytes between);
an empty array starts where the previous one ended, and the blob ends where the last array
does.  A receive buffer starts 8-aligned, so every array decodes as an aligned view (numpy's
fast paths; no copy into an aligned buffer).  The layout is unique: any other padding, gap,
overlap or trailing byte is refused.

Plain values allowed: None, bool, int (64-bit), float, str, bytes, list/tuple (decoded as list),
dict with str keys, ndarray of an allowlisted dtype (a numpy scalar of one is sent as a 0-d array).

Errors never quote payload bytes or values: they say only what was structurally wrong.

May import: the standard library (no asyncio, ssl, socket), numpy, msgpack,
:mod:`mpc_runtime.errors` and :mod:`.frames`.
"""

from __future__ import annotations

import math
import struct
import sys
from typing import Any

import msgpack
import numpy as np

from mpc_runtime.errors import DecodeError, LocalProtocolError

from .frames import BytesPart

__all__ = [
    "ALIGN",
    "ARRAY_EXT_CODE",
    "DTYPES",
    "MAX_DEPTH",
    "MAX_NDIM",
    "decode_body",
    "encode_body",
    "payload_nbytes",
]

ARRAY_EXT_CODE = 1
ALIGN = 8
"""Alignment in bytes of the blob and of every non-empty array inside it (the largest itemsize)."""
MAX_NDIM = 8
MAX_DEPTH = 64
"""Deepest nesting of lists/dicts accepted when encoding (msgpack caps decoding depth itself)."""

DTYPES: tuple[np.dtype[Any], ...] = (
    np.dtype("<u1"),
    np.dtype("<u4"),
    np.dtype("<u8"),
    np.dtype("<i8"),
    np.dtype("<f8"),
    np.dtype("?"),
)
"""The allowlisted dtypes, indexed by their wire code."""

_CODE_BY_KIND_SIZE = {(dt.kind, dt.itemsize): code for code, dt in enumerate(DTYPES)}
_META_LEN = struct.Struct(">I")
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_DIM_MAX = 2**62
_ZEROS = bytes(ALIGN)


def _align(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`ALIGN`."""
    return -(-n // ALIGN) * ALIGN


# -- encoding ----------------------------------------------------------------------------------


def _dtype_code(dt: np.dtype[Any]) -> int:
    if dt.fields is not None or dt.subdtype is not None:
        raise LocalProtocolError("structured or sub-array dtypes cannot be sent")
    code = _CODE_BY_KIND_SIZE.get((dt.kind, dt.itemsize))
    if code is None:
        raise LocalProtocolError(f"dtype {dt.str} is not allowed on the wire")
    return code


class _Encoder:
    def __init__(self) -> None:
        self.views: list[BytesPart] = []
        self.offset = 0

    def array(self, arr: np.ndarray[Any, Any]) -> msgpack.ExtType:
        # A masked array exists only once numpy.ma was imported; never import it just to check.
        if "numpy.ma" in sys.modules and isinstance(arr, np.ma.MaskedArray):
            raise LocalProtocolError("masked arrays cannot be sent")
        code = _dtype_code(arr.dtype)
        if arr.ndim > MAX_NDIM:
            raise LocalProtocolError(f"array has {arr.ndim} dimensions, more than {MAX_NDIM}")
        # Converts byte order and layout only when needed; otherwise a view, no copy.
        # (Not np.ascontiguousarray: it turns a 0-d array into shape (1,).)
        arr = np.asarray(arr, dtype=DTYPES[code])
        if not arr.flags.c_contiguous:
            arr = np.array(arr, order="C")
        nbytes = int(arr.nbytes)
        if nbytes:
            start = _align(self.offset)
            if start != self.offset:
                self.views.append(_ZEROS[: start - self.offset])
            self.offset = start
            self.views.append(arr.reshape(-1).view(np.uint8).data)
        desc = msgpack.packb([code, [int(d) for d in arr.shape], self.offset, nbytes])
        self.offset += nbytes
        return msgpack.ExtType(ARRAY_EXT_CODE, desc)

    def walk(self, obj: object, depth: int) -> object:
        # numpy first: np.float64 is a float subclass, and should travel like np.uint64 does.
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, np.generic):
            return self.array(np.asarray(obj))
        if obj is None or isinstance(obj, (bool, float, str, bytes)):
            return obj
        if isinstance(obj, int):
            if not _INT_MIN <= obj <= _INT_MAX:
                raise LocalProtocolError("integer does not fit in 64 bits")
            return obj
        if depth >= MAX_DEPTH:
            raise LocalProtocolError(f"payload nested deeper than {MAX_DEPTH} levels")
        if isinstance(obj, (list, tuple)):
            return [self.walk(x, depth + 1) for x in obj]
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise LocalProtocolError(f"dict key of type {type(k).__name__} is not a str")
                out[k] = self.walk(v, depth + 1)
            return out
        if isinstance(obj, (bytearray, memoryview)):
            return bytes(obj)
        raise LocalProtocolError(f"values of type {type(obj).__name__} cannot be sent")


def encode_body(meta_obj: object) -> list[BytesPart]:
    """Encode a payload into body buffers ``[meta_len, msgpack(meta), pad, *array buffers]``
    (zero-byte paddings between them where alignment needs one; see the module docstring).

    Array buffers are memoryviews of the (C-contiguous, little-endian) arrays: no copy unless the
    array had to be converted.  The caller must not mutate those arrays until the bytes are sent.
    Raises :class:`LocalProtocolError` for a value that cannot be sent.
    """
    enc = _Encoder()
    tree = enc.walk(meta_obj, 0)
    try:
        meta = msgpack.packb(tree, use_bin_type=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise LocalProtocolError(f"payload cannot be packed ({type(exc).__name__})") from None
    if len(meta) > 2**32 - 1:
        raise LocalProtocolError("payload metadata is too large")
    parts: list[BytesPart] = [_META_LEN.pack(len(meta)), meta]
    head = _META_LEN.size + len(meta)
    if enc.views and _align(head) != head:
        parts.append(_ZEROS[: _align(head) - head])
    return parts + enc.views


def payload_nbytes(obj: object) -> int:
    """Sum of ``nbytes`` of every array inside a payload (lists, tuples and dict values)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return int(obj.nbytes)
    if isinstance(obj, (list, tuple)):
        return sum(payload_nbytes(x) for x in obj)
    if isinstance(obj, dict):
        return sum(payload_nbytes(v) for v in obj.values())
    return 0


# -- decoding ----------------------------------------------------------------------------------


def _is_int(x: object) -> bool:
    return type(x) is int


class _Decoder:
    def __init__(self, body: bytes | memoryview, blob_start: int) -> None:
        self.body = body
        self.blob_start = blob_start
        self.blob_len = len(body) - blob_start
        self.cursor = 0  # next expected array offset inside the blob

    def _nonzero(self, start: int, end: int) -> bool:
        at = self.blob_start
        return bytes(self.body[at + start : at + end]) != _ZEROS[: end - start]

    def ext_hook(self, code: int, data: bytes) -> np.ndarray[Any, Any]:
        if code != ARRAY_EXT_CODE:
            raise DecodeError(f"unknown msgpack extension type {code}")
        try:
            desc = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except Exception:
            raise DecodeError("malformed array descriptor") from None
        if not isinstance(desc, list) or len(desc) != 4:
            raise DecodeError("array descriptor is not a list of 4 items")
        code_, shape, offset, nbytes = desc
        if not (_is_int(code_) and _is_int(offset) and _is_int(nbytes)):
            raise DecodeError("array descriptor fields have the wrong types")
        if not 0 <= code_ < len(DTYPES):
            raise DecodeError(f"array dtype code {code_} is not allowed")
        if not isinstance(shape, list) or not all(_is_int(d) for d in shape):
            raise DecodeError("array shape is not a list of ints")
        if len(shape) > MAX_NDIM:
            raise DecodeError(f"array has {len(shape)} dimensions, more than {MAX_NDIM}")
        if not all(0 <= d <= _DIM_MAX for d in shape):
            raise DecodeError("array shape has a negative or huge dimension")
        dtype = DTYPES[code_]
        count = math.prod(shape)
        if count * dtype.itemsize != nbytes:
            raise DecodeError("array nbytes does not match its shape and dtype")
        if offset != (_align(self.cursor) if nbytes else self.cursor):
            raise DecodeError("array does not start where the previous one ended (aligned)")
        if nbytes > self.blob_len - offset:
            raise DecodeError("array extends past the end of the blob")
        if offset != self.cursor and self._nonzero(self.cursor, offset):
            raise DecodeError("padding before an array is not zero")
        self.cursor = offset + nbytes
        if count == 0:
            return np.empty(shape, dtype=dtype)
        arr = np.frombuffer(self.body, dtype=dtype, count=count, offset=self.blob_start + offset)
        arr.flags.writeable = False  # a view of the receive buffer, as with bytes bodies
        return arr.reshape(shape)


def _pairs_hook(pairs: list[tuple[object, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise DecodeError("map has duplicate keys")
    for k, v in pairs:
        if type(k) is not str:
            raise DecodeError("map key is not a str")
        if isinstance(v, msgpack.Timestamp):
            raise DecodeError("msgpack timestamps are not allowed")
    return out  # type: ignore[return-value]


def _list_hook(items: list[object]) -> list[object]:
    for x in items:
        if isinstance(x, msgpack.Timestamp):
            raise DecodeError("msgpack timestamps are not allowed")
    return items


def decode_body(body: bytes | bytearray | memoryview) -> object:
    """Decode a body into a payload; arrays are read-only views into ``body``.

    Raises :class:`DecodeError` for anything malformed; its message never contains payload data.
    """
    if not isinstance(body, bytes):
        # No copy: a receive buffer (a memoryview over a bytearray or an array) is decoded
        # in place.
        body = memoryview(body).cast("B")
    if len(body) < _META_LEN.size:
        raise DecodeError("body is shorter than its metadata length prefix")
    (meta_len,) = _META_LEN.unpack_from(body, 0)
    meta_end = _META_LEN.size + meta_len
    if meta_len == 0 or meta_end > len(body):
        raise DecodeError("metadata length is zero or exceeds the body")
    blob_start = meta_end if meta_end == len(body) else _align(meta_end)
    if blob_start >= len(body) and meta_end != len(body):
        raise DecodeError("padding after the metadata without a blob")
    if bytes(body[meta_end:blob_start]) != _ZEROS[: blob_start - meta_end]:
        raise DecodeError("padding after the metadata is not zero")
    dec = _Decoder(body, blob_start)
    meta = memoryview(body)[_META_LEN.size : meta_end]
    try:
        obj = msgpack.unpackb(
            meta,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=dec.ext_hook,
            object_pairs_hook=_pairs_hook,
            list_hook=_list_hook,
        )
    except DecodeError:
        raise
    except Exception as exc:
        # The original message may quote payload bytes (e.g. UnicodeDecodeError): drop it.
        raise DecodeError(f"malformed msgpack metadata ({type(exc).__name__})") from None
    if isinstance(obj, msgpack.Timestamp):
        raise DecodeError("msgpack timestamps are not allowed")
    if dec.cursor != dec.blob_len:
        raise DecodeError("arrays do not cover the blob exactly")
    return obj
