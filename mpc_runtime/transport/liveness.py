"""Heartbeats and frozen-peer detection for a set of channels.

Every process sends a PING on each of its connections when it has sent nothing for
:func:`heartbeat_interval` seconds, so a live peer is never silent for long.  A peer from which
nothing at all arrived for the round timeout is *frozen* (e.g. SIGSTOP, a hung host): the watchdog
reports it at once, naming it, instead of each waiter timing out on whichever peer it happened to
wait for.  When a wait times out, :meth:`Liveness.suspect` names the peer that has been silent
longest if it is clearly not heartbeating, so a party blocked behind a frozen peer is never blamed.

A process whose event loop is blocked for longer than the round timeout (a single local
computation that long) looks frozen too; raise ``timeouts.round`` for such jobs.

May import: asyncio, :mod:`mpc_runtime.errors`, :mod:`.channel`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from mpc_runtime.errors import PeerUnresponsive
from mpc_runtime.transport.channel import Channel

__all__ = ["Liveness", "heartbeat_interval"]


def heartbeat_interval(round_timeout: float) -> float:
    """Seconds between heartbeats: a fifth of the round timeout, at most one second."""
    return min(1.0, round_timeout / 5.0)


class Liveness:
    """Keeps ``channels()`` alive with PINGs and watches them for silence."""

    def __init__(self, channels: Callable[[], Iterable[Channel]], round_timeout: float) -> None:
        self._channels = channels
        self.round_timeout = round_timeout
        self.interval = heartbeat_interval(round_timeout)

    def silence(self, ch: Channel) -> float:
        return time.monotonic() - ch.last_heard

    def suspect(self) -> Channel | None:
        """The channel silent longest, if it missed several heartbeats (else None)."""
        chans = list(self._channels())
        if not chans:
            return None
        worst = max(chans, key=self.silence)
        return worst if self.silence(worst) > 2.5 * self.interval else None

    def frozen_error(self, ch: Channel) -> PeerUnresponsive:
        label = ch.peer.label
        return PeerUnresponsive(
            f"{label} stopped responding (nothing received for {self.silence(ch):.1f}s,"
            f" round timeout {self.round_timeout:g}s)",
            peer=label,
            culprit=label,
        )

    async def run(self, on_frozen: Callable[[PeerUnresponsive], Awaitable[None]]) -> None:
        """Ping and watch until cancelled; calls ``on_frozen`` once, for the first frozen peer."""
        while True:
            await asyncio.sleep(self.interval / 2)
            now = time.monotonic()
            chans = list(self._channels())
            pings = [ch.ping() for ch in chans if now - ch.last_sent >= self.interval]
            if pings:
                await asyncio.gather(*pings)
            for ch in chans:
                if self.silence(ch) > self.round_timeout:
                    await on_frozen(self.frozen_error(ch))
                    return
