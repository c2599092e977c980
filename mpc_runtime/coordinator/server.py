"""The coordinator process: admits parties and recipients, agrees the job spec, starts the job,
relays sealed output blobs, serves the embedded dealer, and fans out aborts.

Protocol (CONTROL messages, ``job`` = job id; see ``coordinator/protocol.py``):

* participant -> coordinator ``{"svc":"job","op":"join","spec_hash","spec"}``; reply
  ``{"op":"accept"}`` or ``{"op":"refuse","code","reason"}`` (``spec-mismatch`` aborts the job).
* once every party joined: ``{"op":"start"}`` to every party.
* party -> ``{"op":"sealed","output","recipient","blob"}``; forwarded to the recipient as
  ``{"op":"sealed","output","recipient","sender","blob"}`` with the sender taken from the
  authenticated connection.  A blob for anyone the spec does not name is UnauthorizedReveal.
* party -> ``{"op":"done","ledger"}`` / ``{"op":"failed","code","reason","lost","op_path"}``.
* recipient -> ``{"op":"received"}`` once it holds every blob meant for it.
* coordinator -> everyone ``{"op":"abort","reason","lost"}`` or ``{"op":"finished"}``.
* ``{"svc":"dealer",...}`` requests are answered by the embedded :class:`DealerService` when
  the cluster has no separate dealer.

The coordinator never holds an input, a share in the clear or an output value.

May import: coordinator.*, runtime, transport, wire, config, errors, ids.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.dealer_service import DealerService
from mpc_runtime.coordinator.protocol import (
    control,
    send_quietly,
    service_listener,
    short,
)
from mpc_runtime.coordinator.spec import JobSpec, check_against_cluster, spec_hash
from mpc_runtime.errors import (
    ConnectError,
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
    SpecMismatch,
    UnauthorizedReveal,
)
from mpc_runtime.ids import Identity, Role
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener
from mpc_runtime.wire import MsgKind

log = logging.getLogger("mpc.coordinator")

DEFAULT_JOB_TIMEOUT = 3600.0
MAX_LEDGER_KEYS = 10_000

Observer = Callable[[Identity, dict[str, Any]], None]
"""Called with every CONTROL body the coordinator handles (tests record them)."""


def _say(msg: str) -> None:
    print(f"coordinator: {msg}", file=sys.stderr, flush=True)


@dataclass
class _Peer:
    ch: Channel
    joined: bool = False
    done: bool = False
    acked: bool = False
    bye: bool = False
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
    ) -> None:
        self.cfg = cfg
        self.spec = spec
        self.hash = spec_hash(spec) if spec is not None else None
        self.job_timeout = job_timeout if job_timeout is not None else DEFAULT_JOB_TIMEOUT
        self.observer = observer
        self.say = say
        self.me = Identity.coordinator()
        self.parties = {Identity.party(p) for p in cfg.party_ids}
        self.peers: dict[Identity, _Peer] = {}
        self.ledgers: dict[int, dict[str, Any]] = {}
        self.queued: dict[str, list[dict[str, Any]]] = {}
        self._seen_blobs: dict[str, set[tuple[str, str]]] = {}
        self.started = False
        self.dealer: DealerService | None = None
        if cfg.dealer is None:
            budget = spec.dealer_budget if spec is not None else None
            self.dealer = DealerService(cfg.party_ids, budget)
        self.failure: MPCError | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- helpers -------------------------------------------------------------------------
    @property
    def job(self) -> str:
        return self.spec.job_id if self.spec is not None else ""

    def _joined_parties(self) -> list[Identity]:
        return sorted(i for i, p in self.peers.items() if i in self.parties and p.joined)

    async def _send(self, ident: Identity, body: dict[str, Any]) -> bool:
        peer = self.peers.get(ident)
        if peer is None:
            return False
        return await send_quietly(peer.ch, control(self.me, self.job, body))

    def _fail(self, err: MPCError) -> None:
        if self.failure is None:
            self.failure = err
        self._changed.set()

    def _expected_blobs(self, recipient: str) -> set[tuple[str, str]]:
        if self.spec is None:
            return set()
        outs = self.spec.external_recipients().get(recipient, [])
        return {(o, p.label) for o in outs for p in self.parties}

    def _finished(self) -> bool:
        if self.spec is None or not self.started:
            return False
        if not all(self.peers.get(p) is not None and self.peers[p].done for p in self.parties):
            return False
        for name in self.spec.external_recipients():
            peer = self.peers.get(Identity.recipient(name))
            if peer is None or not peer.acked:
                return False
        return True

    # ---- the run ---------------------------------------------------------------------------
    async def run(self) -> int:
        cfg = self.cfg

        def admit(peer: Identity) -> bool:
            return peer.role in (Role.PARTY, Role.RECIPIENT) and cfg.knows(peer)

        listener = service_listener(cfg, self.me, cfg.coordinator, admit)
        await listener.start()
        where = f"{cfg.coordinator.listen_host}:{cfg.coordinator.port}"
        what = (
            f"job {self.spec.job_id} (spec {self.hash[:12]})"
            if self.spec and self.hash
            else ("the first joiner's job")
        )
        self.say(f"listening on {where} for {what}; waiting for {len(self.parties)} parties")
        acceptor = asyncio.create_task(self._accept(listener))
        try:
            code = await self._drive()
        finally:
            acceptor.cancel()
            for t in list(self._tasks):
                t.cancel()
            for peer in self.peers.values():
                peer.ch.close()
            await listener.aclose()
        return code

    async def _accept(self, listener: Listener) -> None:
        while True:
            ch = await listener.next_channel()
            if ch.peer in self.peers or self.failure is not None:
                ch.close()
                continue
            self.peers[ch.peer] = _Peer(ch)
            t = asyncio.create_task(self._serve(ch.peer))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _wait(self, until: float, cond: Callable[[], bool]) -> bool:
        loop = asyncio.get_running_loop()
        while self.failure is None and not cond():
            remaining = until - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                pass
        return self.failure is None

    async def _drive(self) -> int:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        job_deadline = t0 + self.job_timeout
        join_deadline = min(job_deadline, t0 + self.cfg.timeouts.connect)
        all_joined = lambda: len(self._joined_parties()) == len(self.parties)  # noqa: E731
        if not await self._wait(join_deadline, all_joined):
            if self.failure is None:
                missing = sorted(p.label for p in self.parties - set(self._joined_parties()))
                self._fail(
                    ConnectError(
                        f"{', '.join(missing)} did not join within"
                        f" {self.cfg.timeouts.connect:g}s (connect deadline)",
                        peer=missing[0],
                    )
                )
            return await self._abort()
        self.started = True
        await asyncio.gather(*(self._send(p, {"svc": "job", "op": "start"}) for p in self.parties))
        self.say(f"job {self.job} started")
        if not await self._wait(job_deadline, self._finished):
            if self.failure is None:
                self._fail(self._timeout_error())
            return await self._abort()
        everyone = list(self.peers)
        await asyncio.gather(*(self._send(i, {"svc": "job", "op": "finished"}) for i in everyone))
        self._summary(loop.time() - t0)
        return 0

    def _timeout_error(self) -> MPCError:
        waiting = [p.label for p in sorted(self.parties) if not self.peers[p].done]
        if self.spec is not None:
            for name in self.spec.external_recipients():
                peer = self.peers.get(Identity.recipient(name))
                if peer is None or not peer.acked:
                    waiting.append(f"recipient:{name}")
        return RoundTimeout(
            f"job {self.job} did not finish within {self.job_timeout:g}s"
            f" (still waiting for {', '.join(waiting) or 'nobody'})",
            peer=waiting[0] if waiting else None,
        )

    async def _abort(self) -> int:
        err = self.failure or MPCError("job aborted")
        lost: str | None = None
        if isinstance(err, PeerLostError) and err.peer is not None:
            lost = str(err.peer)
        elif isinstance(err, SessionAborted):
            lost = getattr(err, "lost", None)
        body = {"svc": "job", "op": "abort", "reason": err.message[:300], "lost": lost}
        await asyncio.gather(*(self._send(i, body) for i in list(self.peers)))
        where = f" at op {err.op_path}" if err.op_path else ""
        who = f"; lost {lost}" if lost else ""
        self.say(f"job {self.job or '(none)'} aborted: {err.message}{who}{where}")
        return err.exit_code

    def _summary(self, seconds: float) -> None:
        rounds = 0
        sent = 0
        for led in self.ledgers.values():
            for phase in ("online", "offline"):
                total = led.get(phase, {}).get("total", {}) if isinstance(led, dict) else {}
                if not isinstance(total, dict):
                    continue
                r, b = total.get("rounds", 0), total.get("bytes_sent", 0)
                if phase == "online" and isinstance(r, int):
                    rounds = max(rounds, r)
                if isinstance(b, int | float):
                    sent += int(b)
        self.say(
            f"job {self.job} finished in {seconds:.2f}s: {len(self.parties)} parties,"
            f" {rounds} online rounds, {sent} bytes sent between parties"
        )

    # ---- one connection ------------------------------------------------------------------
    async def _serve(self, ident: Identity) -> None:
        peer = self.peers[ident]
        label = ident.label
        try:
            while True:
                msg = await peer.ch.receive()
                if msg is None:
                    self._on_eof(ident, peer)
                    return
                if msg.kind is MsgKind.BYE:
                    peer.bye = True
                    continue
                if msg.kind is MsgKind.ABORT:
                    body = msg.body if isinstance(msg.body, dict) else {}
                    raise SessionAborted(
                        f"{label} aborted: {short(body.get('reason', ''))}", peer=label
                    )
                if msg.kind is not MsgKind.CONTROL or not isinstance(msg.body, dict):
                    raise RemoteProtocolError(
                        f"{label} sent an unexpected {msg.kind.name}", peer=label
                    )
                if self.observer is not None:
                    self.observer(ident, msg.body)
                await self._dispatch(ident, peer, msg.job, msg.body)
        except MPCError as err:
            if isinstance(err, UnauthorizedReveal):
                log.error("UnauthorizedReveal: %s", err)
            self._fail(err)
        except asyncio.CancelledError:
            return

    def _on_eof(self, ident: Identity, peer: _Peer) -> None:
        if not peer.joined:
            # never part of the job (refused, or closed before joining): it may come back
            if self.peers.get(ident) is peer:
                del self.peers[ident]
            return
        if self.failure is not None:
            return
        if (ident in self.parties and peer.done) or (ident.role is Role.RECIPIENT and peer.acked):
            self._changed.set()
            return
        self._fail(PeerLostError(f"{ident.label} was lost (connection closed)", peer=ident.label))

    async def _dispatch(self, ident: Identity, peer: _Peer, job: str, body: dict[str, Any]) -> None:
        svc, op = body.get("svc"), body.get("op")
        label = ident.label
        if svc == "dealer":
            if ident not in self.parties or not peer.joined:
                raise RemoteProtocolError(
                    f"{label} asked for dealer material before joining", peer=label
                )
            if self.dealer is None:
                reply = {
                    "svc": "dealer",
                    "op": "error",
                    "rid": body.get("rid"),
                    "code": "RemoteProtocolError",
                    "reason": "this cluster has a separate dealer; ask it",
                }
            else:
                reply = await self.dealer.handle(self.job, int(ident.name), body)
            await peer.ch.send(control(self.me, self.job, reply))
            return
        if svc != "job" or not isinstance(op, str):
            raise RemoteProtocolError(f"{label} sent an unknown control message", peer=label)
        if op == "join":
            await self._join(ident, peer, job, body)
            return
        if not peer.joined:
            raise RemoteProtocolError(f"{label} sent {short(op, 20)} before joining", peer=label)
        if job != self.job:
            raise RemoteProtocolError(f"{label} sent a message for another job", peer=label)
        if ident in self.parties:
            await self._party_op(ident, peer, op, body)
        elif op == "received":
            await self._received(ident, peer)
        else:
            raise RemoteProtocolError(f"{label} sent an unknown job op", peer=label)

    async def _refuse(self, ident: Identity, peer: _Peer, code: str, reason: str) -> None:
        await send_quietly(
            peer.ch,
            control(
                self.me,
                self.job,
                {"svc": "job", "op": "refuse", "code": code, "reason": reason[:300]},
            ),
        )

    async def _join(self, ident: Identity, peer: _Peer, job: str, body: dict[str, Any]) -> None:
        label = ident.label
        if peer.joined:
            raise RemoteProtocolError(f"{label} joined twice", peer=label)
        claimed = body.get("spec_hash")
        try:
            theirs = JobSpec.model_validate(body.get("spec"))
        except ValidationError:
            await self._refuse(ident, peer, "bad-spec", "the job spec sent is not valid")
            raise SpecMismatch(f"{label} sent an invalid job spec", peer=label) from None
        h = spec_hash(theirs)
        if claimed != h or job != theirs.job_id:
            await self._refuse(ident, peer, "bad-spec", "spec hash or job id does not match spec")
            raise SpecMismatch(f"{label} sent a spec whose hash does not match it", peer=label)
        if self.spec is None:
            try:
                check_against_cluster(theirs, self.cfg)
            except MPCError as exc:
                await self._refuse(ident, peer, "bad-spec", exc.message)
                raise SpecMismatch(
                    f"{label}'s job spec does not fit the cluster: {exc.message}", peer=label
                ) from None
            self.spec, self.hash = theirs, h
            if self.dealer is not None and theirs.dealer_budget is not None:
                self.dealer.state.budget = theirs.dealer_budget
            self.say(f"adopted job {theirs.job_id} (spec {h[:12]}) from {label}")
        elif h != self.hash:
            reason = (
                f"{label} holds a different job spec (theirs {h[:12]}, ours"
                f" {(self.hash or '')[:12]})"
            )
            self.say(reason)
            await self._refuse(ident, peer, "spec-mismatch", reason)
            raise SpecMismatch(f"{reason}; refused before start", peer=label)
        if ident.role is Role.RECIPIENT:
            if ident.name not in self.spec.external_recipients():
                await self._refuse(
                    ident, peer, "not-a-recipient", f"job {self.job} names no output for {label}"
                )
                self.say(f"refused {label}: the job names no output for it")
                peer.ch.close()
                return
            peer.joined = True
            await peer.ch.send(control(self.me, self.job, {"svc": "job", "op": "accept"}))
            self.say(f"{label} joined")
            for item in self.queued.pop(ident.name, []):
                await self._forward(ident, peer, item)
            self._changed.set()
            return
        peer.joined = True
        await peer.ch.send(control(self.me, self.job, {"svc": "job", "op": "accept"}))
        self.say(f"{len(self._joined_parties())}/{len(self.parties)} parties joined")
        self._changed.set()

    async def _party_op(self, ident: Identity, peer: _Peer, op: str, body: dict[str, Any]) -> None:
        label = ident.label
        if op == "sealed":
            await self._sealed(ident, body)
        elif op == "done":
            ledger = body.get("ledger")
            if not isinstance(ledger, dict) or len(ledger) > MAX_LEDGER_KEYS:
                raise RemoteProtocolError(f"{label} reported done without a ledger", peer=label)
            if not self.started or peer.done:
                raise RemoteProtocolError(f"{label} reported done out of turn", peer=label)
            self.ledgers[int(ident.name)] = ledger
            peer.done = True
            self.say(f"{label} done")
            self._changed.set()
        elif op == "failed":
            lost, op_path = body.get("lost"), body.get("op_path")
            err = SessionAborted(
                f"{label} failed: {short(body.get('code', ''), 60)}: {short(body.get('reason'))}",
                peer=label,
                op_path=op_path[:200] if isinstance(op_path, str) else None,
            )
            err.lost = lost[:100] if isinstance(lost, str) else None  # type: ignore[attr-defined]
            raise err
        else:
            raise RemoteProtocolError(f"{label} sent an unknown job op", peer=label)

    async def _sealed(self, ident: Identity, body: dict[str, Any]) -> None:
        label = ident.label
        output, rcpt, blob = body.get("output"), body.get("recipient"), body.get("blob")
        if not self.started:
            raise RemoteProtocolError(f"{label} sent an output before the job started", peer=label)
        if not isinstance(output, str) or not isinstance(rcpt, str) or not isinstance(blob, bytes):
            raise RemoteProtocolError(f"{label} sent a malformed sealed output", peer=label)
        allowed = self.spec.policy_outputs().get(output) if self.spec is not None else None
        try:
            target = Identity.from_label(rcpt)
        except ValueError:
            target = None
        if (
            allowed is None
            or target is None
            or target.role is not Role.RECIPIENT
            or target not in allowed
        ):
            raise UnauthorizedReveal(
                f"{label} sent output {short(output, 64)!r} sealed for {short(rcpt, 64)!r},"
                " which the job does not name; refused",
                peer=label,
            )
        item = {
            "svc": "job",
            "op": "sealed",
            "output": output,
            "recipient": target.label,
            "sender": label,
            "blob": blob,
        }
        key = (output, label)
        seen = self._seen_blobs.setdefault(target.name, set())
        if key in seen:
            raise RemoteProtocolError(f"{label} sent output {output!r} twice", peer=label)
        seen.add(key)
        rpeer = self.peers.get(target)
        if rpeer is not None and rpeer.joined:
            await self._forward(target, rpeer, item)
        else:
            queue = self.queued.setdefault(target.name, [])
            if len(queue) >= len(self._expected_blobs(target.name)):
                raise RemoteProtocolError(f"too many queued outputs for {target.label}")
            queue.append(item)

    async def _forward(self, target: Identity, rpeer: _Peer, item: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(self.cfg.timeouts.round):
                await rpeer.ch.send(control(self.me, self.job, item))
        except TimeoutError:
            raise RoundTimeout(
                f"{target.label} is not reading its outputs", peer=target.label
            ) from None
        rpeer.delivered.add((item["output"], item["sender"]))

    async def _received(self, ident: Identity, peer: _Peer) -> None:
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
) -> int:
    """Run one job's coordinator to its end; returns 0, or the failure's exit code."""
    if spec is not None:
        check_against_cluster(spec, cfg)
    coord = Coordinator(cfg, spec, job_timeout=job_timeout, observer=observer)
    return await coord.run()


__all__ = ["Coordinator", "Observer", "run_coordinator"]
