"""The serving coordinator (``mpc coordinator --serve``): a cluster that stays up, jobs submitted to
it one after another.

Serving parties connect once and say :class:`~mpc_runtime.wire.control.Serve`.  When every party
is connected the coordinator sends ``Mesh(session)`` (a fresh random id); they build the TLS mesh
among themselves and answer ``Ready``: the cluster is up.  If a party leaves, is lost or freezes,
or reports that its mesh failed, the cluster is down: running jobs fail naming the culprit, and
the mesh is formed again (a new session) once every party is back.

An external recipient (its certificate proves who it is) submits ``Submit(spec hash, spec, run
nonce)``, job after job over one connection.
:func:`~mpc_runtime.coordinator.served_jobs.check_submission` checks it against the cluster
(see that module); it is queued (``Accept``) or refused (``Refuse(code, reason)``).  Jobs are
offered in submission order:

1. ``Offer(hash, spec, nonces)`` to every party.  Each checks it and answers ``Agree`` (to the
   coordinator and to every other party: a party computes once all agreed) or a ``job_abort``
   naming itself, which stops the others at once (bounded by the connect deadline);
2. sealed output shares are checked against the spec and forwarded to the submitter; once it
   holds all of them it gets ``Finished`` and the next job is offered, while the parties report
   ``Done`` (bounded by the job timeout) and then get ``Finished``;
3. a failure sends ``job_abort`` to the parties and to the submitter, naming the culprit; every
   connection stays up.

Every participant is watched with heartbeats; every wait is bounded.  A stop (``Ctrl-C``/SIGTERM)
aborts the running job, says BYE to everyone (they report that the coordinator left) and returns.
The coordinator never holds an input, a share in the clear or an output value (unless the cluster
embeds the dealer: then it must be trusted, as for one-job clusters).

May import: config, errors, ids, deadline, jobs, coordinator.served_jobs, preprocessing.dealer
(embedded dealer only), runtime.session (abort helpers), transport, wire.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.served_jobs import (
    ServedJob,
    Submission,
    Submitter,
    check_submission,
    job_summary,
)
from mpc_runtime.deadline import Deadline, wait_until
from mpc_runtime.errors import (
    ConnectError,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
    SpecMismatch,
    UnauthorizedReveal,
    UsageError,
)
from mpc_runtime.ids import Identity, Role
from mpc_runtime.preprocessing.dealer.service import DealerService
from mpc_runtime.runtime.session import abort_of, aborted_by
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.transport.mesh import service_listener
from mpc_runtime.wire import (
    Accept,
    Bye,
    Control,
    ControlOp,
    Done,
    EndOfStream,
    Finished,
    Join,
    Material,
    PeerAbort,
    Received,
    Refuse,
    Sealed,
    short,
)
from mpc_runtime.wire.control import Agree, JobAbort, Mesh, Offer, Ready, Serve, Submit

__all__ = ["ServingCoordinator", "serve_coordinator"]

log = logging.getLogger("mpc.coordinator")

MAX_QUEUE = 64
"""Submitted jobs waiting to run; a submission beyond this is refused (``busy``)."""
KEEP_FINISHED = 16
"""Finished submissions a submitter's connection remembers (their late acknowledgements)."""
MAX_LEDGER_KEYS = 10_000
TRANSPORT_CODES = frozenset({"PeerLostError", "PeerUnresponsive", "ConnectError", "RoundTimeout"})
"""Abort codes that mean a participant went away rather than refused the job."""
RETRY = 1.0
"""Seconds between two attempts to form the mesh."""
ME = Identity.coordinator()


def _say(msg: str) -> None:
    print(f"coordinator: {msg}", file=sys.stderr, flush=True)


@dataclass(eq=False)
class _Member:
    """A connected serving party."""

    ident: Identity
    ch: Channel
    ready: str = ""
    leaving: bool = False
    frozen: MPCError | None = None


class ServingCoordinator:
    """The coordinator of a serving cluster; :meth:`run` returns when ``stop`` is set."""

    def __init__(
        self,
        cfg: ClusterConfig,
        *,
        job_timeout: float | None = None,
        say: Callable[[str], None] = _say,
        max_queue: int = MAX_QUEUE,
    ) -> None:
        self.cfg = cfg
        self.job_timeout = job_timeout if job_timeout is not None else 3600.0
        self.say = say
        self.parties = {Identity.party(p) for p in cfg.party_ids}
        self.members: dict[Identity, _Member] = {}
        self.submitters: set[Submitter] = set()
        self.session = ""
        self.up = False
        self.used: set[str] = set()
        self.queue: asyncio.Queue[Submission] = asyncio.Queue(max_queue)
        self.active: dict[str, ServedJob] = {}
        self.changed = asyncio.Event()
        self.finished = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._job_tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    # ---- helpers -----------------------------------------------------------------------------
    def _spawn(self, work: Any) -> asyncio.Task[None]:
        t: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    def _missing(self) -> list[str]:
        return sorted(p.label for p in self.parties - set(self.members))

    async def _to_parties(self, job: str, op: ControlOp) -> None:
        members = list(self.members.values())
        timeout = self.cfg.timeouts.round
        await asyncio.gather(
            *(m.ch.send_quietly(m.ch.op_message(job, op), timeout) for m in members)
        )

    def _fail(self, job: ServedJob, err: MPCError) -> None:
        if job.failure is None:
            job.failure = err
        job.released.set()
        self.changed.set()

    def _fail_all(self, err: MPCError, *, waiting: bool = False) -> None:
        """Fail every job the parties were offered (and, with ``waiting``, the jobs still
        waiting for the mesh too; otherwise those wait on until their connect deadline, then
        name the parties still missing)."""
        for job in list(self.active.values()):
            if job.offered or waiting:
                self._fail(job, err)

    def _down(self) -> None:
        """The mesh is gone: it is formed again once every party is connected."""
        self.up, self.session = False, ""
        self.changed.set()

    # ---- the run -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> int:
        cfg = self.cfg

        def admit(peer: Identity) -> bool:
            return peer.role in (Role.PARTY, Role.RECIPIENT) and cfg.knows(peer)

        listener = service_listener(cfg, ME, cfg.coordinator, admit, reconnect=True)
        await listener.start()
        where = f"{cfg.coordinator.listen_host}:{cfg.coordinator.port}"
        self.say(f"serving cluster {cfg.name} on {where}; waiting for {len(self.parties)} parties")
        if cfg.coordinator.embedded_dealer:
            self.say(
                "warning: embedded_dealer is on: this coordinator deals preprocessing material,"
                " so it must be trusted (with any one party it could unmask every opening)"
            )
        for work in (self._accept(listener), self._watch(), self._mesh_loop(), self._job_loop()):
            self._spawn(work)
        try:
            await stop.wait()
        finally:
            await self._shutdown(listener)
        self.say(f"stopped after {self.finished} jobs ({self.failed} failed)")
        return 0

    async def _shutdown(self, listener: Listener) -> None:
        """Abort the running jobs (bounded), then BYE to everyone: they say we left."""
        self.stopping = True
        self._fail_all(MPCError("the coordinator is stopping", culprit=ME.label), waiting=True)
        running = [t for t in self._job_tasks if not t.done()]
        if running:
            await asyncio.wait(running, timeout=self.cfg.timeouts.round)
        chans = [m.ch for m in self.members.values()] + [s.ch for s in self.submitters]
        await asyncio.gather(*(ch.bye_quietly("") for ch in chans))
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await asyncio.gather(*(ch.aclose() for ch in chans))
        await listener.aclose()

    async def _watch(self) -> None:
        """Heartbeats to everyone connected; a frozen participant is closed and named."""
        chans = lambda: [m.ch for m in self.members.values()] + [s.ch for s in self.submitters]  # noqa: E731
        while True:
            await Liveness(chans, self.cfg.timeouts.round).run(self._frozen)

    async def _frozen(self, err: MPCError) -> None:
        for m in self.members.values():
            if m.ch.peer.label == err.peer:
                m.frozen = err
                m.ch.close()
        for s in self.submitters:
            if s.ch.peer.label == err.peer:
                s.frozen = err
                s.ch.close()

    async def _accept(self, listener: Listener) -> None:
        while True:
            ch = await listener.next_channel()
            self._spawn(self._connection(ch))

    async def _connection(self, ch: Channel) -> None:
        """The first operation tells who connected: a serving party or a submitter."""
        label = ch.peer.label
        try:
            async with asyncio.timeout(self.cfg.timeouts.round):
                event = await ch.next_event()
        except (TimeoutError, MPCError):
            ch.close()
            return
        match event:
            case Control(job="", op=Serve()) if ch.peer in self.parties:
                await self._member(ch)
            case Control(job=job, op=Submit() as op) if ch.peer.role is Role.RECIPIENT:
                await self._submitter(ch, job, op)
            case Control(job=job, op=Join()):
                why = "this coordinator serves jobs: use mpc party --serve and mpc job submit"
                await ch.send_quietly(ch.op_message(job, Refuse("serving", why)))
                ch.close()
            case _:
                log.warning("%s opened with an unexpected message; closed", label)
                ch.close()

    # ---- serving parties ---------------------------------------------------------------------
    async def _member(self, ch: Channel) -> None:
        ident, label = ch.peer, ch.peer.label
        if ident in self.members:
            why = f"{label} is already serving (a lost one is noticed within the round timeout)"
            await ch.send_quietly(ch.op_message("", Refuse("duplicate", why)))
            ch.close()
            return
        m = _Member(ident, ch)
        self.members[ident] = m
        await ch.send_quietly(ch.op_message("", Accept()))
        self.say(f"{label} is serving ({len(self.members)}/{len(self.parties)} parties)")
        self.changed.set()
        try:
            while True:
                match await ch.next_event():
                    case Control(job="", op=Ready(session=s)):
                        m.ready = s
                        self.changed.set()
                    case Control(job="", op=JobAbort() as op):
                        err = aborted_by(label, op.abort())
                        self.say(f"{label}'s mesh failed: {err.message}; forming it again")
                        self._fail_all(err)
                        self._down()
                    case Control(job=job, op=op):
                        await self._job_op(m, job, op)
                    case Bye():
                        m.leaving = True
                    case PeerAbort(abort=abort):
                        raise aborted_by(label, abort)
                    case EndOfStream():
                        how = "left the cluster" if m.leaving else "was lost"
                        raise m.frozen or PeerLostError(f"{label} {how}", culprit=label)
                    case _:
                        raise RemoteProtocolError(f"{label} sent an unexpected message")
        except MPCError as err:
            if self.stopping:
                return
            err = err.with_context(peer=label, culprit=label)
            self._fail_all(err)
            if self.members.get(ident) is m:
                del self.members[ident]
            self._down()
            n = f"{len(self.members)}/{len(self.parties)}"
            self.say(f"{err.message}; {n} parties serving")
        finally:
            ch.close()

    async def _mesh_loop(self) -> None:
        """Form the mesh whenever every party is connected and the cluster is down."""
        forming = lambda: not self.up and not self._missing()  # noqa: E731
        while True:
            await wait_until(self.changed, forming, Deadline.after(1e9))
            if await self._form(secrets.token_hex(8)):
                await wait_until(self.changed, lambda: not self.up, Deadline.after(1e9))
            else:
                await asyncio.sleep(RETRY)

    async def _form(self, sid: str) -> bool:
        """One attempt: ``Mesh(sid)`` to every party, then every ``Ready(sid)`` (bounded)."""
        self.session = sid
        members = list(self.members.values())
        for m in members:
            m.ready = ""
        self.say(f"all {len(self.parties)} parties are here; forming the mesh (session {sid})")
        await asyncio.gather(*(m.ch.send_quietly(m.ch.op_message("", Mesh(sid))) for m in members))

        def ready() -> bool:
            return not self._missing() and all(m.ready == sid for m in self.members.values())

        limit = Deadline.after(self.cfg.timeouts.connect + self.cfg.timeouts.round)
        gone = lambda: self.session != sid or bool(self._missing())  # noqa: E731
        await wait_until(self.changed, lambda: gone() or ready(), limit)
        if self.session == sid and ready():
            self.up = True
            self.say(f"cluster up: {len(self.parties)} parties meshed; serving jobs")
            self.changed.set()
            return True
        if self.session == sid:
            self.session = ""
            late = sorted(m.ident.label for m in self.members.values() if m.ready != sid)
            late += self._missing()
            self.say(f"the mesh did not form (waiting for {', '.join(late) or 'nobody'})")
        return False

    # ---- submissions -------------------------------------------------------------------------
    async def _submitter(self, ch: Channel, job_id: str, op: Submit) -> None:
        """A recipient's connection: its submissions and acknowledgements, until it leaves."""
        label = ch.peer.label
        who = Submitter(ch.peer, ch)
        self.submitters.add(who)
        try:
            await self._submit(who, job_id, op)
            while True:
                match await ch.next_event():
                    case Control(job=j, op=Submit() as op):
                        await self._submit(who, j, op)
                    case Control(job=j, op=Received()) if j in who.subs:
                        self._received(who.subs[j])
                    case Bye():
                        pass
                    case PeerAbort(abort=abort):
                        raise aborted_by(label, abort)
                    case EndOfStream():
                        if all(sub.finished for sub in who.subs.values()):
                            return
                        raise who.frozen or PeerLostError(
                            f"{label} left before its job finished", culprit=label
                        )
                    case _:
                        raise RemoteProtocolError(f"{label} sent an unexpected message")
        except MPCError as err:
            for sub in who.subs.values():
                if not sub.finished:
                    sub.gone = err.with_context(peer=label, culprit=label)
                    for job in list(self.active.values()):
                        if job.sub is sub:
                            self._fail(job, sub.gone)
        finally:
            self.submitters.discard(who)
            ch.close()

    async def _submit(self, who: Submitter, job_id: str, op: Submit) -> None:
        """Queue one submission (``Accept``) or refuse it (``Refuse``; the connection stays)."""
        ch, label = who.ch, who.ident.label
        try:
            spec, h = check_submission(self.cfg, ch.peer, job_id, op, self.used)
            sub = Submission(ch.peer, ch, spec, h, op.nonce)
            self.queue.put_nowait(sub)
        except (UsageError, asyncio.QueueFull) as exc:
            code = (exc.code or "bad-spec") if isinstance(exc, UsageError) else "busy"
            reason = exc.message if isinstance(exc, UsageError) else "too many jobs are queued"
            self.say(f"refused job {short(job_id, 64)} from {label}: {reason}")
            await ch.send_quietly(ch.op_message(job_id, Refuse(code, reason)))
            return
        self.used.add(job_id)
        who.subs[job_id] = sub
        for old in [j for j, x in who.subs.items() if x.finished][:-KEEP_FINISHED]:
            del who.subs[old]  # what a long-lived connection remembers stays bounded
        await ch.send_quietly(ch.op_message(job_id, Accept()))
        self.say(f"{label} submitted job {job_id} (spec {h[:12]})")

    def _received(self, sub: Submission) -> None:
        expected = {(o, p.label) for o in sub.outputs for p in self.parties}
        if not sub.outputs or sub.delivered != expected:
            raise RemoteProtocolError(
                f"{sub.ident.label} acknowledged before it was sent all its outputs"
            )
        sub.received = True
        self.changed.set()

    # ---- jobs --------------------------------------------------------------------------------
    async def _job_loop(self) -> None:
        """Jobs in submission order; the next one is offered once this one has released its
        submitter (its outputs delivered), while the parties still finish it."""
        while True:
            sub = await self.queue.get()
            if sub.gone is not None:
                self.say(f"job {sub.job_id} dropped: {sub.gone.message}")
                self.failed += 1
                continue
            job = ServedJob(sub)
            if sub.spec.preprocessing == "dealer":
                job.dealer = DealerService(self.cfg.party_ids, sub.spec.dealer_budget)
            self.active[job.id] = job
            t = self._spawn(self._job_task(job))
            self._job_tasks.add(t)
            t.add_done_callback(self._job_tasks.discard)
            await job.released.wait()

    async def _job_task(self, job: ServedJob) -> None:
        try:
            await self._run_job(job)
            self.finished += 1
        except MPCError as err:
            self.failed += 1
            await self._abort_job(job, err)
        except asyncio.CancelledError:
            await self._abort_job(job, job.failure or MPCError("the coordinator stopped"))
            raise
        finally:
            job.released.set()
            self.active.pop(job.id, None)
            self.changed.set()

    def _check(self, job: ServedJob) -> None:
        if job.failure is not None:
            raise job.failure

    async def _run_job(self, job: ServedJob) -> None:
        cfg, sub, t0 = self.cfg, job.sub, time.perf_counter()
        up = lambda: self.up or job.failure is not None  # noqa: E731
        ok = await wait_until(self.changed, up, Deadline.after(cfg.timeouts.connect))
        self._check(job)
        if not ok:
            missing = self._missing()
            what = ", ".join(missing) + " not connected" if missing else "the mesh is not up"
            raise ConnectError(
                f"the cluster is not ready for job {job.id}: {what} (connect deadline"
                f" {cfg.timeouts.connect:g}s)",
                culprit=missing[0] if missing else None,
            )
        nonces = {sub.ident.label: sub.nonce} if sub.outputs else {}
        job.offered = True
        await self._to_parties(job.id, Offer(sub.hash, sub.spec.model_dump(mode="json"), nonces))
        agreed = lambda: job.failure is not None or self.parties <= job.agreed  # noqa: E731
        if not await wait_until(self.changed, agreed, Deadline.after(cfg.timeouts.connect)):
            silent = sorted(p.label for p in self.parties - job.agreed)
            raise RoundTimeout(
                f"{', '.join(silent)} did not answer the offer of job {job.id} within"
                f" {cfg.timeouts.connect:g}s",
                culprit=silent[0],
            )
        self._check(job)
        job.started = True  # the parties start on their own once all agreed over the mesh
        expected = {(o, p.label) for o in sub.outputs for p in self.parties}
        deadline = Deadline.after(self.job_timeout)

        def released() -> bool:
            mine = bool(sub.outputs) and sub.delivered == expected
            return job.failure is not None or mine or self.parties <= set(job.done)

        if not await wait_until(self.changed, released, deadline):
            raise self._late(job)
        self._check(job)
        sub.finished = True  # the submitter holds every share of its outputs: done for it
        await sub.ch.send_quietly(sub.ch.op_message(job.id, Finished()), cfg.timeouts.round)
        job.released.set()
        done = lambda: job.failure is not None or self.parties <= set(job.done)  # noqa: E731
        if not await wait_until(self.changed, done, deadline):
            raise self._late(job)
        self._check(job)
        acked = lambda: sub.received or not sub.outputs or sub.gone is not None  # noqa: E731
        if not await wait_until(self.changed, acked, Deadline.after(cfg.timeouts.round)):
            log.warning("%s did not acknowledge its outputs of job %s", sub.ident.label, job.id)
        await self._to_parties(job.id, Finished())
        self.say(job_summary(job, time.perf_counter() - t0))

    def _late(self, job: ServedJob) -> MPCError:
        waiting = sorted(p.label for p in self.parties - set(job.done))
        return RoundTimeout(
            f"job {job.id} did not finish within {self.job_timeout:g}s"
            f" (still waiting for {', '.join(waiting) or 'its outputs'})",
            culprit=waiting[0] if waiting else None,
        )

    async def _abort_job(self, job: ServedJob, err: MPCError) -> None:
        culprit = err.blamed
        who = f" (culprit: {culprit})" if culprit and culprit not in err.message else ""
        where = f" at {err.op_path}" if err.op_path else ""
        self.say(f"job {job.id} aborted: {err.message}{who}{where}")  # logged before anyone hears
        abort = JobAbort.of(abort_of(err, ME.label))
        await self._to_parties(job.id, abort)
        sub = job.sub
        sub.finished = True
        await sub.ch.send_quietly(sub.ch.op_message(job.id, abort), self.cfg.timeouts.round)

    async def _job_op(self, m: _Member, job_id: str, op: ControlOp) -> None:
        job, label = self.active.get(job_id), m.ident.label
        if job is None or job.failure is not None:
            log.info("ignored %s from %s for job %.64r: not running", op.op, label, job_id)
            return
        try:
            match op:
                case Agree(spec_hash=h) if m.ident not in job.agreed:
                    if h != job.sub.hash:
                        raise SpecMismatch(f"{label} agreed to another spec", culprit=label)
                    job.agreed.add(m.ident)
                case JobAbort():
                    raise self._party_abort(job, label, op)
                case Sealed() if m.ident in job.agreed:
                    await self._sealed(job, label, op)
                case Done(ledger=ledger) if m.ident in job.agreed and m.ident not in job.done:
                    if len(ledger) > MAX_LEDGER_KEYS:
                        raise RemoteProtocolError(f"{label} reported an oversized ledger")
                    job.done[m.ident] = ledger
                case Material() if m.ident in job.agreed and job.dealer is not None:
                    reply = await job.dealer.handle(job.id, int(m.ident.name), op)
                    await m.ch.send_op(job.id, reply)
                case _:
                    raise RemoteProtocolError(f"{label} sent an unexpected {op.op}")
        except MPCError as err:
            if isinstance(err, UnauthorizedReveal):
                log.error("UnauthorizedReveal: %s", err)
            self._fail(job, err.with_context(peer=label, culprit=label))
        self.changed.set()

    def _party_abort(self, job: ServedJob, label: str, op: JobAbort) -> MPCError:
        """A party stopped the job; before every party agreed that is a refusal."""
        if self.parties <= job.agreed:
            return aborted_by(label, op.abort())
        who = op.culprit or label
        text = op.reason if who in op.reason else f"{who}: {op.reason}"
        how = "did not start" if op.code in TRANSPORT_CODES else "refused"
        return SessionAborted(
            f"job {job.id} {how}: {text}", culprit=who, reporter=label, code=op.code
        )

    async def _sealed(self, job: ServedJob, label: str, op: Sealed) -> None:
        allowed = job.sub.spec.policy_outputs().get(op.output)
        sub = job.sub
        if allowed is None or op.recipient != sub.ident.label or sub.ident not in allowed:
            raise UnauthorizedReveal(
                f"{label} sent output {short(op.output, 64)!r} sealed for"
                f" {short(op.recipient, 64)!r}, which the job does not name; refused",
                culprit=label,
            )
        if (op.output, label) in job.seen:
            raise RemoteProtocolError(f"{label} sent output {op.output!r} twice")
        job.seen.add((op.output, label))
        item = Sealed(op.output, sub.ident.label, op.blob, op.signature, sender=label)
        try:
            async with asyncio.timeout(self.cfg.timeouts.round):
                await sub.ch.send_op(job.id, item)
        except TimeoutError:
            raise RoundTimeout(
                f"{sub.ident.label} is not reading its outputs", culprit=sub.ident.label
            ) from None
        sub.delivered.add((op.output, label))


async def serve_coordinator(
    cfg: ClusterConfig, stop: asyncio.Event, *, job_timeout: float | None = None
) -> int:
    """Serve ``cfg`` until ``stop`` is set; returns 0."""
    return await ServingCoordinator(cfg, job_timeout=job_timeout).run(stop)
