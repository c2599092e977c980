"""The frame decoder reuses a large body only once nobody else holds it.

A received array is a view of its frame's body; if the decoder filled that body again for a later
frame, a protocol still holding the array would see its values change under it.  These tests hold
views (memoryviews, slices, numpy arrays) across later frames and check their bytes never change,
and check that a body nobody holds any more is in fact reused (the point of the pool).
"""

from __future__ import annotations

import gc
import struct

import numpy as np

from mpc_runtime.wire.frames import LAZY_BODY_BYTES, REUSE_FRAMES, REUSE_MIN_BYTES, FrameDecoder

SIZE = REUSE_MIN_BYTES + 4096  # a memory-mapped body large enough to be kept for reuse


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
    for fill in range(2, 2 + 3 * REUSE_FRAMES):
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


def test_a_released_body_is_reused() -> None:
    dec = FrameDecoder(1 << 25)
    first = _receive(dec, _frame(1))
    body = id(first.obj)  # not a reference: holding the body would keep it from reuse
    del first
    gc.collect()
    second = _receive(dec, _frame(2))
    assert id(second.obj) == body  # nobody held the first (the pool keeps it alive): reused
    assert second[0] == 2 and second[-1] == 2


def test_a_much_smaller_frame_gets_a_new_body() -> None:
    dec = FrameDecoder(1 << 25)
    first = _receive(dec, _frame(1, SIZE * 2))
    body = id(first.obj)
    del first
    second = _receive(dec, _frame(2))
    assert id(second.obj) != body  # reuse only within REUSE_SLACK of the size
    assert len(second) == SIZE


def test_a_mid_sized_body_is_not_kept() -> None:
    dec = FrameDecoder(1 << 25)
    size = LAZY_BODY_BYTES + 4096  # memory-mapped, but below REUSE_MIN_BYTES
    first = _receive(dec, _frame(1, size))
    body = id(first.obj)
    del first
    gc.collect()
    second = _receive(dec, _frame(2, size))
    assert id(second.obj) != body  # not pooled: no peak memory held for mid-sized rounds
