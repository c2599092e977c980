"""Deadlines on the event loop's clock, in one place.

A :class:`Deadline` is an absolute time on ``loop.time()``; :meth:`Deadline.scope` is
``asyncio.timeout_at`` for it, :meth:`Deadline.remaining` what is left (never negative), and
:func:`wait_until` the one loop that waits for a condition signalled through an ``asyncio.Event``
until a deadline.  Every wait on a peer in mpc-runtime is bounded by one of these.

May import: asyncio and the standard library only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

__all__ = ["Deadline", "wait_until"]


@dataclass(frozen=True)
class Deadline:
    """An absolute deadline ``when`` on the running loop's clock."""

    when: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float:
        """Seconds left, 0.0 once passed."""
        return max(0.0, self.when - asyncio.get_running_loop().time())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def earliest(self, other: Deadline) -> Deadline:
        return self if self.when <= other.when else other

    def scope(self) -> AbstractAsyncContextManager[object]:
        """``async with deadline.scope():`` raises TimeoutError when the deadline passes."""
        return asyncio.timeout_at(self.when)


async def wait_until(
    event: asyncio.Event, condition: Callable[[], bool], deadline: Deadline
) -> bool:
    """Wait until ``condition()`` holds, re-checking whenever ``event`` is set; False at the
    deadline.  Whoever changes what ``condition`` reads must ``event.set()``."""
    while not condition():
        if deadline.expired:
            return False
        event.clear()
        try:
            async with deadline.scope():
                await event.wait()
        except TimeoutError:
            return condition()
    return True
