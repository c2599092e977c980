"""The mailbox: DATA events routed by (op path, round, sender), so arrival order is harmless.

A message may arrive before anyone waits for it; it is held until taken.  A key seen twice is a
duplicate or a replay and is refused.  The number of messages held per sender is capped so a
hostile peer cannot make us buffer without bound.  When the session fails, every waiter is woken
with the error.  Each held :class:`~mpc_runtime.wire.Data` event carries its frame size, so
bytes are counted where the frame was decoded and nowhere else.

May import: asyncio, errors, deadline, wire (events only).
"""

from __future__ import annotations

import asyncio

from mpc_runtime.errors import LocalProtocolError, MPCError, RemoteProtocolError, RoundTimeout
from mpc_runtime.wire import Data

__all__ = ["MAX_HELD_PER_SENDER", "Mailbox"]

Key = tuple[str, int, str]

MAX_HELD_PER_SENDER = 4096


class Mailbox:
    """Holds DATA events until taken; wakes waiters with the session's failure."""

    def __init__(self) -> None:
        self._held: dict[Key, Data] = {}
        self._waiters: dict[Key, asyncio.Future[Data]] = {}
        self._taken: set[Key] = set()
        self._held_per_sender: dict[str, int] = {}
        self._failure: MPCError | None = None

    def put(self, sender: str, event: Data) -> None:
        """File ``event`` from ``sender``; RemoteProtocolError for a duplicate or a flood."""
        key = (event.path, event.round, sender)
        if key in self._taken or key in self._held:
            raise RemoteProtocolError(
                f"{sender} sent a duplicate or replayed message",
                peer=sender,
                culprit=sender,
                op_path=event.path,
                round=event.round,
            )
        fut = self._waiters.pop(key, None)
        if fut is not None and not fut.done():
            self._taken.add(key)
            fut.set_result(event)
            return
        count = self._held_per_sender.get(sender, 0)
        if count >= MAX_HELD_PER_SENDER:
            raise RemoteProtocolError(
                f"{sender} sent more than {MAX_HELD_PER_SENDER} messages nobody asked for",
                peer=sender,
                culprit=sender,
            )
        self._held_per_sender[sender] = count + 1
        self._held[key] = event

    async def take(self, path: str, rnd: int, sender: str, timeout: float) -> Data:
        """The DATA event of (path, round) from ``sender``; RoundTimeout after ``timeout``."""
        key = (path, rnd, sender)
        event = self._held.pop(key, None)
        if event is not None:
            self._held_per_sender[sender] -= 1
            self._taken.add(key)
            return event
        if self._failure is not None:
            raise self._failure.with_context(op_path=path, round=rnd)
        if key in self._taken or key in self._waiters:  # our own program asked twice
            raise LocalProtocolError(
                f"the message of {sender} for this round was already asked for",
                op_path=path,
                round=rnd,
            )
        fut: asyncio.Future[Data] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise RoundTimeout(
                f"{sender} sent nothing for {path} round {rnd} within the round timeout of"
                f" {timeout:g}s",
                peer=sender,
                culprit=sender,
                op_path=path,
                round=rnd,
            ) from None
        except MPCError as err:
            raise err.with_context(op_path=path, round=rnd) from None
        finally:
            self._waiters.pop(key, None)

    def fail_all(self, err: MPCError) -> None:
        """Wake every waiter with ``err``; later waits fail at once.  The first failure stays."""
        if self._failure is None:
            self._failure = err
        for fut in list(self._waiters.values()):
            if not fut.done():
                fut.set_exception(self._failure)

    @property
    def failure(self) -> MPCError | None:
        return self._failure

    def unclaimed(self) -> int:
        """Messages that arrived and were never taken."""
        return len(self._held)
