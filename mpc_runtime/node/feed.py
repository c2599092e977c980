"""A compute party's contribution feed: what the coordinator relays, checked and opened here.

The coordinator's connection reader hands every :class:`~mpc_runtime.wire.Batch` and
:class:`~mpc_runtime.wire.Close` to :meth:`PartyFeed.on_op` (cheap: it only queues them).  The
session's program pulls batches with :meth:`next_batch`; each contribution of a batch is checked
*here*, independently of the relay:

* the credential: a token's public key is on the job's eligible list, the id is derived from it,
  and its signature covers the spec hash, the id and every packet's digest, our packet's
  included; or the relay vouches for a certified ``contributor:NAME`` whose id matches;
* the id was not in an earlier batch;
* our packet opens with our sealing key and carries a share of the declared size.

A contribution that fails any check here gets verdict 0, and the parties AND their verdicts
(:func:`mpc_runtime.runtime.contrib.agree`), so it is left out consistently by everyone.
Batches are opened in order in one worker thread, at most ``AHEAD`` ahead of the program, so the
work overlaps the MPC rounds of the previous batch while memory stays bounded.  Waits are
bounded: the next batch must come before the window's deadline plus the round timeout.

May import: asyncio, numpy, errors, jobs (contrib, spec), runtime.contrib, wire.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from mpc_runtime.errors import MPCError, RemoteProtocolError, RoundTimeout
from mpc_runtime.jobs.contrib import cid_for_label, digest, open_packet, verify_signature
from mpc_runtime.jobs.spec import JobSpec
from mpc_runtime.runtime.contrib import FeedBatch
from mpc_runtime.wire import Batch, Close, ControlOp

__all__ = ["AHEAD", "PartyFeed"]

AHEAD = 2
"""Batches opened ahead of the program (each is a full-size array of shares)."""


class PartyFeed:
    """Contributions for one party of one job, batch by batch."""

    def __init__(
        self,
        spec: JobSpec,
        spec_hash: str,
        *,
        party: str,
        index: int,
        seal_key: Any,
        eligible: frozenset[bytes],
        round_timeout: float,
        relay: str = "coordinator",
    ) -> None:
        if spec.contributions is None:
            raise ValueError("the job takes no contributions")
        self.c = spec.contributions
        self.job, self.hash = spec.job_id, spec_hash
        self.party, self.index = party, index
        self.key = seal_key
        self.eligible = eligible
        self.relay = relay
        self.round_timeout = round_timeout
        self.seen: set[bytes] = set()
        self.queue: asyncio.Queue[asyncio.Future[FeedBatch] | Close | MPCError] = asyncio.Queue()
        self._backlog: deque[Batch | Close] = deque()
        self._opening = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="open-batch")
        self._totals: dict[str, int] = {}
        self._started: float | None = None
        self._next_seq = 0
        self.refused_here = 0

    @property
    def totals(self) -> dict[str, int]:
        return dict(self._totals)

    def on_op(self, op: ControlOp) -> None:
        """File one relayed operation (called by the connection reader)."""
        match op:
            case Batch() | Close():
                self._backlog.append(op)
                self._pump()
            case _:
                raise RemoteProtocolError(f"{self.relay} sent an unexpected {op.op}")

    def _pump(self) -> None:
        """Start opening batches (in order, in the worker thread) while fewer than ``AHEAD`` are
        opened and not yet taken: opened shares are full-size arrays, so the lookahead is what
        bounds memory when contributions arrive faster than the program checks them."""
        loop = asyncio.get_running_loop()
        while self._backlog and (isinstance(self._backlog[0], Close) or self._opening < AHEAD):
            item = self._backlog.popleft()
            if isinstance(item, Close):
                self.queue.put_nowait(item)
                continue
            self._opening += 1
            self.queue.put_nowait(loop.run_in_executor(self._pool, self._check_and_open, item))

    def fail(self, err: MPCError) -> None:
        self.queue.put_nowait(err)

    def _deadline(self) -> float:
        if self._started is None:
            self._started = time.monotonic()
        return self._started + self.c.deadline + self.round_timeout - time.monotonic()

    async def next_batch(self) -> FeedBatch | None:
        try:
            async with asyncio.timeout(max(0.1, self._deadline())):
                item = await self.queue.get()
        except TimeoutError:
            raise RoundTimeout(
                f"{self.relay} did not close the contribution window by its deadline"
                f" ({self.c.deadline:g}s + the round timeout)",
                peer=self.relay,
                culprit=self.relay,
            ) from None
        if isinstance(item, MPCError):
            self.queue.put_nowait(item)
            raise item
        if isinstance(item, Close):
            self._totals = {
                "accepted": item.accepted,
                "refused": item.refused,
                "dropped": item.dropped,
                "batches": item.batches,
            }
            self.queue.put_nowait(item)  # later calls see the end again
            return None
        self._opening -= 1
        self._pump()
        return await item

    def _check_and_open(self, item: Batch) -> FeedBatch:
        """(In the worker thread.)"""
        if item.seq != self._next_seq:
            raise RemoteProtocolError(f"{self.relay} skipped a batch", peer=self.relay)
        fields = (item.credentials, item.public_keys, item.signatures, item.digests, item.packets)
        if any(len(f) != len(item.ids) for f in fields):
            raise RemoteProtocolError(f"{self.relay} sent a malformed batch", peer=self.relay)
        self._next_seq += 1
        try:
            return self._open(item)
        except (TypeError, ValueError):
            raise RemoteProtocolError(
                f"{self.relay} sent a malformed batch", peer=self.relay
            ) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _credential_ok(self, item: Batch, i: int) -> bool:
        try:
            return self._credential_checks(item, i)
        except (TypeError, ValueError):  # a malformed field: this contribution does not count
            return False

    def _credential_checks(self, item: Batch, i: int) -> bool:
        cid, credential = bytes(item.ids[i]), item.credentials[i]
        if credential == "token":
            key = bytes(item.public_keys[i])
            if self.c.credentials != "tokens" or key not in self.eligible:
                return False
            joined = bytes(item.digests[i])
            digests = [joined[j : j + 32] for j in range(0, len(joined), 32)]
            if len(digests) <= self.index or digests[self.index] != digest(item.packets[i]):
                return False
            return verify_signature(key, bytes(item.signatures[i]), self.hash, cid, digests)
        return (
            self.c.credentials == "certificates"
            and isinstance(credential, str)
            and credential.startswith("contributor:")
            and cid == cid_for_label(credential)
        )

    def _open(self, item: Batch) -> FeedBatch:
        ids = [bytes(x) for x in item.ids]
        size = self.c.size
        shares = np.zeros((len(ids), size), dtype=np.uint64)
        ok = np.zeros(len(ids), dtype=bool)
        for i, cid in enumerate(ids):
            if cid in self.seen or not isinstance(item.packets[i], bytes):
                continue
            if not self._credential_ok(item, i):
                continue
            self.seen.add(cid)
            try:
                shares[i] = open_packet(
                    self.key,
                    item.packets[i],
                    job_id=self.job,
                    spec_hash=self.hash,
                    cid=cid,
                    party=self.party,
                    size=size,
                )
            except RemoteProtocolError:
                continue
            ok[i] = True
        return FeedBatch(item.seq, ids, shares.reshape((len(ids), *self.c.shape)), ok)
