"""The coordinator process: admits the participants of a job, agrees the job spec, starts the job,
relays sealed output blobs, and stops everyone, naming the culprit, when anything fails.

Participants join with :class:`~mpc_runtime.wire.Join` (the spec and its hash): every party, every
external recipient the spec names, and the dealer when the job's provider is a separate dealer.
The job starts (:class:`~mpc_runtime.wire.Start` to the parties) only once all of them joined
within the connect deadline; otherwise the coordinator aborts, naming who is missing, before any
party computes.  Parties report :class:`~mpc_runtime.wire.Done` (with their ledger) or an ABORT
(with the category, the culprit and the op); sealed output shares are forwarded to their recipient
with the sender taken from the authenticated connection; recipients acknowledge with
:class:`~mpc_runtime.wire.Received`; then everyone gets :class:`~mpc_runtime.wire.Finished`.

Every participant is watched: a lost connection or a frozen participant (nothing, not even a
heartbeat, for the round timeout) aborts the job at once, naming it.  After an abort the
coordinator stays up for a short grace period to tell late joiners why.

The coordinator never holds an input, a share in the clear or an output value.  Only if the
cluster opts in (``[coordinator] embedded_dealer = true``) does it also act as the dealer, which
makes it trusted: with any one party it could unmask every opening.

Jobs with contributions also open the contributor port (:mod:`.contributors`) and run the
contribution window (:mod:`.desk`).

May import: config, errors, ids, deadline, jobs, preprocessing.dealer (embedded dealer only),
transport, wire, coordinator.desk, coordinator.contributors.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.contributors import ContributorPort
from mpc_runtime.coordinator.desk import ContributionDesk
from mpc_runtime.deadline import Deadline, wait_until
from mpc_runtime.errors import (
    ConnectError,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SpecMismatch,
    UnauthorizedReveal,
)
from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.contrib import load_eligible
from mpc_runtime.jobs.sealing import RUN_NONCE_BYTES
from mpc_runtime.jobs.spec import JobSpec, check_against_cluster, resolve, spec_hash
from mpc_runtime.preprocessing.dealer.service import DealerService
from mpc_runtime.runtime.session import abort_of, aborted_by
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.transport.mesh import service_listener
from mpc_runtime.wire import (
    Abort,
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
    Start,
    short,
)

__all__ = ["Coordinator", "Observer", "run_coordinator"]

log = logging.getLogger("mpc.coordinator")

DEFAULT_JOB_TIMEOUT = 3600.0
MAX_LEDGER_KEYS = 10_000
LINGER = 2.0
"""Seconds the coordinator stays up after an abort to tell late joiners why."""

Observer = Callable[[Identity, ControlOp], None]
"""Called with every control operation the coordinator handles (tests record them)."""


def _say(msg: str) -> None:
    print(f"coordinator: {msg}", file=sys.stderr, flush=True)


@dataclass
class _Peer:
    ch: Channel
    joined: bool = False
    done: bool = False
    acked: bool = False
    ended: bool = False
    nonce: bytes = b""
    delivered: set[tuple[str, str]] = field(default_factory=set)  # recipient: (output, sender)


class Coordinator:
    """One job's coordinator.  :meth:`run` returns the process exit status."""

    def __init__(
        self,
        cfg: ClusterConfig,
        spec: JobSpec | None,
        *,
        job_timeout: float | None = None,
        observer: Observer | None = None,
        say: Callable[[str], None] = _say,
        search: list[Path] | None = None,
    ) -> None:
        self.cfg = cfg
        self.search = search or []
        self.spec = resolve(spec, cfg) if spec is not None else None
        self.hash = spec_hash(self.spec) if self.spec is not None else None
        self.job_timeout = job_timeout if job_timeout is not None else DEFAULT_JOB_TIMEOUT
        self.observer = observer
        self.say = say
        self.me = Identity.coordinator()
        self.parties = {Identity.party(p) for p in cfg.party_ids}
        self.peers: dict[Identity, _Peer] = {}
        self.ledgers: dict[int, dict[str, Any]] = {}
        self.queued: dict[str, list[Sealed]] = {}
        self._seen_blobs: dict[str, set[tuple[str, str]]] = {}
        self.started = False
        self.dealer: DealerService | None = None
        if cfg.coordinator.embedded_dealer:
            self.dealer = DealerService(cfg.party_ids, spec.dealer_budget if spec else None)
        self.failure: MPCError | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._liveness = Liveness(self._watched, cfg.timeouts.round)
        self.desk: ContributionDesk | None = None
        self.contributors: ContributorPort | None = None

    # ---- who takes part -------------------------------------------------------------------
    @property
    def job(self) -> str:
        return self.spec.job_id if self.spec is not None else ""

    def _expected(self) -> set[Identity]:
        """Everyone who must join before the job starts."""
        want = set(self.parties)
        if self.spec is not None:
            want |= {Identity.recipient(r) for r in self.spec.external_recipients()}
            if self.spec.preprocessing == "dealer" and self.cfg.dealer is not None:
                want.add(Identity.dealer())
        return want

    def _joined(self) -> set[Identity]:
        return {i for i, p in self.peers.items() if p.joined}

    def _watched(self) -> list[Channel]:
        return [p.ch for p in self.peers.values() if p.joined and not p.ended]

    def _expected_blobs(self, recipient: str) -> set[tuple[str, str]]:
        if self.spec is None:
            return set()
        outs = self.spec.external_recipients().get(recipient, [])
        return {(o, p.label) for o in outs for p in self.parties}

    def _finished(self) -> bool:
        if self.spec is None or not self.started:
            return False
        if not all(self.peers[p].done for p in self.parties if p in self.peers):
            return False
        return all(
            (peer := self.peers.get(Identity.recipient(name))) is not None and peer.acked
            for name in self.spec.external_recipients()
        )

    def _fail(self, err: MPCError) -> None:
        if self.failure is None:
            self.failure = err
        self._changed.set()

    async def _send(self, ident: Identity, op: ControlOp) -> bool:
        peer = self.peers.get(ident)
        if peer is None:
            return False
        return await peer.ch.send_quietly(peer.ch.op_message(self.job, op))

    # ---- the run ---------------------------------------------------------------------------
    async def run(self) -> int:
        cfg = self.cfg

        def admit(peer: Identity) -> bool:
            return peer.role in (Role.PARTY, Role.RECIPIENT, Role.DEALER) and cfg.knows(peer)

        listener = service_listener(cfg, self.me, cfg.coordinator, admit)
        await listener.start()
        where = f"{cfg.coordinator.listen_host}:{cfg.coordinator.port}"
        what = f"job {self.job} (spec {self.hash[:12]})" if self.hash else "the first joiner's job"
        self.say(f"listening on {where} for {what}; waiting for {len(self.parties)} parties")
        if self.dealer is not None:
            self.say(
                "warning: embedded_dealer is on: this coordinator deals preprocessing material,"
                " so it must be trusted (with any one party it could unmask every opening)"
            )
        acceptor = asyncio.create_task(self._accept(listener))
        watchdog = asyncio.create_task(self._liveness.run(self._frozen))
        try:
            if self.spec is not None:
                await self._open_desk()
            code = await self._drive()
        finally:
            acceptor.cancel()
            watchdog.cancel()
            if self.contributors is not None:
                await self.contributors.aclose()
            for t in list(self._tasks):
                t.cancel()
            for peer in self.peers.values():
                peer.ch.close()
            await listener.aclose()
        return code

    async def _frozen(self, err: MPCError) -> None:
        self._fail(err)

    # ---- contributions ---------------------------------------------------------------------
    async def _open_desk(self) -> None:
        """If the job takes contributions: check the eligible list and open the contributor
        port (contributions that arrive before the job starts are held)."""
        spec = self.spec
        if spec is None or spec.contributions is None or self.desk is not None:
            return
        eligible = load_eligible(spec.contributions, self.search)
        labels = [p.label for p in sorted(self.parties)]
        self.desk = ContributionDesk(
            spec, self.hash or "", labels, eligible, send_all=self._send_parties, say=self.say
        )
        self.contributors = ContributorPort(self.cfg, self.job, self.desk, fail=self._fail)
        await self.contributors.start()
        self._spawn(self.contributors.run())
        self.say(f"contributors submit at {self.contributors.where}")

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except MPCError as err:
                self._fail(err)

        t = asyncio.create_task(guarded())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _send_parties(self, ops: dict[str, ControlOp]) -> None:
        """One operation to each party, each bounded by the round timeout."""

        async def one(label: str, op: ControlOp) -> None:
            peer = self.peers.get(Identity.from_label(label))
            if peer is None or peer.ended:
                raise PeerLostError(f"{label} was lost before it got contributions", culprit=label)
            try:
                async with asyncio.timeout(self.cfg.timeouts.round):
                    await peer.ch.send_op(self.job, op)
            except TimeoutError:
                raise RoundTimeout(
                    f"{label} is not reading contributions", peer=label, culprit=label
                ) from None

        await asyncio.gather(*(one(label, op) for label, op in ops.items()))

    async def _accept(self, listener: Listener) -> None:
        while True:
            ch = await listener.next_channel()
            if ch.peer in self.peers:
                await ch.abort_quietly(self.job, Abort("duplicate", f"{ch.peer.label} is here"))
                ch.close()
                continue
            if self.failure is not None:  # a late joiner: tell it why, briefly
                await ch.abort_quietly(self.job, abort_of(self.failure, self.me.label))
                ch.close()
                continue
            self.peers[ch.peer] = _Peer(ch)
            t = asyncio.create_task(self._serve(ch.peer))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _drive(self) -> int:
        connect = Deadline.after(self.cfg.timeouts.connect)
        job_deadline = Deadline.after(self.job_timeout)
        everyone = lambda: self.spec is not None and self._expected() <= self._joined()  # noqa: E731
        if not await wait_until(self._changed, lambda: everyone() or self._failed(), connect):
            missing = sorted(i.label for i in self._expected() - self._joined())
            self._fail(
                ConnectError(
                    f"{', '.join(missing)} did not join within {self.cfg.timeouts.connect:g}s"
                    " (connect deadline)",
                    culprit=missing[0] if missing else None,
                )
            )
        if self._failed():
            return await self._abort()
        self.started = True
        starting = self.parties | (self._joined() & {Identity.dealer()})
        nonces = {i.label: p.nonce for i, p in self.peers.items() if i.role is Role.RECIPIENT}
        await asyncio.gather(*(self._send(p, Start(nonces)) for p in starting))
        self.say(f"job {self.job} started")
        if self.desk is not None:
            await self.desk.open()
            self._spawn(self.desk.run())
        done = lambda: self._finished() or self._failed()  # noqa: E731
        if not await wait_until(self._changed, done, job_deadline):
            self._fail(self._timeout_error())
        if self._failed():
            return await self._abort()
        await asyncio.gather(*(self._send(i, Finished()) for i in list(self.peers)))
        self._summary(self.job_timeout - job_deadline.remaining())
        return 0

    def _failed(self) -> bool:
        return self.failure is not None

    def _timeout_error(self) -> MPCError:
        waiting = [
            p.label
            for p in sorted(self.parties)
            if (pp := self.peers.get(p)) is None or not pp.done
        ]
        if self.spec is not None:
            for name in self.spec.external_recipients():
                peer = self.peers.get(Identity.recipient(name))
                if peer is None or not peer.acked:
                    waiting.append(f"recipient:{name}")
        return RoundTimeout(
            f"job {self.job} did not finish within {self.job_timeout:g}s"
            f" (still waiting for {', '.join(waiting) or 'nobody'})",
            culprit=waiting[0] if waiting else None,
        )

    async def _abort(self) -> int:
        err = self.failure or MPCError("job aborted")
        if self.desk is not None:
            self.desk.closed = True  # later contributions are refused
        abort = abort_of(err, self.me.label)
        await asyncio.gather(
            *(p.ch.abort_quietly(self.job, abort) for i, p in self.peers.items() if not p.ended)
        )
        where = f" at {err.op_path}" if err.op_path else ""
        culprit = err.blamed
        who = f" (culprit: {culprit})" if culprit and culprit not in err.message else ""
        self.say(f"job {self.job or '(none)'} aborted: {err.message}{who}{where}")
        await asyncio.sleep(LINGER)  # late joiners get the ABORT from _accept meanwhile
        return err.exit_code

    def _summary(self, seconds: float) -> None:
        rounds, sent = 0, 0
        for led in self.ledgers.values():
            online = led.get("online", {}).get("total", {}) if isinstance(led, dict) else {}
            offline = led.get("offline", {}).get("total", {}) if isinstance(led, dict) else {}
            for total in (online, offline):
                b = total.get("bytes_sent", 0) if isinstance(total, dict) else 0
                sent += int(b) if isinstance(b, int | float) else 0
            r = online.get("rounds", 0) if isinstance(online, dict) else 0
            rounds = max(rounds, r if isinstance(r, int) else 0)
        plural = "round" if rounds == 1 else "rounds"
        self.say(
            f"job {self.job} finished in {seconds:.2f}s: {len(self.parties)} parties,"
            f" {rounds} online {plural}, {sent} bytes sent between parties"
        )

    # ---- one connection ------------------------------------------------------------------
    async def _serve(self, ident: Identity) -> None:
        peer = self.peers[ident]
        label = ident.label
        try:
            while True:
                match await peer.ch.next_event():
                    case Control(job=job, op=op):
                        if self.observer is not None:
                            self.observer(ident, op)
                        await self._dispatch(ident, peer, job, op)
                    case PeerAbort(abort=abort):
                        peer.ended = True
                        raise aborted_by(label, abort)
                    case Bye():
                        peer.ended = True
                    case EndOfStream():
                        peer.ended = True
                        self._on_eof(ident, peer)
                        return
                    case _:
                        raise RemoteProtocolError(f"{label} sent an unexpected message", peer=label)
        except MPCError as err:
            if isinstance(err, UnauthorizedReveal):
                log.error("UnauthorizedReveal: %s", err)
            if peer.joined:
                self._fail(err.with_context(peer=label))
            else:
                self._forget(ident, peer)
        except asyncio.CancelledError:
            return

    def _forget(self, ident: Identity, peer: _Peer) -> None:
        """A connection that never joined (refused, or closed early) may come back."""
        if self.peers.get(ident) is peer:
            del self.peers[ident]
        peer.ch.close()

    def _on_eof(self, ident: Identity, peer: _Peer) -> None:
        if not peer.joined:
            self._forget(ident, peer)
            return
        if self.failure is not None:
            return
        finished_role = (ident in self.parties and peer.done) or peer.acked
        if finished_role or (ident.role is Role.DEALER and self._finished()):
            self._changed.set()
            return
        self._fail(
            PeerLostError(f"{ident.label} was lost (connection closed)", culprit=ident.label)
        )

    async def _dispatch(self, ident: Identity, peer: _Peer, job: str, op: ControlOp) -> None:
        label = ident.label
        if isinstance(op, Join):
            await self._join(ident, peer, job, op)
            return
        if not peer.joined:
            raise RemoteProtocolError(f"{label} sent {op.op} before joining", peer=label)
        if job != self.job:
            raise RemoteProtocolError(f"{label} sent a message for another job", peer=label)
        match op:
            case Material() if ident in self.parties:
                await self._material(ident, peer, op)
            case Sealed() if ident in self.parties:
                await self._sealed(ident, op)
            case Done() if ident in self.parties:
                self._done(ident, peer, op)
            case Received() if ident.role is Role.RECIPIENT:
                self._received(ident, peer)
            case _:
                raise RemoteProtocolError(f"{label} sent an unexpected {op.op}", peer=label)

    async def _material(self, ident: Identity, peer: _Peer, op: Material) -> None:
        if self.dealer is None:
            raise RemoteProtocolError(
                f"{ident.label} asked the coordinator for material: it does not deal",
                peer=ident.label,
            )
        reply = await self.dealer.handle(self.job, int(ident.name), op)
        await peer.ch.send_op(self.job, reply)

    async def _refuse(self, peer: _Peer, code: str, reason: str) -> None:
        await peer.ch.send_quietly(peer.ch.op_message(self.job, Refuse(code, reason[:300])))

    def _adopt(self, label: str, theirs: JobSpec, h: str) -> None:
        check_against_cluster(theirs, self.cfg)
        self.spec, self.hash = theirs, h
        if self.dealer is not None and theirs.dealer_budget is not None:
            self.dealer.state.budget = theirs.dealer_budget
        self.say(f"adopted job {theirs.job_id} (spec {h[:12]}) from {label}")

    async def _check_spec(self, ident: Identity, peer: _Peer, job: str, op: Join) -> bool:
        label = ident.label
        try:
            theirs = resolve(JobSpec.model_validate(op.spec), self.cfg)
        except ValidationError:
            await self._refuse(peer, "bad-spec", "the job spec sent is not valid")
            raise SpecMismatch(f"{label} sent an invalid job spec", peer=label) from None
        h = spec_hash(theirs)
        if op.spec_hash != h or job != theirs.job_id:
            await self._refuse(peer, "bad-spec", "spec hash or job id does not match the spec")
            raise SpecMismatch(f"{label} sent a spec whose hash does not match it", peer=label)
        if self.spec is None:
            try:
                self._adopt(label, theirs, h)
                await self._open_desk()
            except MPCError as exc:
                await self._refuse(peer, "bad-spec", exc.message)
                raise SpecMismatch(f"{label}'s job spec does not fit: {exc.message}") from None
        elif h != self.hash:
            ours = (self.hash or "")[:12]
            reason = f"{label} holds a different job spec (theirs {h[:12]}, ours {ours})"
            self.say(reason)
            await self._refuse(peer, "spec-mismatch", reason)
            raise SpecMismatch(f"{reason}; refused before start", peer=label, culprit=label)
        return True

    async def _join(self, ident: Identity, peer: _Peer, job: str, op: Join) -> None:
        label = ident.label
        if peer.joined:
            raise RemoteProtocolError(f"{label} joined twice", peer=label)
        if ident.role is Role.DEALER:
            peer.joined = True  # the dealer serves whatever job the parties run
            await peer.ch.send_op(self.job, Accept())
            self.say("the dealer joined")
            self._changed.set()
            return
        await self._check_spec(ident, peer, job, op)
        if ident.role is Role.RECIPIENT and self.spec is not None:
            if len(op.nonce) != RUN_NONCE_BYTES:
                await self._refuse(peer, "bad-join", "a recipient joins with a 16-byte run nonce")
                raise RemoteProtocolError(f"{label} joined without a run nonce", peer=label)
            peer.nonce = op.nonce
            if ident.name not in self.spec.external_recipients():
                await self._refuse(
                    peer, "not-a-recipient", f"job {self.job} names no output for {label}"
                )
                self.say(f"refused {label}: the job names no output for it")
                self._forget(ident, peer)
                return
        peer.joined = True
        await peer.ch.send_op(self.job, Accept())
        if ident.role is Role.RECIPIENT:
            self.say(f"{label} joined")
            for item in self.queued.pop(ident.name, []):
                await self._forward(ident, peer, item)
        else:
            self.say(f"{len(self._joined() & self.parties)}/{len(self.parties)} parties joined")
        self._changed.set()

    def _done(self, ident: Identity, peer: _Peer, op: Done) -> None:
        label = ident.label
        if len(op.ledger) > MAX_LEDGER_KEYS:
            raise RemoteProtocolError(f"{label} reported an oversized ledger", peer=label)
        if not self.started or peer.done:
            raise RemoteProtocolError(f"{label} reported done out of turn", peer=label)
        self.ledgers[int(ident.name)] = op.ledger
        peer.done = True
        self.say(f"{label} done")
        self._changed.set()

    async def _sealed(self, ident: Identity, op: Sealed) -> None:
        label = ident.label
        if not self.started:
            raise RemoteProtocolError(f"{label} sent an output before the job started", peer=label)
        allowed = self.spec.policy_outputs().get(op.output) if self.spec is not None else None
        try:
            target: Identity | None = Identity.from_label(op.recipient)
        except ValueError:
            target = None
        if (
            allowed is None
            or target is None
            or target.role is not Role.RECIPIENT
            or (target not in allowed)
        ):
            raise UnauthorizedReveal(
                f"{label} sent output {short(op.output, 64)!r} sealed for"
                f" {short(op.recipient, 64)!r}, which the job does not name; refused",
                peer=label,
                culprit=label,
            )
        item = Sealed(op.output, target.label, op.blob, op.signature, sender=label)
        seen = self._seen_blobs.setdefault(target.name, set())
        if (op.output, label) in seen:
            raise RemoteProtocolError(f"{label} sent output {op.output!r} twice", peer=label)
        seen.add((op.output, label))
        rpeer = self.peers.get(target)
        if rpeer is not None and rpeer.joined:
            await self._forward(target, rpeer, item)
        else:
            self.queued.setdefault(target.name, []).append(item)

    async def _forward(self, target: Identity, rpeer: _Peer, item: Sealed) -> None:
        try:
            async with asyncio.timeout(self.cfg.timeouts.round):
                await rpeer.ch.send_op(self.job, item)
        except TimeoutError:
            raise RoundTimeout(
                f"{target.label} is not reading its outputs", culprit=target.label
            ) from None
        rpeer.delivered.add((item.output, item.sender))

    def _received(self, ident: Identity, peer: _Peer) -> None:
        if peer.delivered != self._expected_blobs(ident.name):
            raise RemoteProtocolError(
                f"{ident.label} acknowledged before it was sent all its outputs", peer=ident.label
            )
        peer.acked = True
        self.say(f"{ident.label} received its outputs")
        self._changed.set()


async def run_coordinator(
    cfg: ClusterConfig,
    spec: JobSpec | None,
    *,
    job_timeout: float | None = None,
    observer: Observer | None = None,
    search: list[Path] | None = None,
) -> int:
    """Run one job's coordinator to its end; returns 0, or the failure's exit code."""
    if spec is not None:
        check_against_cluster(spec, cfg)
    coord = Coordinator(cfg, spec, job_timeout=job_timeout, observer=observer, search=search)
    return await coord.run()
