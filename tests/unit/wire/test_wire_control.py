"""Typed CONTROL operations and the HELLO/ABORT bodies: round trips and refusals.

Every operation must survive ``encode_op`` -> the real body codec -> ``decode_op`` unchanged;
bodies with a field of the wrong type, a missing or extra field, an unknown op or an over-long
string must be refused with :class:`DecodeError` whose text quotes none of the peer's values.

May import: pytest, hypothesis, the standard library, :mod:`mpc_runtime.wire` and
:mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.errors import DecodeError, LocalProtocolError
from mpc_runtime.wire import decode_body, encode_body
from mpc_runtime.wire.control import (
    MAX_TEXT,
    REASON_CHARS,
    Abort,
    Accept,
    ControlOp,
    Done,
    Finished,
    Hello,
    Join,
    Material,
    MaterialError,
    MaterialReply,
    Received,
    Refuse,
    Sealed,
    Start,
    decode_abort,
    decode_hello,
    decode_op,
    encode_abort,
    encode_hello,
    encode_op,
)

MARK = "SENTINEL-7f3a"
"""A value planted in refused bodies: no error text may contain it."""

SAMPLES: list[ControlOp] = [
    Join(spec_hash="ab" * 32, spec={"job": "j", "parties": [1, 2, 3], "nested": {"x": 1.5}}),
    Accept(),
    Refuse(code="spec-mismatch", reason="holds another spec"),
    Start(),
    Sealed(output="avg", recipient="recipient:analyst", blob=b"\x00\x01sealed", sender="party:2"),
    Done(ledger={"online": {"rounds": 3}}),
    Received(),
    Finished(),
    Material(rid=7, path="main/mul#0/pre#0", items=[["triple", [4], None], ["trunc", [2], 16]]),
    MaterialReply(rid=7, seed=b"\x11" * 16, corrections=[b"\x00" * 8, b"\x01" * 8]),
    MaterialError(rid=9, code="budget", reason="out of material"),
]


def through_codec(body: dict[str, Any]) -> Any:
    """What the peer decodes: the body packed by the real codec and unpacked again."""
    return decode_body(b"".join(encode_body(body)))


def assert_quiet(err: BaseException, *values: object) -> None:
    """The error text quotes none of ``values`` (nor the sentinel)."""
    text = str(err)
    assert MARK not in text
    for v in values:
        assert str(v) not in text


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", SAMPLES, ids=lambda o: type(o).__name__)
def test_every_operation_round_trips(op: ControlOp) -> None:
    body = encode_op(op)
    assert body["op"] == op.op
    assert decode_op(body) == op
    again = decode_op(through_codec(body))
    assert again == op
    assert type(again) is type(op)


def test_every_registered_operation_has_a_sample() -> None:
    names = {type(o).op for o in SAMPLES}
    assert len(names) == len(SAMPLES)
    # Each wire name decodes to its own class (no two classes share a name).
    for op in SAMPLES:
        assert type(decode_op(encode_op(op))) is type(op)


def test_hello_and_abort_round_trip() -> None:
    for hello in (Hello("c"), Hello("c", "job-1", "f" * 64)):
        assert decode_hello(through_codec(encode_hello(hello))) == hello
    abort = Abort("RoundTimeout", "party:3 was silent", "party:3", "main/mul#0", 4)
    assert decode_abort(through_codec(encode_abort(abort))) == abort
    bare = Abort("ProgramError", "failed")
    assert decode_abort(through_codec(encode_abort(bare))) == bare


def test_abort_reason_is_shortened_to_one_line() -> None:
    abort = Abort("x", "line one\n\tline two   " + "y" * 1000)
    sent = encode_abort(abort)["reason"]
    assert len(sent) == REASON_CHARS
    assert sent.startswith("line one line two y")
    assert "\n" not in sent and "\t" not in sent


def test_reprs_hide_blobs_seeds_and_ledgers() -> None:
    secret = b"TOPSECRETBYTES"
    shown = " ".join(
        repr(o)
        for o in (
            Sealed("o", "recipient:a", secret),
            MaterialReply(1, secret, [secret]),
            Done({"k": secret.decode()}),
        )
    )
    assert "TOPSECRET" not in shown


def test_encode_refuses_an_unregistered_operation() -> None:
    @dataclasses.dataclass(frozen=True)
    class Rogue(ControlOp):
        op: ClassVar[str] = "rogue"

    with pytest.raises(LocalProtocolError):
        encode_op(Rogue())


# ---- refusals ------------------------------------------------------------------------------


def _wrong_values(sample: object) -> list[object]:
    """Values of a type other than the sample's (bool where an int is wanted, too)."""
    if isinstance(sample, bool):
        return [1, MARK]
    if isinstance(sample, int):
        return [MARK, True, 1.5, [1]]
    if isinstance(sample, str):
        return [12345, MARK.encode(), [MARK], {"v": MARK}]
    if isinstance(sample, bytes):
        return [MARK, 7, [1]]
    if isinstance(sample, dict):
        return [[MARK], MARK, 3]
    if isinstance(sample, list):
        return [{"v": MARK}, MARK, 3]
    raise AssertionError(f"no wrong values for {type(sample).__name__}")


def _field_cases() -> list[tuple[ControlOp, str]]:
    return [(op, f.name) for op in SAMPLES for f in dataclasses.fields(op)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "name"), _field_cases(), ids=lambda x: x if isinstance(x, str) else type(x).__name__
)
def test_wrong_field_type_is_refused_without_quoting(op: ControlOp, name: str) -> None:
    for wrong in _wrong_values(getattr(op, name)):
        body = encode_op(op)
        body[name] = wrong
        with pytest.raises(DecodeError) as info:
            decode_op(body)
        assert_quiet(info.value, wrong)
        assert name in str(info.value)


def _required(op: object) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(op)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


@pytest.mark.parametrize("op", SAMPLES, ids=lambda o: type(o).__name__)
def test_missing_or_null_required_field_is_refused(op: ControlOp) -> None:
    for name in _required(op):
        body = encode_op(op)
        del body[name]
        with pytest.raises(DecodeError, match=name):
            decode_op(body)
        body[name] = None
        with pytest.raises(DecodeError, match=name):
            decode_op(body)


@pytest.mark.parametrize("op", SAMPLES, ids=lambda o: type(o).__name__)
def test_extra_field_is_refused_without_naming_it(op: ControlOp) -> None:
    body = encode_op(op)
    body[MARK] = MARK
    with pytest.raises(DecodeError) as info:
        decode_op(body)
    assert_quiet(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"op": MARK},
        {"op": 5},
        {"op": None},
        {},
        {"op": "Accept"},  # the class name is not the wire name
        {"op": "register_op"},
    ],
)
def test_unknown_operation_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(DecodeError, match="unknown control operation") as info:
        decode_op(body)
    assert_quiet(info.value)


@pytest.mark.parametrize("body", [[MARK], MARK, 5, None, b"x"])
def test_non_map_bodies_are_refused(body: object) -> None:
    for decode in (decode_op, decode_hello, decode_abort):
        with pytest.raises(DecodeError) as info:
            decode(body)
        assert_quiet(info.value)


def test_over_long_strings_are_refused() -> None:
    long = MARK + "x" * MAX_TEXT
    cases: list[tuple[Any, dict[str, Any]]] = [
        (decode_op, {"op": "refuse", "code": long, "reason": "r"}),
        (decode_op, {"op": "refuse", "code": "c", "reason": long}),
        (decode_op, {"op": "join", "spec_hash": long, "spec": {}}),
        (decode_op, {"op": "material", "rid": 1, "path": long, "items": []}),
        (decode_hello, {"cluster": long}),
        (decode_hello, {"cluster": "c", "job": long}),
        (decode_abort, {"code": "c", "reason": long}),
        (decode_abort, {"code": "c", "reason": "r", "culprit": long}),
    ]
    for decode, body in cases:
        with pytest.raises(DecodeError, match=str(MAX_TEXT)) as info:
            decode(body)
        assert_quiet(info.value)
    exactly = "x" * MAX_TEXT
    assert decode_hello({"cluster": exactly}).cluster == exactly


def test_hello_and_abort_field_checks() -> None:
    with pytest.raises(DecodeError, match="cluster"):
        decode_hello({"job": "j"})
    with pytest.raises(DecodeError) as info:
        decode_hello({"cluster": "c", MARK: 1})
    assert_quiet(info.value)
    with pytest.raises(DecodeError, match="round"):
        decode_abort({"code": "c", "reason": "r", "round": MARK})
    with pytest.raises(DecodeError, match="round"):
        decode_abort({"code": "c", "reason": "r", "round": True})
    # Optional fields may be null.
    assert decode_abort({"code": "c", "reason": "r", "culprit": None}) == Abort("c", "r")


@pytest.mark.parametrize(
    ("decode", "body"),
    [
        (decode_hello, {"cluster": "c", "job": None}),
        (decode_hello, {"cluster": "c", "spec": None}),
        (decode_op, {"op": "sealed", "output": "o", "recipient": "r", "blob": b"", "sender": None}),
    ],
    ids=["hello-job", "hello-spec", "sealed-sender"],
)
def test_null_in_a_defaulted_str_field_is_refused(decode: Any, body: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        decode(body)


# ---- property tests ------------------------------------------------------------------------

_text = st.text(max_size=40)
_u64 = st.integers(-(2**63), 2**64 - 1)
_json = st.recursive(
    st.none() | st.booleans() | _u64 | st.floats(allow_nan=False) | _text | st.binary(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_text, kids, max_size=3),
    max_leaves=8,
)
_ops: st.SearchStrategy[ControlOp] = st.one_of(
    st.builds(Join, spec_hash=_text, spec=st.dictionaries(_text, _json, max_size=4)),
    st.builds(Accept),
    st.builds(Refuse, code=_text, reason=_text),
    st.builds(Start),
    st.builds(Sealed, output=_text, recipient=_text, blob=st.binary(max_size=64), sender=_text),
    st.builds(Done, ledger=st.dictionaries(_text, _json, max_size=4)),
    st.builds(Received),
    st.builds(Finished),
    st.builds(Material, rid=_u64, path=_text, items=st.lists(_json, max_size=4)),
    st.builds(
        MaterialReply,
        rid=_u64,
        seed=st.binary(max_size=32),
        corrections=st.none() | st.lists(st.binary(max_size=16), max_size=3),
    ),
    st.builds(MaterialError, rid=_u64, code=_text, reason=_text),
)


@settings(max_examples=200, deadline=None)
@given(op=_ops)
def test_property_operations_round_trip_through_the_codec(op: ControlOp) -> None:
    assert decode_op(through_codec(encode_op(op))) == op


_opt_text = st.none() | _text


@settings(max_examples=100, deadline=None)
@given(
    hello=st.builds(Hello, cluster=_text, job=_text, spec=_text),
    abort=st.builds(
        Abort,
        code=_text,
        reason=st.text(max_size=REASON_CHARS).map(lambda s: " ".join(s.split())),
        culprit=_opt_text,
        op_path=_opt_text,
        round=st.none() | st.integers(0, 2**32 - 1),
    ),
)
def test_property_hello_and_abort_round_trip(hello: Hello, abort: Abort) -> None:
    assert decode_hello(through_codec(encode_hello(hello))) == hello
    assert decode_abort(through_codec(encode_abort(abort))) == abort


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.text(max_size=12), _json, max_size=5), op=_ops)
def test_property_decoding_anything_raises_only_decode_error(
    body: dict[str, Any], op: ControlOp
) -> None:
    """Arbitrary maps, and valid bodies with one field replaced by junk, never crash the decoder."""
    for candidate in (body, {**body, "op": op.op}, {**encode_op(op), **body}):
        try:
            decoded = decode_op(candidate)
        except DecodeError:
            continue
        assert isinstance(decoded, ControlOp)
