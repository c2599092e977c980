"""The error tree's declared fields and ``with_context``; deadlines on the loop clock.

``with_context`` must return a copy of the same subclass with only unset fields filled (the
innermost context wins), refuse undeclared fields, and leave the original alone; copies keep
every field.  :class:`Deadline` and :func:`wait_until` bound every wait on a peer.

May import: pytest, asyncio, copy, :mod:`mpc_runtime.errors` and :mod:`mpc_runtime.deadline`.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import pytest

from mpc_runtime.deadline import Deadline, wait_until
from mpc_runtime.errors import (
    DecodeError,
    FrameTooLarge,
    InputError,
    MPCError,
    PeerLostError,
    PeerUnresponsive,
    ProgramError,
    ProtocolError,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
    UnauthorizedReveal,
    UsageError,
    first_exception,
    first_mpc_error,
)

FIELDS = ("peer", "culprit", "claimed", "op_path", "round", "reporter", "code")

# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        MPCError,
        RoundTimeout,
        FrameTooLarge,
        DecodeError,
        SessionAborted,
        PeerUnresponsive,
        InputError,
    ],
)
def test_with_context_keeps_the_subclass_and_message(cls: type[MPCError]) -> None:
    err = cls("something went wrong")
    got = err.with_context(peer="party:2", op_path="main/x#0", round=3)
    assert type(got) is cls
    assert got is not err
    assert got.message == "something went wrong"
    assert (got.peer, got.op_path, got.round) == ("party:2", "main/x#0", 3)
    assert (err.peer, err.op_path, err.round) == (None, None, None)  # original untouched


def test_with_context_fills_only_unset_fields() -> None:
    err = RoundTimeout("late", peer="party:3", culprit="party:3", op_path="main/inner#0", round=2)
    got = err.with_context(
        peer="party:9", culprit="party:9", op_path="main", round=7, reporter="party:1", code="x"
    )
    assert (got.peer, got.culprit, got.op_path, got.round) == (
        "party:3",
        "party:3",
        "main/inner#0",
        2,
    )
    assert (got.reporter, got.code) == ("party:1", "x")
    assert got.with_context(reporter=None).reporter == "party:1"  # None never clears


def test_with_context_refuses_undeclared_fields() -> None:
    with pytest.raises(TypeError, match="value"):
        MPCError("x").with_context(value=42)


def test_with_context_stringifies_identities_and_drops_the_traceback() -> None:
    try:
        raise PeerLostError("gone")
    except PeerLostError as exc:
        caught = exc
    assert caught.__traceback__ is not None
    got = caught.with_context(peer=3, culprit=4)  # e.g. an Identity or an int
    assert (got.peer, got.culprit) == ("3", "4")
    assert got.__traceback__ is None


def test_blamed_and_kind() -> None:
    assert MPCError("x", peer="party:2").blamed == "party:2"
    assert MPCError("x", peer="party:2", culprit="party:3").blamed == "party:3"
    assert MPCError("x").blamed is None
    assert RoundTimeout("x").kind == "RoundTimeout"
    assert SessionAborted("x", code="ProgramError").kind == "ProgramError"


def test_str_adds_where_without_repeating_it() -> None:
    assert str(MPCError("plain")) == "plain"
    err = MPCError("party:2 was slow", peer="party:2", op_path="main/a#0", round=4)
    assert str(err) == "party:2 was slow (op main/a#0, round 4)"
    err = MPCError("slow at main/a#0", peer="party:2", op_path="main/a#0")
    assert str(err) == "slow at main/a#0 (peer party:2)"


@pytest.mark.parametrize("cls", [RoundTimeout, DecodeError, SessionAborted, ProgramError])
def test_copies_keep_every_field(cls: type[MPCError]) -> None:
    values: dict[str, Any] = {f: f"v-{f}" for f in FIELDS}
    values["round"] = 5
    err = cls("msg", **values)
    for dup in (copy.copy(err), copy.deepcopy(err)):
        assert type(dup) is cls and dup.message == "msg"
        assert {f: getattr(dup, f) for f in FIELDS} == values


def test_hierarchy_used_by_the_runtime() -> None:
    assert issubclass(DecodeError, RemoteProtocolError)
    assert issubclass(FrameTooLarge, DecodeError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(InputError, UsageError) and issubclass(ProgramError, UsageError)
    assert UsageError.exit_code == 2 and UnauthorizedReveal.exit_code == 3
    assert MPCError.exit_code == 1


def test_first_mpc_error_and_first_exception_in_groups() -> None:
    inner = RoundTimeout("late")
    group = ExceptionGroup("g", [ValueError("v"), ExceptionGroup("h", [inner, KeyError("k")])])
    assert first_mpc_error(group) is inner
    assert first_mpc_error(ValueError("v")) is None
    assert first_mpc_error(inner) is inner
    leaf = first_exception(group)
    assert isinstance(leaf, ValueError)
    assert first_exception(inner) is inner


# ---- deadlines -----------------------------------------------------------------------------


async def test_deadline_remaining_and_expired() -> None:
    d = Deadline.after(0.2)
    assert 0.1 < d.remaining() <= 0.2
    assert not d.expired
    past = Deadline(asyncio.get_running_loop().time() - 1.0)
    assert past.remaining() == 0.0 and past.expired
    assert d.earliest(past) is past and past.earliest(d) is past


async def test_deadline_scope_raises_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with Deadline.after(0.05).scope():
            await asyncio.sleep(5)
    assert 0.04 < time.monotonic() - started < 1.0


async def test_wait_until_returns_true_once_the_condition_holds() -> None:
    event = asyncio.Event()
    state = {"n": 0}

    async def producer() -> None:
        for _ in range(3):
            await asyncio.sleep(0.01)
            state["n"] += 1
            event.set()

    task = asyncio.create_task(producer())
    assert await wait_until(event, lambda: state["n"] == 3, Deadline.after(1.0))
    await task


async def test_wait_until_true_at_once_and_false_at_the_deadline() -> None:
    event = asyncio.Event()
    assert await wait_until(event, lambda: True, Deadline.after(0.0))
    started = time.monotonic()
    assert not await wait_until(event, lambda: False, Deadline.after(0.05))
    assert 0.04 < time.monotonic() - started < 1.0
    past = Deadline(asyncio.get_running_loop().time() - 1)
    assert not await wait_until(event, lambda: False, past)


async def test_wait_until_rechecks_the_condition_at_the_deadline() -> None:
    """A condition that became true without the event being set still counts at the end."""
    event = asyncio.Event()
    state = {"ok": False}
    asyncio.get_running_loop().call_later(0.02, state.update, {"ok": True})
    assert await wait_until(event, lambda: state["ok"], Deadline.after(0.08))
