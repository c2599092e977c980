"""A serving party (``mpc party --serve``): one authenticated mesh, job after job over it.

The party dials the coordinator once and says :class:`~mpc_runtime.wire.control.Serve`.  When
every party is there the coordinator sends ``Mesh(session)``: the party builds the TLS mesh with
the other parties (the existing :func:`~mpc_runtime.transport.mesh.build_mesh`; the HELLO names
the serving session instead of a job) and answers ``Ready``.  Then, for each submitted job:

1. ``Offer(spec hash, spec, nonces)``: the party checks the job exactly as a one-job party does
   (program resolution and SHA-256 for file programs, bounds checks, its inputs against their
   declared bounds), its inputs coming from ``<inputs-dir>/<job id>.json`` (or ``.toml``).  It
   answers ``Agree`` to the coordinator and to every other party, or a ``job_abort`` naming
   itself to all of them;
2. once every other party agreed over the mesh, a :class:`~mpc_runtime.runtime.session.Session`
   runs the program over per-job views of the shared channels (``JobChannel``); the job ends
   with ``job_bye`` / ``job_abort`` messages, never BYE/ABORT, so the channels outlive it;
3. ``Done(ledger)``, then ``Finished``; outputs revealed to this party go to ``on_result``.

:class:`~mpc_runtime.runtime.session.ServedMesh` is the demultiplexer: one reader per peer
channel routes each DATA message to its job's ``JobChannel`` by the job id every message
carries.  A failed job leaves the mesh up; a lost, aborting or frozen peer (heartbeats:
:mod:`mpc_runtime.transport.liveness`) fails every open job naming it, the mesh is dropped and
the coordinator rebuilds it once every party is back.  A stop (``Ctrl-C``/SIGTERM) aborts the
running jobs, says BYE to the coordinator and to every peer (they report that this party left)
and returns.

May import: config, errors, ids, deadline, pki, jobs, node.party/inputs/programs, preprocessing,
runtime, transport, wire.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import (
    ConfigError,
    InputError,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SpecMismatch,
    UsageError,
)
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.audit import AuditLog
from mpc_runtime.jobs.relay import SealedRelay
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.node.inputs import read_input_file
from mpc_runtime.node.party import _prepare, _Prepared, privacy_notes
from mpc_runtime.preprocessing.dealer.client import DealerClient
from mpc_runtime.preprocessing.provider import Provider
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import JobChannel, ServedMesh, Session, abort_of, aborted_by
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.transport.mesh import build_mesh, dial_service, party_listener
from mpc_runtime.wire import (
    Abort,
    Accept,
    Bye,
    Control,
    ControlOp,
    Done,
    EndOfStream,
    Finished,
    Hello,
    MaterialError,
    MaterialReply,
    PeerAbort,
    Refuse,
)
from mpc_runtime.wire.control import Agree, JobAbort, Mesh, Offer, Ready, Serve

__all__ = ["PartyServer", "serve_hello", "serve_party"]

log = logging.getLogger("mpc.serve")

Say = Callable[[str], None]
ResultSink = Callable[[str, dict[str, Any], Ledger], None]
"""``on_result(job_id, outputs revealed to this party, ledger)``."""


def serve_hello(cfg: ClusterConfig, session: str) -> Hello:
    """The HELLO of a serving mesh: no job, the serving session in place of a spec hash."""
    return Hello(cfg.name, "", f"serve:{session}")


# ---- one job ---------------------------------------------------------------------------------


@dataclass
class _Job:
    """A job this party accepted or is checking."""

    id: str
    events: asyncio.Queue[ControlOp | MPCError] = field(default_factory=asyncio.Queue)
    session: Session | None = None
    dealer: DealerClient | None = None
    failure: MPCError | None = None
    failed: asyncio.Event = field(default_factory=asyncio.Event)
    reported: bool = False

    def fail(self, err: MPCError) -> None:
        if self.failure is None:
            self.failure = err
        self.failed.set()
        self.events.put_nowait(err)
        if self.session is not None:
            self.session.fail(err)
        if self.dealer is not None:
            self.dealer.fail(err)

    async def next(self, want: type[ControlOp], deadline: Deadline, waiting: str) -> Any:
        try:
            async with deadline.scope():
                while True:
                    ev = await self.events.get()
                    if isinstance(ev, MPCError):
                        self.events.put_nowait(ev)
                        raise ev
                    if isinstance(ev, want):
                        return ev
        except TimeoutError:
            raise RoundTimeout(
                f"the coordinator sent nothing while we waited for {waiting} of job {self.id}",
                peer="coordinator",
                culprit="coordinator",
            ) from None


CERT_CACHE = 60.0
"""Seconds a recipient's checked sealing certificate is reused across jobs."""


class _CachedRelay(SealedRelay):
    """:class:`SealedRelay` whose recipients' sealing certificates, once checked, serve the
    jobs of the next :data:`CERT_CACHE` seconds (a long-lived party seals for the same few)."""

    def __init__(self, cache: dict[Identity, tuple[float, Any]], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._cache = cache

    def _cert(self, recipient: Identity) -> Any:
        now = time.monotonic()
        hit = self._cache.get(recipient)
        if hit is not None and now - hit[0] < CERT_CACHE:
            return hit[1]
        cert = super()._cert(recipient)
        self._cache[recipient] = (now, cert)
        return cert


def _forget_file_programs() -> None:
    """File programs are cached by path (:mod:`mpc_runtime.node.programs`); a long-lived party
    must run the file as it is when the job is checked, so earlier imports are forgotten."""
    for name in [n for n in sys.modules if n.startswith("mpc_user_")]:
        del sys.modules[name]


# ---- the serving party -----------------------------------------------------------------------


class PartyServer:
    """One serving party: its coordinator link, its current mesh and its jobs."""

    def __init__(
        self,
        cfg: ClusterConfig,
        pid: int,
        *,
        inputs_dir: Path | None = None,
        programs: list[Path] | None = None,
        audit_path: Path | None = None,
        say: Say | None = None,
        warn: Say | None = None,
        on_result: ResultSink | None = None,
    ) -> None:
        cfg.party(pid)  # ConfigError if we are not in the cluster
        self.cfg = cfg
        self.pid = pid
        self.me = Identity.party(pid)
        self.inputs_dir = inputs_dir
        self.search = list(programs or [])
        self.audit = AuditLog(audit_path) if audit_path is not None else None
        self.say = say or (lambda _m: None)
        self.warn = warn or self.say
        self.on_result = on_result or (lambda _j, _o, _l: None)
        self.signing_key = pki.load_key(cfg.key_path(self.me))
        self.certs: dict[Identity, tuple[float, Any]] = {}
        self.jobs: dict[str, _Job] = {}
        self.used: set[str] = set()
        self.mesh: ServedMesh | None = None
        self.session_id = ""
        self.ch: Channel | None = None
        self.failure: MPCError | None = None
        self.changed = asyncio.Event()
        self._mesh_ops: asyncio.Queue[Mesh] = asyncio.Queue()
        self._replies: asyncio.Queue[Accept | Refuse] = asyncio.Queue()
        self._coord_bye = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.ran = 0

    # ---- the coordinator link ----------------------------------------------------------------
    async def send(self, job: str, op: ControlOp) -> None:
        if self.ch is None:
            raise PeerLostError("not connected to the coordinator", culprit="coordinator")
        try:
            async with asyncio.timeout(self.cfg.timeouts.round):
                await self.ch.send_op(job, op)
        except TimeoutError:
            raise RoundTimeout(
                "the coordinator did not accept a control message", culprit="coordinator"
            ) from None

    def _fail(self, err: MPCError) -> None:
        if self.failure is None:
            self.failure = err
        for job in list(self.jobs.values()):
            job.fail(err)
        self.changed.set()

    async def _coordinator_reader(self, ch: Channel) -> None:
        try:
            while True:
                match await ch.next_event():
                    case Control(job="", op=Mesh() as op):
                        self._mesh_ops.put_nowait(op)
                        self.changed.set()
                    case Control(job="", op=Accept() | Refuse() as op):
                        self._replies.put_nowait(op)
                    case Control(job=job, op=Offer() as op):
                        self._offer(job, op)
                    case Control(job=job, op=Finished() as op):
                        if (j := self.jobs.get(job)) is not None:
                            j.events.put_nowait(op)
                    case Control(job=job, op=JobAbort() as op):
                        if (j := self.jobs.get(job)) is not None:
                            j.fail(aborted_by("coordinator", op.abort()))
                    case Control(job=job, op=MaterialReply() | MaterialError() as op):
                        if (j := self.jobs.get(job)) is not None and j.dealer is not None:
                            j.dealer.on_reply(op)
                    case Bye():
                        self._coord_bye = True
                    case PeerAbort(abort=abort):
                        raise aborted_by("coordinator", abort)
                    case EndOfStream():
                        how = "left the cluster" if self._coord_bye else "was lost"
                        raise PeerLostError(f"the coordinator {how}", culprit="coordinator")
                    case _:
                        raise RemoteProtocolError(
                            "the coordinator sent an unexpected message", peer="coordinator"
                        )
        except MPCError as err:
            self._fail(err)
        except asyncio.CancelledError:
            return

    async def _connect(self) -> None:
        cfg = self.cfg
        deadline = Deadline.after(cfg.timeouts.connect)
        self.ch = await dial_service(
            cfg, self.me, cfg.coordinator, Identity.coordinator(), deadline
        )
        self._spawn(self._coordinator_reader(self.ch))
        watch = Liveness(lambda: [self.ch] if self.ch is not None else [], cfg.timeouts.round)
        self._spawn(watch.run(self._frozen))
        await self.send("", Serve())
        try:
            async with Deadline(max(deadline.when, Deadline.after(1.0).when)).scope():
                reply = await self._replies.get()
        except TimeoutError:
            raise RoundTimeout("the coordinator did not answer", culprit="coordinator") from None
        if isinstance(reply, Refuse):
            raise UsageError(f"the coordinator refused us: {reply.reason}")

    async def _frozen(self, err: MPCError) -> None:
        self._fail(err.with_context(culprit="coordinator"))

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        t: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    # ---- the mesh ----------------------------------------------------------------------------
    async def _build_mesh(self, op: Mesh) -> None:
        rebuild = PeerLostError("the coordinator re-forms the mesh", culprit="coordinator")
        for job in list(self.jobs.values()):
            job.fail(rebuild)
        await self._drop_mesh(Abort("mesh", f"{self.me.label} joins a new mesh"))
        cfg = self.cfg
        hello = serve_hello(cfg, op.session)
        listener: Listener = party_listener(cfg, self.pid, hello)
        await listener.start()
        try:
            channels = await build_mesh(
                cfg, self.pid, hello, listener, Deadline.after(cfg.timeouts.connect)
            )
        except MPCError as err:
            self.warn(f"party {self.pid}: the mesh did not form: {err}")
            await self.send("", JobAbort.of(abort_of(err, self.me.label)))
            return
        finally:
            await listener.aclose()
        self.session_id = op.session
        self.mesh = ServedMesh(
            self.pid, channels, round_timeout=cfg.timeouts.round, on_down=self._mesh_down
        )
        self.mesh.start()
        await self.send("", Ready(op.session))
        self.say(f"party {self.pid}: connected to the other parties; serving jobs")

    def _mesh_down(self, err: MPCError) -> None:
        self.warn(f"party {self.pid}: {err.message}; waiting for the cluster to re-form")
        for job in list(self.jobs.values()):
            job.fail(err)
        mesh, self.mesh = self.mesh, None
        if mesh is not None:
            self._spawn(self._report_down(mesh, err))

    async def _report_down(self, mesh: ServedMesh, err: MPCError) -> None:
        await mesh.close(abort_of(err, self.me.label))
        try:
            await self.send("", JobAbort.of(abort_of(err, self.me.label)))
        except MPCError as exc:
            self._fail(exc)

    async def _drop_mesh(self, abort: Abort | None) -> None:
        mesh, self.mesh = self.mesh, None
        if mesh is not None:
            await mesh.close(abort)

    # ---- jobs --------------------------------------------------------------------------------
    def _offer(self, job_id: str, op: Offer) -> None:
        if job_id in self.jobs or job_id in self.used:
            err = UsageError(f"{self.me.label} already ran job {job_id}: job ids are unique")
            self._spawn(self._refuse(job_id, err))
            return
        self.used.add(job_id)
        job = _Job(job_id)
        self.jobs[job_id] = job
        self._spawn(self._run_job(job, op))

    async def _refuse(self, job_id: str, err: MPCError) -> None:
        """Tell the coordinator and every peer (they may wait for our agreement) at once."""
        op = JobAbort.of(abort_of(err, self.me.label))
        await self._to_peers(job_id, op)
        try:
            await self.send(job_id, op)
        except MPCError as exc:
            self._fail(exc)

    async def _to_peers(self, job_id: str, op: ControlOp) -> None:
        if self.mesh is not None:
            timeout = self.cfg.timeouts.round
            chans = self.mesh.channels.values()
            await asyncio.gather(
                *(c.send_quietly(c.op_message(job_id, op), timeout) for c in chans)
            )

    def _inputs(self, spec: JobSpec) -> dict[str, Any]:
        mine = [i for i in spec.inputs if i.party == self.pid]
        if self.inputs_dir is None:
            if mine:
                raise InputError(
                    f"{self.me.label} has no inputs for job {spec.job_id}: it was started"
                    " without --inputs-dir"
                )
            return {}
        for suffix in (".json", ".toml"):
            path = self.inputs_dir / f"{spec.job_id}{suffix}"
            if path.is_file():
                return read_input_file(path)
        if mine:
            raise InputError(
                f"{self.me.label} has no input file for job {spec.job_id}"
                f" ({self.inputs_dir}/{spec.job_id}.json or .toml)"
            )
        return {}

    def _check(self, job_id: str, op: Offer) -> _Prepared:
        """The offered job, checked as a one-job party checks its own (a refusal is kept)."""
        label = self.me.label
        try:
            spec = resolve(JobSpec.model_validate(op.spec), self.cfg)
        except ValidationError:
            raise SpecMismatch(f"{label} cannot read the spec of job {job_id}") from None
        ours = spec_hash(spec)
        if ours != op.spec_hash or spec.job_id != job_id:
            raise SpecMismatch(
                f"{label} holds a different spec of job {job_id} (theirs {op.spec_hash[:12]},"
                f" ours {ours[:12]})",
                culprit=label,
            )
        why = _unsupported(spec, self.cfg)
        if why:
            raise UsageError(f"{label} refuses job {job_id}: {why}", culprit=label)
        try:
            given = self._inputs(spec)
        except InputError as err:
            prep = _Prepared(spec, ours, {}, None, err.with_context(culprit=label))
            return prep
        if spec.is_file_program:
            _forget_file_programs()
        return _prepare(self.cfg, self.pid, spec, given, None, self.search)

    def _checked(self, job: _Job, op: Offer) -> _Prepared | MPCError:
        """The prepared job, or why this party refuses it (the error names this party)."""
        try:
            prep = self._check(job.id, op)
        except (SpecMismatch, UsageError, ConfigError) as err:
            return err.with_context(culprit=self.me.label)
        if prep.refusal is not None:
            return prep.refusal
        return prep if prep.program is not None else UsageError("no program")

    async def _run_job(self, job: _Job, op: Offer) -> None:
        try:
            prep = self._checked(job, op)
            if isinstance(prep, MPCError):
                self.warn(f"party {self.pid}: refused job {job.id}: {prep.message}")
                job.reported = True
                await self._refuse(job.id, prep)
                return
            await self._accept(job, prep, op.nonces)
        except MPCError as err:
            if not job.reported:
                job.reported = True
                await self._refuse(job.id, err)
            self.warn(f"party {self.pid}: job {job.id} failed: {err}")
        finally:
            self.jobs.pop(job.id, None)
            if self.mesh is not None:
                self.mesh.close_job(job.id)

    async def _accept(self, job: _Job, prep: _Prepared, nonces: dict[str, Any]) -> None:
        cfg = self.cfg
        for note in privacy_notes(prep.program, prep.spec, len(cfg.parties)):
            self.warn(f"job {job.id}: privacy: {note}")
        if self.mesh is None:
            raise PeerLostError(f"{self.me.label} has no mesh: the cluster is re-forming")
        if prep.program is None:
            raise UsageError("no program")
        views = self.mesh.open_job(job.id)
        agree = Agree(prep.hash)
        await asyncio.gather(self.send(job.id, agree), self._to_peers(job.id, agree))
        await self._peers_agree(job, views, prep.hash, Deadline.after(cfg.timeouts.connect))
        session = self._session(job, prep, views, nonces)
        await session.run(prep.program)
        await self.send(job.id, Done(session.ledger.as_json()))
        await job.next(Finished, Deadline.after(cfg.timeouts.round + cfg.timeouts.connect), "end")
        self.ran += 1
        self.on_result(job.id, dict(session.outputs), session.ledger)

    async def _peers_agree(
        self, job: _Job, views: dict[int, JobChannel], h: str, deadline: Deadline
    ) -> None:
        """Wait until every other party agreed to the job over the mesh (or refused it)."""
        agreed: set[str] = set()

        async def one(view: JobChannel) -> None:
            label = view.peer.label
            match await view.next_event():
                case Control(op=Agree(spec_hash=theirs)) if theirs == h:
                    agreed.add(label)
                case Control(op=Agree()):
                    raise SpecMismatch(f"{label} agreed to another spec of job {job.id}")
                case PeerAbort(abort=abort):
                    raise aborted_by(label, abort)
                case EndOfStream():
                    raise PeerLostError(f"{label} was lost", culprit=label)
                case _:
                    raise RemoteProtocolError(f"{label} sent job {job.id} data before agreeing")

        work: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(one(v) for v in views.values()))
        )
        failed: asyncio.Future[Any] = asyncio.ensure_future(job.failed.wait())
        try:
            done, _ = await asyncio.wait(
                {work, failed}, timeout=deadline.remaining(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            failed.cancel()
        if work in done:
            work.result()
            return
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        if job.failure is not None:
            raise job.failure
        silent = sorted(v.peer.label for v in views.values() if v.peer.label not in agreed)
        raise RoundTimeout(
            f"{', '.join(silent)} did not agree to job {job.id} within the connect deadline",
            culprit=silent[0] if silent else None,
        )

    def _provider(self, job: _Job, spec: JobSpec) -> Provider:
        cfg = self.cfg
        if spec.preprocessing == "ot":
            from mpc_runtime.preprocessing.ot.provider import OTProvider

            return OTProvider(max_message_bytes=cfg.limits.max_frame_bytes // 2)

        async def send(op: ControlOp) -> None:
            await self.send(job.id, op)

        job.dealer = DealerClient(
            send,
            party_index=cfg.party_ids.index(self.pid),
            peer="coordinator",
            timeout=cfg.timeouts.round,
        )
        return job.dealer

    def _session(
        self, job: _Job, prep: _Prepared, views: dict[int, JobChannel], nonces: dict[str, Any]
    ) -> Session:
        spec, me = prep.spec, self.me

        async def send(op: ControlOp) -> None:
            await self.send(job.id, op)

        relay = _CachedRelay(
            self.certs,
            send,
            self.cfg,
            job.id,
            prep.hash,
            me.label,
            signing_key=self.signing_key,
            nonces=nonces,
        )
        policy = RevealPolicy(
            spec.policy_outputs(),
            external=relay,
            audit=self.audit.hook(job.id, prep.hash, me.label) if self.audit else None,
        )

        async def report(err: MPCError) -> None:
            job.reported = True
            await self.send(job.id, JobAbort.of(abort_of(err, me.label)))

        session = Session(
            self.pid,
            dict(views),
            job=job.id,
            round_timeout=self.cfg.timeouts.round,
            provider=self._provider(job, spec),
            policy=policy,
            inputs=prep.inputs,
            params=spec.params,
            declared=spec.input_decls(),
            on_abort=report,
        )
        job.session = session
        if job.failure is not None:
            session.fail(job.failure)
        return session

    # ---- the serving loop --------------------------------------------------------------------
    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (returns) or the coordinator is gone (raises)."""
        await self._connect()
        self.say(f"party {self.pid}: serving cluster {self.cfg.name}; waiting for the others")
        try:
            while self.failure is None and not stop.is_set():
                if not self._mesh_ops.empty():
                    await self._build_mesh(self._mesh_ops.get_nowait())
                    continue
                self.changed.clear()
                waits = [asyncio.ensure_future(self.changed.wait())]
                waits.append(asyncio.ensure_future(stop.wait()))
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
            if self.failure is not None and not stop.is_set():
                raise self.failure
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        """Abort running jobs (telling peers and the coordinator), then BYE everyone."""
        running = [t for t in self._tasks if not t.done()]
        for t in running:
            t.cancel()
        if running:
            await asyncio.wait(running, timeout=2.0)
        if self.ch is not None:
            await self.ch.bye_quietly("")
        await self._drop_mesh(None)
        if self.ch is not None:
            await self.ch.aclose()


def _unsupported(spec: JobSpec, cfg: ClusterConfig) -> str:
    """Why a serving cluster cannot run ``spec`` (empty if it can)."""
    if spec.contributions is not None:
        return "a serving cluster does not run contribution jobs (use mpc coordinator --job)"
    if getattr(spec, "dataset", None) is not None or any(
        getattr(o, "noise", None) is not None for o in spec.outputs
    ):
        return "a serving cluster does not run jobs with differential-privacy noise yet"
    if spec.preprocessing == "dealer" and not cfg.coordinator.embedded_dealer:
        return "a serving cluster makes material with ot or the coordinator's embedded dealer"
    return ""


async def serve_party(cfg: ClusterConfig, pid: int, stop: asyncio.Event, **kw: Any) -> int:
    """Run a serving party until ``stop`` is set; returns the number of jobs it finished."""
    server = PartyServer(cfg, pid, **kw)
    await server.serve(stop)
    return server.ran
