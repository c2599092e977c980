"""The coordinator's contribution desk: admits contributors' inputs and relays them, sealed.

Why a relay: contributors (voters, bidders, devices) are many, short-lived and often behind NAT;
they make one outbound TLS connection to the one address they know, submit and leave.  The
compute parties need not be reachable from them, and one place enforces the window, the
credentials and "one contribution per credential".  The relay learns nothing: every packet is
sealed to its compute party (:mod:`mpc_runtime.jobs.contrib`), and with token credentials it is
signed by the token, so the relay cannot alter, substitute or invent a contribution either.  What
the relay can do is drop contributions or reorder them; it cannot send the parties different
batches without them noticing (they agree on a digest of every batch before computing).

Admission of a :class:`~mpc_runtime.wire.Contribute` (each refusal is a
:class:`~mpc_runtime.wire.Receipt` with a code; the connection stays usable):

* the spec hash is the job's (``spec-mismatch``); the window is open (``closed``);
* the credential: a token's public key is on the eligible list and its signature verifies, or
  the connection proved a ``contributor:NAME`` certificate (``not-eligible``);
* one packet per compute party, none larger than the share it carries (``bad-packet``);
* the id was not used before (``used``), unless the job says ``resubmission = "replace"``: then
  the later contribution replaces the earlier one and everything is held until the window closes.

Accepted contributions are collected into batches (before the job starts they are held until it
does); every ``batch`` contributions, or ``FLUSH_SECONDS`` after the oldest unbatched one
arrived, each party gets one :class:`~mpc_runtime.wire.Batch` with its own packets, in the order
every party processes them (one message per party per batch, not per contribution); at the
deadline, the ``max_count``-th contribution, or ``quiet`` seconds without one, a
:class:`~mpc_runtime.wire.Close` ends the window.

May import: asyncio, errors, ids, jobs (spec, contrib), wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.contrib import cid_for_label, digest, verify_signature
from mpc_runtime.jobs.spec import JobSpec
from mpc_runtime.wire import Batch, Close, Contribute, ControlOp, Receipt

__all__ = ["FLUSH_SECONDS", "ContributionDesk", "DeskTotals"]

FLUSH_SECONDS = 1.0
"""Longest time an accepted contribution waits before it is put in a batch."""
PACKET_OVERHEAD = 4096
"""Bytes a sealed packet may carry beyond its share (header, ids, ECIES, GCM tag)."""

SendAll = Callable[[dict[str, ControlOp]], Awaitable[None]]
"""Sends one operation to each party (by label); raises if a party cannot take it."""


@dataclass(frozen=True)
class _Item:
    cid: bytes
    credential: str
    op: Contribute
    digests: bytes  # every party's packet digest, in party order


@dataclass
class DeskTotals:
    accepted: int = 0
    refused: int = 0
    dropped: int = 0
    batches: int = 0


class ContributionDesk:
    """One job's contribution window."""

    def __init__(
        self,
        spec: JobSpec,
        spec_hash: str,
        labels: list[str],
        eligible: frozenset[bytes],
        *,
        send_all: SendAll,
        say: Callable[[str], None],
    ) -> None:
        if spec.contributions is None:
            raise ValueError("the job takes no contributions")
        self.c = spec.contributions
        self.hash = spec_hash
        self.labels = labels
        self.eligible = eligible
        self._send_all = send_all
        self.say = say
        self.totals = DeskTotals()
        self.used: set[bytes] = set()
        self.held: dict[bytes, _Item] = {}
        self.pending: list[_Item] = []
        self._oldest: float | None = None
        self._last: float | None = None
        self.open_at: float | None = None
        self.closed = False
        self._pending_close: str | None = None
        self.done = asyncio.Event()
        self._lock = asyncio.Lock()
        self._max_packet = 8 * self.c.size + PACKET_OVERHEAD

    # ---- admission -------------------------------------------------------------------------
    def _credential(self, who: Identity, op: Contribute, digests: list[bytes]) -> str | None:
        """The credential text, or None if the contributor may not contribute."""
        if self.c.credentials == "certificates":
            certified = who.role is Role.CONTRIBUTOR and who.name != "anonymous"
            if not certified or op.public_key or op.cid != cid_for_label(who.label):
                return None
            return who.label
        if bytes(op.public_key) not in self.eligible:
            return None
        ok = verify_signature(op.public_key, op.signature, self.hash, op.cid, digests)
        return "token" if ok else None

    def _admit(self, who: Identity, op: Contribute, digests: list[bytes]) -> tuple[str, str]:
        """``("", credential)`` if admitted, else ``(code, reason)``; ``digests`` is filled with
        the packets' digests in party order."""
        if op.spec_hash != self.hash:
            return "spec-mismatch", "this contribution is for another job spec"
        if self.closed:
            return "closed", "the contribution window is closed"
        packets = op.packets
        if set(packets) != set(self.labels) or not all(
            isinstance(p, bytes) and len(p) <= self._max_packet for p in packets.values()
        ):
            return "bad-packet", "a contribution carries one sealed packet per compute party"
        digests.extend(digest(packets[lab]) for lab in self.labels)
        credential = self._credential(who, op, digests)
        if credential is None:
            return "not-eligible", "the credential is not eligible for this job"
        if op.cid in self.used and self.c.resubmission == "refuse":
            return "used", "this credential has already contributed"
        return "", credential

    async def submit(self, who: Identity, op: Contribute) -> Receipt:
        """Admit (and forward, or hold) one contribution; the receipt says which."""
        digests: list[bytes] = []
        code, text = self._admit(who, op, digests)
        if code:
            self.totals.refused += 1
            return Receipt(op.cid, False, code, text)
        self.used.add(op.cid)
        self._last = time.monotonic()
        item = _Item(op.cid, text, op, b"".join(digests))
        if self.open_at is None or self.c.resubmission == "replace":
            self.held[op.cid] = item
        else:
            await self._forward(item)
        if len(self.used) >= self.c.max_count:
            await self.close("its max_count")
        return Receipt(op.cid, True)

    # ---- forwarding ------------------------------------------------------------------------
    async def _forward(self, item: _Item) -> None:
        async with self._lock:
            self.totals.accepted += 1
            self.pending.append(item)
            if self._oldest is None:
                self._oldest = time.monotonic()
            if len(self.pending) >= self.c.batch:
                await self._batch()

    def _batch_ops(self, items: list[_Item]) -> dict[str, ControlOp]:
        ids = [i.cid for i in items]
        creds = [i.credential for i in items]
        keys = [i.op.public_key for i in items]
        sigs = [i.op.signature for i in items]
        digests = [i.digests for i in items]
        seq = self.totals.batches
        return {
            lab: Batch(seq, ids, creds, keys, sigs, digests, [i.op.packets[lab] for i in items])
            for lab in self.labels
        }

    async def _batch(self) -> None:
        """Send the pending contributions as the next batch (the lock is held)."""
        if not self.pending:
            return
        size = self.c.batch
        items, self.pending, self._oldest = self.pending[:size], self.pending[size:], None
        if self.pending:
            self._oldest = time.monotonic()
        await self._send_all(self._batch_ops(items))
        self.totals.batches += 1

    async def _release(self) -> None:
        """Forward what was held (early arrivals, or every contribution in replace mode)."""
        held, self.held = self.held, {}
        for item in held.values():
            await self._forward(item)

    async def open(self) -> None:
        """The job started: forward what arrived early, and run the window until it closes."""
        self.open_at = time.monotonic()
        self.say(
            f"contribution window open for {self.c.deadline:g}s"
            f" (up to {self.c.max_count} contributions, batches of {self.c.batch})"
        )
        if self.c.resubmission == "refuse":
            await self._release()
        if self._pending_close is not None:
            await self._finish(self._pending_close)

    async def close(self, why: str) -> None:
        """Close the window: no more contributions; the parties get the last batch and CLOSE
        (once the job has started)."""
        if self.closed:
            return
        self.closed = True
        if self.open_at is None:
            self._pending_close = why  # e.g. max_count reached before the job started
            return
        await self._finish(why)

    async def _finish(self, why: str) -> None:
        if self.c.resubmission == "replace":
            await self._release()
        async with self._lock:
            while self.pending:
                await self._batch()
            t = self.totals
            await self._send_all(
                {lab: Close(t.batches, t.accepted, t.refused, t.dropped) for lab in self.labels}
            )
        self.say(
            f"contribution window closed ({why}): {t.accepted} accepted, {t.refused} refused,"
            f" {t.dropped} dropped mid-upload, {t.batches} batches"
        )
        self.done.set()

    def _due(self, now: float) -> str | None:
        if self.open_at is None:
            return None
        if now >= self.open_at + self.c.deadline:
            return "its deadline"
        quiet = self.c.quiet
        if (
            quiet is not None
            and self._last is not None
            and now >= max(self._last, self.open_at) + quiet
        ):
            return f"{quiet:g}s without a new contribution"
        return None

    async def run(self) -> None:
        """Flush partial batches and close the window when it is due (runs until closed)."""
        while not self.closed and not self.done.is_set():
            await asyncio.sleep(0.05)
            now = time.monotonic()
            why = self._due(now)
            if why is not None:
                await self.close(why)
                return
            if self._oldest is not None and now - self._oldest >= FLUSH_SECONDS:
                async with self._lock:
                    await self._batch()
