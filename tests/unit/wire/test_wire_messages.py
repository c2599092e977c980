"""Messages: round trips, header validation, reprs without bodies, import rules."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_strategies import frame_bytes, messages, raw_body, same_message

import mpc_runtime.wire
from mpc_runtime.errors import DecodeError, LocalProtocolError
from mpc_runtime.wire import Message, MsgKind, encode_body
from mpc_runtime.wire.messages import message_from_body, to_wire


def _body(meta: object) -> bytes:
    return b"".join(encode_body(meta))


def good_meta(**over: object) -> dict[str, object]:
    meta: dict[str, object] = {"k": 2, "s": "1", "j": "job", "p": "a/b", "r": 0, "b": None}
    meta.update(over)
    return meta


@given(messages)
def test_message_roundtrip(msg: Message) -> None:
    wire = frame_bytes(to_wire(msg))
    assert int.from_bytes(wire[:4], "big") == len(wire) - 4
    assert same_message(msg, message_from_body(wire[4:]))


def test_kind_values() -> None:
    assert [(k.name, k.value) for k in MsgKind] == [
        ("HELLO", 1),
        ("DATA", 2),
        ("ABORT", 3),
        ("BYE", 4),
        ("CONTROL", 5),
        ("PING", 6),
    ]


def test_defaults_and_meta_keys() -> None:
    msg = Message(MsgKind.HELLO, "party:1")
    got = message_from_body(frame_bytes(to_wire(msg))[4:])
    assert (got.job, got.path, got.round, got.body) == ("", "", 0, None)


@pytest.mark.parametrize(
    "meta",
    [
        good_meta(k=0),
        good_meta(k=7),
        good_meta(k=True),
        good_meta(k="2"),
        good_meta(s=1),
        good_meta(s="x" * 257),
        good_meta(j="x" * 129),
        good_meta(p="x" * 513),
        good_meta(p=b"bytes"),
        good_meta(r=-1),
        good_meta(r=2**32),
        good_meta(r=1.0),
        good_meta(r=False),
        good_meta(extra=1),
        {k: v for k, v in good_meta().items() if k != "b"},
        [2, "1", "", "", 0, None],
        None,
    ],
)
def test_bad_headers(meta: object) -> None:
    with pytest.raises(DecodeError):
        message_from_body(_body(meta))


def test_limits_are_inclusive() -> None:
    meta = good_meta(s="x" * 256, j="y" * 128, p="z" * 512, r=2**32 - 1)
    msg = message_from_body(_body(meta))
    assert msg.round == 2**32 - 1


def test_bad_header_errors_do_not_quote_values() -> None:
    with pytest.raises(DecodeError) as info:
        message_from_body(_body(good_meta(s="SECRET" * 100)))
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    "msg",
    [
        Message(7, "a"),  # type: ignore[arg-type]
        Message(MsgKind.DATA, "a" * 300),
        Message(MsgKind.DATA, "a", round=-1),
        Message(MsgKind.DATA, "a", round=2**32),
        Message(MsgKind.DATA, 5),  # type: ignore[arg-type]
        Message(MsgKind.DATA, "a", body={1, 2}),
    ],
)
def test_unsendable_messages(msg: Message) -> None:
    with pytest.raises(LocalProtocolError):
        to_wire(msg)


@given(secret=st.text(min_size=8, max_size=40).map(lambda s: "S3CR3T" + s))
def test_repr_never_shows_body(secret: str) -> None:
    for body in (secret, {"x": secret}, [secret.encode()], np.array([123456789], np.uint64)):
        msg = Message(MsgKind.DATA, "1", "j", "p", 3, body)
        for text in (repr(msg), str(msg), f"{msg}", repr([msg])):
            assert "S3CR3T" not in text and "123456789" not in text
            assert "body=<...>" in text and "kind=" in text and "round=3" in text


def test_wire_does_not_import_io_modules() -> None:
    forbidden = {"asyncio", "ssl", "socket", "pickle"}
    for path in Path(mpc_runtime.wire.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_raw_body_helper_is_decodable() -> None:
    assert message_from_body(raw_body(good_meta())).sender == "1"
