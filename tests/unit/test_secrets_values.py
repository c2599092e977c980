"""No input, share or output value in a repr, an exception message or a log line.

Every check plants a distinctive value (987654321 and friends) and looks for its digits.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import MPCError
from mpc_runtime.ids import Identity
from mpc_runtime.runtime.context import ArraySpec
from mpc_runtime.runtime.memory import handshake_mesh, memory_mesh, run_memory
from mpc_runtime.runtime.session import Session
from mpc_runtime.sharing import ring
from mpc_runtime.sharing.prg import PRG
from mpc_runtime.wire import Data, Message, MsgKind

SECRET = 987654321
DIGITS = str(SECRET)
TOO_BIG = 98765432109876543210  # above 2**63: out of range for encode_int
TOO_BIG_U64 = 18446744073709551557  # fits uint64, above INT_MAX


def leaks(text: str, *values: Any) -> list[str]:
    """The planted values (as decimal digits, and their 9-digit core) found in ``text``."""
    found = []
    for v in values:
        s = str(v)
        if s in text:
            found.append(s)
    if DIGITS in text:
        found.append(DIGITS)
    return found


def exc_text(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), *(repr(a) for a in exc.args)]
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not exc.__suppress_context__:
        parts.append(exc_text(cause))
    return "\n".join(parts)


# ---- reprs --------------------------------------------------------------------------------


def test_message_repr_hides_body() -> None:
    body = {"x": np.full(3, SECRET, dtype=np.uint64), "y": SECRET, "z": [SECRET]}
    msg = Message(MsgKind.DATA, sender="party:1", job="j", path="main/x#0", round=1, body=body)
    assert leaks(repr(msg)) == [] and leaks(str(msg)) == []
    assert "party:1" in repr(msg)


async def test_channel_context_session_reprs() -> None:
    chans = memory_mesh([1, 2])
    await handshake_mesh(chans, "j")
    ch = chans[1][2]
    await ch.send(Message(MsgKind.DATA, sender="party:1", job="j", body=SECRET))
    received = await chans[2][1].next_event()
    assert isinstance(received, Data) and received.body == SECRET
    assert leaks(repr(received)) == []
    s = Session(1, chans[1], job="j", round_timeout=1.0, inputs={"x": SECRET})
    ctx = s.context()
    for obj in (ch, chans[2][1], ctx, ctx.scope("mul"), s, s.mailbox, s.ledger):
        assert leaks(repr(obj)) == [], repr(obj)
        assert leaks(str(obj)) == [], str(obj)
    for c in chans.values():
        for x in c.values():
            x.close()


def test_prg_repr_hides_seed_and_stream() -> None:
    seed = SECRET.to_bytes(8, "big") * 2
    prg = PRG(seed)
    out = prg.bytes(32)
    text = repr(prg) + str(prg)
    for needle in (seed.hex(), repr(seed), out.hex(), repr(out)):
        assert needle not in text
    assert leaks(text) == []
    assert not any(
        seed in bytes(str(getattr(prg, a, "")), "latin1")
        for a in dir(prg)
        if not a.startswith("__")
    )


def test_shared_repr_hides_share() -> None:
    types = pytest.importorskip("protocols.types")
    sh = types.Shared(np.full((2, 3), SECRET, dtype=np.uint64), 0)
    assert leaks(repr(sh)) == [] and leaks(str(sh)) == [] and leaks(f"{sh}") == []
    assert "(2, 3)" in repr(sh)


def test_array_spec_error_hides_values() -> None:
    spec = ArraySpec(np.uint64, (4,))
    for bad in (
        np.full(5, SECRET, dtype=np.uint64),
        np.full(4, SECRET, dtype=np.int64),
        [SECRET] * 4,
        SECRET,
    ):
        with pytest.raises(MPCError) as info:
            spec.check(bad, "party:2", "main/x#0", 1)
        assert leaks(exc_text(info.value)) == []


# ---- exceptions for out-of-range inputs ---------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        TOO_BIG,
        -TOO_BIG,
        [1, TOO_BIG, 3],
        np.array([TOO_BIG_U64, SECRET], dtype=np.uint64),
        np.array([SECRET, TOO_BIG], dtype=object),
        [[SECRET, TOO_BIG]],
    ],
    ids=["int", "neg", "list", "u64", "object", "nested"],
)
def test_encode_int_out_of_range_hides_value(value: Any) -> None:
    with pytest.raises(MPCError) as info:
        ring.encode_int(value)
    text = exc_text(info.value)
    assert leaks(text, TOO_BIG, TOO_BIG_U64) == [], text


@pytest.mark.parametrize(
    "value", [9.87654321e30, -9.87654321e30, float("nan"), [1.5, 9.87654321e30]]
)
def test_encode_fixed_out_of_range_hides_value(value: Any) -> None:
    with pytest.raises(MPCError) as info:
        ring.encode_fixed(value, 16)
    text = exc_text(info.value)
    assert "9.87654321" not in text and "987654321" not in text, text


def test_input_parsing_errors_hide_value() -> None:
    inputs = pytest.importorskip("mpc_runtime.node.inputs")
    with pytest.raises(MPCError) as info:
        inputs.parse_input_flags([f"x={SECRET}abc"], ["x"])
    assert leaks(exc_text(info.value)) == []


def test_wire_refuses_huge_int_without_quoting_it() -> None:
    from mpc_runtime.wire import encode_body

    with pytest.raises(MPCError) as info:
        encode_body({"b": TOO_BIG})
    assert leaks(exc_text(info.value), TOO_BIG) == []


# ---- logs during a run --------------------------------------------------------------------


async def test_logs_of_an_in_memory_run_hold_no_values(caplog: pytest.LogCaptureFixture) -> None:
    io = pytest.importorskip("protocols.io")
    arith = pytest.importorskip("protocols.arith")
    caplog.set_level(logging.DEBUG)
    seen: list[np.ndarray] = []
    a, b = SECRET, 123456789

    async def prog(ctx):  # type: ignore[no-untyped-def]
        xs = await io.share_inputs(ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(3,))
        for s in xs.values():
            seen.append(s.share.copy())
        prod = await arith.mul(ctx, xs[1], xs[2])
        seen.append(prod.share.copy())
        total = arith.secure_sum(ctx, xs)
        seen.append(total.share.copy())
        return (await io.open_value(ctx, prod)).view(np.int64)

    inputs = [{"x": [a, a, a]}, {"x": [b, b, b]}, {}]
    runs = await run_memory(3, prog, inputs=inputs)
    assert int(runs[0].result[0]) == (a * b) % 2**64 - (2**64 if (a * b) % 2**64 >= 2**63 else 0)
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    secrets_ = {a, b, a * b, a + b}
    for arr in seen:
        secrets_.update(int(v) for v in arr.reshape(-1))
        secrets_.update(int(v) for v in arr.reshape(-1).view(np.int64))
    found = [s for s in secrets_ if len(str(abs(s))) >= 6 and str(s) in text]
    assert found == [], found


async def test_logs_and_errors_of_a_failed_run_hold_no_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Party 1's input is out of range: it fails before sharing; nobody logs the value."""
    io = pytest.importorskip("protocols.io")
    caplog.set_level(logging.DEBUG)

    async def prog(ctx):  # type: ignore[no-untyped-def]
        xs = await io.share_inputs(ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(2,))
        return (await io.open_value(ctx, xs[1])).view(np.int64)

    runs = await run_memory(
        3,
        prog,
        inputs=[{"x": [TOO_BIG, 1]}, {"x": [SECRET, SECRET]}, {}],
        round_timeout=2.0,
        return_exceptions=True,
    )
    errors = [r.error for r in runs]
    assert all(isinstance(e, MPCError) for e in errors), errors
    text = caplog.text + "\n".join(exc_text(e) for e in errors if e is not None)
    assert leaks(text, TOO_BIG) == [], text


def test_identity_labels_are_not_secret() -> None:
    """Sanity for the checks above: ids and paths are what errors are allowed to say."""
    assert Identity.party(2).label == "party:2"
