"""The contributor side: encode, share, seal, sign and submit inputs over TLS to the coordinator.

A :class:`Contributor` holds what every submission to one job needs (the job spec and its hash,
each compute party's sealing certificate, checked against the cluster CA).  :meth:`prepare`
turns a value into a :class:`~mpc_runtime.wire.Contribute` (refusing a value outside the job's
bounds with an InputError before anything is sent); :meth:`Contributor.send` submits prepared
contributions over one connection, pipelined, and returns one :class:`SubmitResult` each.

:func:`submit` is one contributor's whole path (``mpc submit``).  :func:`submit_many` is a load
generator: many contributors' prepared inputs over a pool of connections, optionally with some
contributors that die in the middle of their upload (half a frame, then the connection is cut).

Every wait is bounded: the connection by the cluster's connect deadline, each receipt by the
round timeout.

May import: asyncio, numpy, config, errors, ids, deadline, jobs (contrib, relay, spec),
transport, wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mpc_runtime.config import ClusterConfig
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import (
    InputError,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
)
from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.contrib import encode_value, make_contribution
from mpc_runtime.jobs.relay import load_sealing_cert
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import cluster_check, dial
from mpc_runtime.transport.tls import TLSFiles
from mpc_runtime.wire import Contribute, Control, EndOfStream, Hello, Message, MsgKind, PeerAbort
from mpc_runtime.wire import Receipt as ReceiptOp
from mpc_runtime.wire.control import encode_op

__all__ = ["Contributor", "LoadReport", "SubmitResult", "submit", "submit_many"]


@dataclass(frozen=True)
class SubmitResult:
    """What the coordinator answered for one contribution."""

    cid: str
    accepted: bool
    code: str = ""
    reason: str = ""


@dataclass
class LoadReport:
    """What a load generator did: results in submission order, and how long it took."""

    results: list[SubmitResult] = field(default_factory=list)
    dropped: int = 0
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.results)


class Contributor:
    """Submissions to one job, as an anonymous token holder or a certified ``contributor:NAME``."""

    def __init__(self, cfg: ClusterConfig, spec: JobSpec, *, name: str | None = None) -> None:
        self.cfg = cfg
        self.spec = resolve(spec, cfg)
        if self.spec.contributions is None:
            raise MPCError(f"job {spec.job_id} takes no contributions")
        self.c = self.spec.contributions
        self.hash = spec_hash(self.spec)
        self.me = Identity(Role.CONTRIBUTOR, name or "anonymous")
        self.name = name
        self.certs = {
            Identity.party(p).label: load_sealing_cert(cfg, Identity.party(p))
            for p in cfg.party_ids
        }

    def prepare(self, value: Any, *, token: bytes | None = None) -> Contribute:
        """A sealed, signed contribution of ``value`` (InputError if it is out of bounds)."""
        return self.prepare_encoded(encode_value(self.c, value), token=token)

    def prepare_encoded(self, encoded: Any, *, token: bytes | None = None) -> Contribute:
        """A contribution of already encoded ring values, *without* the bounds check: what a
        malicious contributor can send (tests and load generators; the parties' checks catch
        it)."""
        arr = np.array(np.asarray(encoded).astype(np.int64).view(np.uint64), copy=True)
        if arr.shape != tuple(self.c.shape):
            raise InputError(f"the contribution must have shape {list(self.c.shape)}")
        label = None if token is not None else self.me.label
        return make_contribution(
            self.hash, self.spec.job_id, arr, sealing_certs=self.certs, token=token, label=label
        )

    def _tls(self) -> TLSFiles:
        if self.name is None:
            return TLSFiles(self.cfg.ca_cert_path, None, None)
        return TLSFiles(
            self.cfg.ca_cert_path, self.cfg.cert_path(self.me), self.cfg.key_path(self.me)
        )

    async def connect(self, deadline: Deadline | None = None) -> Channel:
        ep = self.cfg.coordinator.contributors
        return await dial(
            ep.host,
            ep.port,
            tls=self._tls(),
            me=self.me,
            expected=Identity.coordinator(),
            hello=Hello(self.cfg.name),
            deadline=deadline or Deadline.after(self.cfg.timeouts.connect),
            max_frame_bytes=self.cfg.limits.max_frame_bytes,
            check=cluster_check(self.cfg.name),
        )

    async def _receipt(self, ch: Channel) -> ReceiptOp:
        try:
            async with asyncio.timeout(self.cfg.timeouts.round):
                event = await ch.next_event()
        except TimeoutError:
            raise RoundTimeout(
                "the coordinator did not answer a contribution within the round timeout",
                culprit="coordinator",
            ) from None
        match event:
            case Control(op=ReceiptOp() as receipt):
                return receipt
            case PeerAbort(abort=abort):
                raise RemoteProtocolError(f"the coordinator refused us: {abort.reason}")
            case EndOfStream():
                raise PeerLostError("the coordinator closed the connection", culprit="coordinator")
            case _:
                raise RemoteProtocolError("the coordinator sent something other than a receipt")

    async def send(
        self,
        ch: Channel,
        ops: Sequence[Contribute],
        on_result: Callable[[SubmitResult], None] | None = None,
    ) -> list[SubmitResult]:
        """Submit ``ops`` over ``ch``, pipelined; one result each, in order (each also passed
        to ``on_result`` as its receipt arrives, for progress)."""

        async def writer() -> None:
            for op in ops:
                await ch.send_op(self.spec.job_id, op)

        task = asyncio.create_task(writer())
        try:
            results = []
            for op in ops:
                r = await self._receipt(ch)
                if r.cid != op.cid:
                    raise RemoteProtocolError("the coordinator answered for another contribution")
                results.append(SubmitResult(op.cid.hex(), r.accepted, r.code, r.reason))
                if on_result is not None:
                    on_result(results[-1])
            await task
            return results
        finally:
            task.cancel()

    async def die_mid_upload(self, op: Contribute) -> None:
        """Test and load-generator aid: send half of the contribution's frame, then cut the
        connection (a contributor whose device died during the upload)."""
        ch = await self.connect()
        msg = Message(MsgKind.CONTROL, self.me.label, self.spec.job_id, body=encode_op(op))
        data = b"".join(bytes(p) for p in ch.wire.send(msg))
        await ch.link.send([data[: len(data) // 2]])
        await asyncio.sleep(0.05)
        ch.link.close()


async def submit(
    cfg: ClusterConfig,
    spec: JobSpec,
    value: Any,
    *,
    token: bytes | None = None,
    name: str | None = None,
) -> SubmitResult:
    """One contributor's submission of ``value``, with a token or as certified ``name``."""
    who = Contributor(cfg, spec, name=name)
    op = who.prepare(value, token=token)
    ch = await who.connect()
    try:
        (result,) = await who.send(ch, [op])
        await ch.bye_quietly(spec.job_id)
        return result
    finally:
        await ch.aclose()


async def submit_many(
    who: Contributor,
    ops: Sequence[Contribute],
    *,
    connections: int = 16,
    drop: Sequence[Contribute] = (),
    on_result: Callable[[SubmitResult], None] | None = None,
) -> LoadReport:
    """A load generator: ``ops`` over ``connections`` parallel connections (each pipelined),
    while every contribution in ``drop`` dies mid-upload on a connection of its own.
    ``on_result`` (optional) is called with each result as it arrives (progress feedback)."""
    start = time.monotonic()
    k = max(1, min(connections, len(ops)))
    slices = [list(ops[i::k]) for i in range(k)]

    async def lane(part: list[Contribute]) -> list[SubmitResult]:
        ch = await who.connect()
        try:
            out = await who.send(ch, part, on_result)
            await ch.bye_quietly(who.spec.job_id)
            return out
        finally:
            await ch.aclose()

    droppers = [asyncio.create_task(who.die_mid_upload(op)) for op in drop]
    lanes = await asyncio.gather(*(lane(s) for s in slices if s))
    await asyncio.gather(*droppers)
    results: list[SubmitResult | None] = [None] * len(ops)
    for i, part in enumerate(lanes):
        for j, r in enumerate(part):
            results[i + j * k] = r
    report = LoadReport([r for r in results if r is not None], len(drop))
    report.seconds = time.monotonic() - start
    return report
