"""The mailbox: messages routed by (op path, round, sender), so arrival order is harmless.

A message may arrive before anyone waits for it; it is held until taken.  A key seen twice is a
duplicate or a replay and is refused.  The number of messages held per sender is capped so a
hostile peer cannot make us buffer without bound.  When a peer fails, every waiter on it (and,
for a session-wide failure, every waiter) is woken with the error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mpc_runtime.errors import MPCError, RemoteProtocolError, RoundTimeout
from mpc_runtime.wire import Message

Key = tuple[str, int, str]

MAX_HELD_PER_SENDER = 4096


@dataclass
class _Failure:
    error: MPCError


class Mailbox:
    """Holds messages until taken; wakes waiters with errors when peers fail."""

    def __init__(self) -> None:
        self._held: dict[Key, Message] = {}
        self._waiters: dict[Key, asyncio.Future[Message]] = {}
        self._taken: set[Key] = set()
        self._held_per_sender: dict[str, int] = {}
        self._peer_failure: dict[str, MPCError] = {}
        self._failure: MPCError | None = None
        self._sizes: dict[Key, int] = {}

    def put(self, msg: Message, frame_bytes: int = 0) -> None:
        key = (msg.path, msg.round, msg.sender)
        if key in self._taken or key in self._held:
            raise RemoteProtocolError(
                "duplicate or replayed message", peer=msg.sender, op_path=msg.path, round=msg.round
            )
        self._sizes[key] = frame_bytes
        fut = self._waiters.pop(key, None)
        if fut is not None and not fut.done():
            self._taken.add(key)
            fut.set_result(msg)
            return
        count = self._held_per_sender.get(msg.sender, 0)
        if count >= MAX_HELD_PER_SENDER:
            raise RemoteProtocolError(
                f"peer sent more than {MAX_HELD_PER_SENDER} messages nobody asked for",
                peer=msg.sender,
            )
        self._held_per_sender[msg.sender] = count + 1
        self._held[key] = msg

    def _rebuild(self, err: MPCError, path: str, rnd: int) -> MPCError:
        new = type(err).__new__(type(err))
        MPCError.__init__(new, err.message, peer=err.peer, op_path=path, round=rnd)
        return new

    async def take(self, path: str, rnd: int, sender: str, timeout: float) -> Message:
        key = (path, rnd, sender)
        msg = self._held.pop(key, None)
        if msg is not None:
            self._held_per_sender[sender] -= 1
            self._taken.add(key)
            return msg
        failure = self._failure or self._peer_failure.get(sender)
        if failure is not None:
            raise self._rebuild(failure, path, rnd)
        if key in self._taken or key in self._waiters:
            raise RemoteProtocolError("message already taken", peer=sender, op_path=path, round=rnd)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise RoundTimeout(
                f"{sender} sent nothing within the round timeout of {timeout:g}s",
                peer=sender,
                op_path=path,
                round=rnd,
            ) from None
        except MPCError as err:
            raise self._rebuild(err, path, rnd) from None
        finally:
            self._waiters.pop(key, None)

    def frame_bytes(self, path: str, rnd: int, sender: str) -> int:
        """Wire size of a message already taken (counted once)."""
        return self._sizes.pop((path, rnd, sender), 0)

    def fail_peer(self, sender: str, err: MPCError) -> None:
        """Wake every waiter on ``sender`` with ``err``; later waits on it fail at once."""
        self._peer_failure.setdefault(sender, err)
        for (_, _, s), fut in list(self._waiters.items()):
            if s == sender and not fut.done():
                fut.set_exception(err)

    def fail_all(self, err: MPCError) -> None:
        """Wake every waiter with ``err``; later waits fail at once."""
        if self._failure is None:
            self._failure = err
        for fut in list(self._waiters.values()):
            if not fut.done():
                fut.set_exception(err)

    @property
    def failure(self) -> MPCError | None:
        return self._failure

    def unclaimed(self) -> int:
        """Messages that arrived and were never taken."""
        return len(self._held)
