"""Large frame bodies: uninitialised heap arrays, never refilled while held, never kept.

A received array is a view of its frame's body; if the decoder wrote a later frame into that
body, a protocol still holding the array would see its values change under it.  These tests
hold views (memoryviews, slices, numpy arrays) across later frames and check their bytes never
change, that a body is handed out only once all of it arrived (its old heap contents are never
visible), and that the decoder keeps no body once the caller has dropped it.
"""

from __future__ import annotations

import gc
import struct
import weakref

import numpy as np
import pytest

from mpc_runtime.wire.frames import LAZY_BODY_BYTES, FrameDecoder, StreamTruncated

SIZE = 8 * LAZY_BODY_BYTES + 4096  # a heap body, like a multiplication round's


def _frame(fill: int, size: int = SIZE) -> bytes:
    return struct.pack(">I", size) + bytes([fill]) * size


def _receive(dec: FrameDecoder, data: bytes) -> memoryview:
    """Feed ``data`` through the BufferedProtocol path (get_buffer/buffer_updated)."""
    view = memoryview(data)
    while view:
        buf = dec.get_buffer()
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        dec.buffer_updated(n)
        view = view[n:]
    frame = dec.next_frame()
    assert frame is not None
    return frame


def test_a_held_array_keeps_its_bytes_while_later_frames_arrive() -> None:
    dec = FrameDecoder(1 << 25)
    first = _receive(dec, _frame(1))
    held = np.frombuffer(first[8:], dtype=np.uint64)  # a numpy view of a slice, as decoding makes
    del first
    gc.collect()
    for fill in range(2, 8):
        later = _receive(dec, _frame(fill))
        assert later[0] == fill and later[-1] == fill
        del later
        assert (held == np.uint64(0x0101010101010101)).all()  # never overwritten


def test_a_held_memoryview_slice_keeps_its_body() -> None:
    dec = FrameDecoder(1 << 25)
    piece = _receive(dec, _frame(7))[100:200]
    for fill in (8, 9, 10, 11):
        del_later = _receive(dec, _frame(fill))
        del del_later
    assert bytes(piece) == bytes([7]) * 100


def test_large_bodies_are_writable_heap_arrays_and_small_ones_bytearrays() -> None:
    dec = FrameDecoder(1 << 25)
    big = _receive(dec, _frame(1, LAZY_BODY_BYTES))
    small = _receive(dec, _frame(2, LAZY_BODY_BYTES - 1))
    assert isinstance(big.obj, np.ndarray) and not big.readonly
    assert isinstance(small.obj, bytearray)
    assert big == bytes([1]) * LAZY_BODY_BYTES  # every byte written, none left over


def test_the_decoder_keeps_no_body_the_caller_dropped() -> None:
    dec = FrameDecoder(1 << 25)
    frame = _receive(dec, _frame(3))
    body = weakref.ref(frame.obj)
    del frame
    gc.collect()
    assert body() is None  # released at once: nothing held between frames


def test_two_held_frames_never_share_memory() -> None:
    dec = FrameDecoder(1 << 25)
    first = _receive(dec, _frame(4))
    second = _receive(dec, _frame(5))
    assert not np.shares_memory(np.asarray(first), np.asarray(second))
    assert first[0] == 4 and second[-1] == 5


def test_a_truncated_large_frame_shows_nothing() -> None:
    # An uninitialised body is handed out only once all of it has arrived.
    dec = FrameDecoder(1 << 25)
    data = _frame(3)[: SIZE // 2]
    buf = dec.get_buffer()
    n = min(len(buf), len(data))
    buf[:n] = data[:n]
    dec.buffer_updated(n)
    dec.receive_data(data[n:])
    assert dec.next_frame() is None
    dec.receive_eof()
    with pytest.raises(StreamTruncated):  # reported; the partial body is never returned
        dec.next_frame()
