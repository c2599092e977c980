"""Fuzzing the decoder with random and mutated frames: only Message/None or DecodeError.

The long run is opt-in: ``pytest -m fuzz tests/unit/wire`` (``MPC_FUZZ_EXAMPLES`` sets the count,
default 100000); a short run of the same properties is part of the default suite.
"""

from __future__ import annotations

import os
import struct

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_strategies import drain, frame, frame_bytes, messages

from mpc_runtime.wire import MessageStream

MAX_FRAME = 1 << 16

_ext_descriptors = st.one_of(
    st.tuples(
        st.integers(-2, 8),
        st.lists(st.integers(-3, 12), max_size=10),
        st.integers(-4, 80),
        st.integers(-4, 80),
    ).map(lambda t: msgpack.packb(list(t))),
    st.binary(max_size=12),
)
_exts = st.one_of(
    _ext_descriptors.map(lambda d: msgpack.ExtType(1, d)),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8)),
)
_meta_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | _exts
)
_metas = st.recursive(
    _meta_leaves,
    lambda ch: (
        st.lists(ch, max_size=4)
        | st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 3)), ch, max_size=4)
    ),
    max_leaves=10,
)
_header_metas = st.fixed_dictionaries(
    {
        "k": st.integers(-1, 7),
        "s": st.text(max_size=4),
        "j": st.text(max_size=4),
        "p": st.text(max_size=4),
        "r": st.integers(-1, 2**33),
        "b": _metas,
    }
)


@st.composite
def structured_bodies(draw: st.DrawFn) -> bytes:
    meta = msgpack.packb(draw(st.one_of(_header_metas, _metas)), use_bin_type=True)
    blob = draw(st.binary(max_size=80))
    meta_len = len(meta) if draw(st.integers(0, 9)) else draw(st.integers(0, len(meta) + 4))
    return struct.pack(">I", meta_len) + meta + blob


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    source = draw(st.integers(0, 2))
    if source == 0:
        tx = MessageStream(MAX_FRAME)
        stream = b"".join(frame_bytes(tx.send(m)) for m in draw(st.lists(messages, max_size=3)))
    elif source == 1:
        stream = b"".join(frame(b) for b in draw(st.lists(structured_bodies(), max_size=3)))
    else:
        stream = draw(st.binary(max_size=400))
    data = bytearray(stream)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == 2:
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            data[pos : pos + 1] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


def _check(stream: bytes, cuts: list[int]) -> None:
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[lo:hi] for lo, hi in zip(points, points[1:], strict=False)]
    drain(MessageStream(MAX_FRAME), chunks)


_cuts = st.lists(st.integers(0, 4096), max_size=6)
_suppress = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@settings(max_examples=300, deadline=None, suppress_health_check=_suppress)
@given(stream=mutated_streams(), cuts=_cuts)
def test_mutated_frames_short(stream: bytes, cuts: list[int]) -> None:
    _check(stream, cuts)


@settings(max_examples=300, deadline=None, suppress_health_check=_suppress)
@given(body=structured_bodies())
def test_structured_bodies_short(body: bytes) -> None:
    _check(frame(body), [])


@pytest.mark.fuzz
@settings(
    max_examples=int(os.environ.get("MPC_FUZZ_EXAMPLES", "100000")),
    deadline=None,
    suppress_health_check=_suppress,
)
@given(stream=mutated_streams(), cuts=_cuts)
def test_mutated_frames_fuzz(stream: bytes, cuts: list[int]) -> None:
    _check(stream, cuts)


@pytest.mark.fuzz
@settings(
    max_examples=int(os.environ.get("MPC_FUZZ_EXAMPLES", "100000")),
    deadline=None,
    suppress_health_check=_suppress,
)
@given(body=structured_bodies())
def test_structured_bodies_fuzz(body: bytes) -> None:
    _check(frame(body), [])
