"""The per-peer wire state machine, driven without sockets: two connections wired through bytes.

``WireConnection`` on each side enforces HANDSHAKE -> OPEN -> CLOSING -> ENDED: HELLO first,
nothing but ABORT/PING/BYE after BYE, nothing after ABORT; the end of stream is clean only after
BYE or ABORT; every message must carry the peer's identity; PINGs never surface; frame sizes on
events are the bytes fed; once broken, a connection stays broken.  Out-of-order messages are made
with a bare :class:`MessageStream` (which has no notion of order) acting as a misbehaving peer.

May import: pytest, hypothesis, the standard library, numpy, :mod:`mpc_runtime.wire` and
:mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.errors import DecodeError, LocalProtocolError, RemoteProtocolError
from mpc_runtime.wire import (
    Abort,
    Bye,
    Control,
    Data,
    EndOfStream,
    Event,
    Hello,
    HelloEvent,
    Message,
    MessageStream,
    MsgKind,
    PeerAbort,
    Refuse,
    Start,
    State,
    WireConnection,
    encode_op,
)
from mpc_runtime.wire.control import encode_abort, encode_hello

MAX = 1 << 20
A, B = "party:1", "party:2"


def hello(sender: str = A) -> Message:
    return Message(MsgKind.HELLO, sender, body=encode_hello(Hello("c", "job", "spec")))


def data(sender: str = A, rnd: int = 1, body: Any = b"payload") -> Message:
    return Message(MsgKind.DATA, sender, "job", "main/x#0", rnd, body)


def control(sender: str = A) -> Message:
    return Message(MsgKind.CONTROL, sender, "job", body=encode_op(Start()))


def ping(sender: str = A) -> Message:
    return Message(MsgKind.PING, sender)


def bye(sender: str = A) -> Message:
    return Message(MsgKind.BYE, sender, "job")


def abort(sender: str = A) -> Message:
    return Message(MsgKind.ABORT, sender, "job", body=encode_abort(Abort("x", "stopping")))


def pair() -> tuple[WireConnection, WireConnection]:
    """A's connection (to B) and B's connection (to A), each checking the other's identity."""
    return WireConnection(MAX, peer=B), WireConnection(MAX, peer=A)


def frame(conn: MessageStream, msg: Message) -> bytes:
    return b"".join(conn.send(msg))


def deliver(src: MessageStream, dst: WireConnection, msg: Message) -> int:
    """Send ``msg`` on ``src`` and feed its frame to ``dst``; returns the frame size."""
    wire = frame(src, msg)
    dst.receive_data(wire)
    return len(wire)


def events(conn: WireConnection) -> list[Event]:
    out: list[Event] = []
    while (ev := conn.next_event()) is not None:
        out.append(ev)
    return out


def rogue(dst: WireConnection, msgs: Iterable[Message]) -> None:
    """A peer without a state machine: frames any message in any order."""
    raw = MessageStream(MAX)
    for m in msgs:
        dst.receive_data(frame(raw, m))


# ---- the handshake ------------------------------------------------------------------------


def test_hello_opens_both_directions() -> None:
    a, b = pair()
    assert a.our_state is State.HANDSHAKE and b.their_state is State.HANDSHAKE
    deliver(a, b, hello(A))
    deliver(b, a, hello(B))
    assert events(b) == [HelloEvent(Hello("c", "job", "spec"))]
    assert events(a) == [HelloEvent(Hello("c", "job", "spec"))]
    assert a.our_state is a.their_state is State.OPEN
    assert b.our_state is b.their_state is State.OPEN


@pytest.mark.parametrize("make", [data, control, bye, ping], ids=["DATA", "CONTROL", "BYE", "PING"])
def test_sending_before_hello_is_a_local_error(make: Any) -> None:
    a, _ = pair()
    with pytest.raises(LocalProtocolError, match="handshake"):
        a.send(make(A))
    assert a.bytes_sent == 0 and a.messages_sent == 0
    assert a.our_state is State.HANDSHAKE
    a.send(hello(A))  # the refusal left nothing half done
    assert a.our_state is State.OPEN


@pytest.mark.parametrize("make", [data, control, bye, ping], ids=["DATA", "CONTROL", "BYE", "PING"])
def test_receiving_before_hello_is_a_remote_error(make: Any) -> None:
    _, b = pair()
    rogue(b, [make(A)])
    with pytest.raises(RemoteProtocolError, match="did not start with HELLO") as info:
        b.next_event()
    assert info.value.peer == A


def test_abort_instead_of_hello_is_a_refusal() -> None:
    a, b = pair()
    deliver(a, b, abort(A))
    a_ev = events(b)
    assert len(a_ev) == 1 and isinstance(a_ev[0], PeerAbort)
    assert a_ev[0].abort == Abort("x", "stopping")
    b.receive_eof()
    assert b.next_event() == EndOfStream(clean=True)


def test_second_hello_is_refused_both_ways() -> None:
    a, b = pair()
    deliver(a, b, hello(A))
    with pytest.raises(LocalProtocolError):
        a.send(hello(A))
    events(b)
    rogue(b, [hello(A)])
    with pytest.raises(RemoteProtocolError, match="unexpected HELLO"):
        b.next_event()


# ---- after BYE and after ABORT --------------------------------------------------------------


def _opened() -> tuple[WireConnection, WireConnection]:
    a, b = pair()
    deliver(a, b, hello(A))
    deliver(b, a, hello(B))
    events(a)
    events(b)
    return a, b


@pytest.mark.parametrize("make", [data, control, hello], ids=["DATA", "CONTROL", "HELLO"])
def test_after_bye_only_abort_ping_bye_may_be_sent(make: Any) -> None:
    a, b = _opened()
    deliver(a, b, bye(A))
    assert a.our_state is State.CLOSING
    with pytest.raises(LocalProtocolError, match="closing"):
        a.send(make(A))
    for allowed in (ping(A), bye(A), abort(A)):
        deliver(a, b, allowed)
    assert a.our_state is State.ENDED
    got = events(b)
    assert [type(e) for e in got] == [Bye, Bye, PeerAbort]


@pytest.mark.parametrize("make", [data, control, hello], ids=["DATA", "CONTROL", "HELLO"])
def test_after_bye_only_abort_ping_bye_may_be_received(make: Any) -> None:
    _, b = _opened()
    rogue(b, [bye(A), ping(A), bye(A), make(A)])
    assert b.next_event() == Bye("job")
    assert b.next_event() == Bye("job")  # the PING between them was consumed silently
    with pytest.raises(RemoteProtocolError, match="after saying goodbye"):
        b.next_event()


@pytest.mark.parametrize(
    "make", [data, control, hello, ping, bye, abort], ids=lambda f: f.__name__.upper()
)
def test_nothing_may_follow_an_abort(make: Any) -> None:
    a, b = _opened()
    deliver(a, b, abort(A))
    with pytest.raises(LocalProtocolError, match="ended"):
        a.send(make(A))
    _, b = _opened()
    rogue(b, [abort(A), make(A)])
    assert isinstance(b.next_event(), PeerAbort)
    with pytest.raises(RemoteProtocolError, match="after aborting"):
        b.next_event()


# ---- end of stream -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "clean"),
    [([], False), ([hello], False), ([hello, bye], True), ([hello, abort], True), ([abort], True)],
    ids=["handshake", "open", "after-bye", "after-abort", "abort-only"],
)
def test_end_of_stream_is_clean_only_after_bye_or_abort(before: list[Any], clean: bool) -> None:
    a, b = pair()
    for make in before:
        deliver(a, b, make(A))
    events(b)
    b.receive_eof()
    assert b.next_event() == EndOfStream(clean=clean)
    assert b.their_state is State.ENDED
    assert b.next_event() is None  # reported once


def test_end_of_stream_in_the_middle_of_a_frame() -> None:
    a, b = _opened()
    wire = frame(a, data(A, body=np.arange(100, dtype=np.uint64)))
    b.receive_data(wire[:-3])
    assert b.next_event() is None
    b.receive_eof()
    assert b.next_event() == EndOfStream(clean=False, detail="in the middle of a frame")
    assert b.next_event() is None


def test_end_of_stream_inside_a_header_after_bye_is_not_clean() -> None:
    a, b = _opened()
    deliver(a, b, bye(A))
    b.receive_data(b"\x00\x00")
    assert b.next_event() == Bye("job")
    b.receive_eof()
    assert b.next_event() == EndOfStream(clean=False, detail="in the middle of a frame")


def test_messages_before_eof_are_still_delivered() -> None:
    a, b = _opened()
    deliver(a, b, data(A, 1))
    deliver(a, b, bye(A))
    b.receive_eof()
    got = events(b)
    assert [type(e) for e in got] == [Data, Bye, EndOfStream]
    assert got[-1] == EndOfStream(clean=True)


# ---- identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "claimed"),
    [
        ("party:3", "party:3"),
        ("coordinator", "coordinator"),
        ("recipient:eve", "recipient:eve"),
        ("party:1 DROP TABLE", "an invalid identity"),
        ("", "an invalid identity"),
        ("x" * 200, "an invalid identity"),
    ],
)
def test_a_message_from_another_sender_is_refused(sender: str, claimed: str) -> None:
    a, b = _opened()
    rogue(b, [data(sender)])
    with pytest.raises(RemoteProtocolError) as info:
        b.next_event()
    err = info.value
    assert err.claimed == claimed
    assert err.peer == A
    if claimed == "an invalid identity":
        assert sender not in str(err) or not sender


def test_identity_is_checked_on_the_hello_too() -> None:
    _, b = pair()
    rogue(b, [hello("party:9")])
    with pytest.raises(RemoteProtocolError) as info:
        b.next_event()
    assert info.value.claimed == "party:9"


def test_without_a_peer_any_sender_is_accepted() -> None:
    a = WireConnection(MAX)
    b = WireConnection(MAX)
    deliver(a, b, hello("whoever"))
    assert isinstance(b.next_event(), HelloEvent)


# ---- counting and pings --------------------------------------------------------------------


def test_frame_sizes_on_events_equal_the_bytes_fed() -> None:
    a, b = _opened()
    fed_before = b.bytes_received
    sizes = [
        deliver(a, b, data(A, 1, np.arange(1000, dtype=np.uint64))),
        deliver(a, b, ping(A)),
        deliver(a, b, control(A)),
        deliver(a, b, data(A, 2, {"x": b"y" * 77})),
    ]
    got = events(b)
    assert [type(e) for e in got] == [Data, Control, Data]
    data1, ctl, data2 = got
    assert isinstance(data1, Data) and isinstance(ctl, Control) and isinstance(data2, Data)
    assert [data1.frame_bytes, ctl.frame_bytes, data2.frame_bytes] == [
        sizes[0],
        sizes[2],
        sizes[3],
    ]
    assert b.bytes_received - fed_before == sum(sizes)
    assert a.bytes_sent == b.bytes_received  # both count whole frames, headers included
    assert ctl.op == Start()
    assert (data1.path, data1.round, data1.job) == ("main/x#0", 1, "job")


_kinds = st.sampled_from(["data", "control", "ping"])


@settings(max_examples=80, deadline=None)
@given(
    middle=st.lists(_kinds, max_size=12),
    trailing_pings=st.integers(0, 3),
    end=st.sampled_from(["bye", "abort", "none"]),
    cuts=st.lists(st.integers(0, 10**5), max_size=20),
)
def test_property_pings_never_surface(
    middle: list[str], trailing_pings: int, end: str, cuts: list[int]
) -> None:
    """Any legal conversation, under any chunking: the events are the non-PING messages, then
    an end of stream that is clean exactly when the peer said BYE or ABORT."""
    a = WireConnection(MAX, peer=None)
    b = WireConnection(MAX, peer=A)
    makers = {"data": data, "control": control, "ping": ping}
    msgs = [hello(A)]
    msgs += [makers[k](A, *((i + 1,) if k == "data" else ())) for i, k in enumerate(middle)]
    if end == "bye":
        msgs += [bye(A)] + [ping(A)] * trailing_pings
    elif end == "abort":
        msgs += [abort(A)]
    else:
        msgs += [ping(A)] * trailing_pings
    stream = b"".join(frame(a, m) for m in msgs)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    got: list[Event] = []
    for lo, hi in zip(points, points[1:], strict=False):
        b.receive_data(stream[lo:hi])
        got += events(b)
    b.receive_eof()
    got += events(b)
    expected = [m.kind for m in msgs if m.kind is not MsgKind.PING]
    kind_of = {HelloEvent: MsgKind.HELLO, Data: MsgKind.DATA, Control: MsgKind.CONTROL}
    kind_of |= {Bye: MsgKind.BYE, PeerAbort: MsgKind.ABORT}
    assert [kind_of[type(e)] for e in got[:-1]] == expected
    assert got[-1] == EndOfStream(clean=end != "none")
    assert b.bytes_received == len(stream)


# ---- broken stays broken -------------------------------------------------------------------


def test_connection_stays_broken_after_an_order_error() -> None:
    _, b = pair()
    rogue(b, [data(A)])
    with pytest.raises(RemoteProtocolError) as first:
        b.next_event()
    rogue(b, [hello(A), data(A)])
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as again:
            b.next_event()
        assert again.value is first.value
    b.receive_eof()
    with pytest.raises(RemoteProtocolError):
        b.next_event()


def test_connection_stays_broken_after_an_identity_error() -> None:
    _, b = _opened()
    rogue(b, [data("party:7"), data(A)])
    with pytest.raises(RemoteProtocolError):
        b.next_event()
    with pytest.raises(RemoteProtocolError) as again:
        b.next_event()
    assert again.value.claimed == "party:7"


def test_bad_control_body_breaks_the_connection_and_names_the_peer() -> None:
    _, b = _opened()
    bad = Message(MsgKind.CONTROL, A, "job", body={"op": "refuse", "code": 1, "reason": "r"})
    rogue(b, [bad, control(A)])
    with pytest.raises(DecodeError) as info:
        b.next_event()
    assert info.value.peer == A
    with pytest.raises(DecodeError):
        b.next_event()
    good = Message(MsgKind.CONTROL, A, body=encode_op(Refuse("c", "r")))
    rogue(b, [good])
    with pytest.raises(DecodeError):
        b.next_event()


def test_garbage_bytes_break_the_connection() -> None:
    _, b = _opened()
    b.receive_data(b"\x00\x00\x00\x02\xc1\xc1")
    with pytest.raises(DecodeError) as info:
        b.next_event()
    assert info.value.peer == A
    rogue(b, [data(A)])
    with pytest.raises(DecodeError):
        b.next_event()


def test_bad_hello_body_is_a_decode_error() -> None:
    _, b = pair()
    rogue(b, [Message(MsgKind.HELLO, A, body={"cluster": 5})])
    with pytest.raises(DecodeError, match="cluster"):
        b.next_event()
