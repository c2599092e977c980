"""The party process: join the coordinator, build the mesh, run the job's program, report.

Order of events, each bounded in time:
1. check our own inputs against the spec (nothing has been sent yet);
2. listen on our port, dial the coordinator, JOIN with the spec hash (a mismatch is refused
   before any input leaves), wait for START;
3. build the TLS mesh with the other parties (HELLO carries the spec hash too), and dial a
   separate dealer if the cluster has one;
4. run the program in a :class:`~mpc_runtime.runtime.session.Session` whose reveal policy comes
   from the spec; external recipients get sealed shares through the coordinator;
5. report DONE with the ledger (or FAILED with the reason) and wait for FINISHED.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.audit import AuditLog
from mpc_runtime.coordinator.protocol import cluster_check
from mpc_runtime.coordinator.relay import SealedRelay
from mpc_runtime.coordinator.spec import JobSpec, spec_hash
from mpc_runtime.errors import MPCError, SpecMismatch, UsageError
from mpc_runtime.ids import Identity
from mpc_runtime.node.control import ControlClient
from mpc_runtime.node.inputs import check_inputs
from mpc_runtime.node.programs import resolve_program
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import Session
from mpc_runtime.transport.connect import dial
from mpc_runtime.transport.mesh import build_mesh, party_listener, tls_files

log = logging.getLogger("mpc.party")


@dataclass
class PartyResult:
    """What a party learned and what it cost."""

    party: int
    outputs: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)


async def _dial_service(
    cfg: ClusterConfig, me: Identity, host: str, port: int, expected: Identity, deadline: float
) -> Any:
    return await dial(
        host,
        port,
        ctx=tls_files(cfg, me).client(),
        me=me,
        expected=expected,
        cluster=cfg.name,
        hello={"cluster": cfg.name},
        deadline=deadline,
        max_frame_bytes=cfg.limits.max_frame_bytes,
        check=cluster_check(cfg.name),
    )


def _failed_body(err: MPCError) -> dict[str, Any]:
    """What we tell the coordinator when we fail: the error's class, text, lost peer and op."""
    return {
        "svc": "job",
        "op": "failed",
        "code": type(err).__name__,
        "reason": err.message[:300],
        "lost": str(err.peer) if err.peer is not None else None,
        "op_path": err.op_path,
    }


def _status(msg: str) -> None:
    from mpc_runtime.cli.output import info

    info(msg)


async def run_party(
    cfg: ClusterConfig,
    pid: int,
    spec: JobSpec,
    given_inputs: dict[str, Any],
    *,
    audit_path: Path | None = None,
    quiet: bool = False,
    program_ref: str | None = None,
) -> PartyResult:
    """Run one party of ``spec`` to completion; raises an MPCError naming what went wrong."""
    say = (lambda _m: None) if quiet else _status
    cfg.party(pid)  # ConfigError if we are not in the cluster
    me = Identity.party(pid)
    h = spec_hash(spec)
    declared = [i for i in spec.inputs if i.party == pid]
    inputs = check_inputs(given_inputs, declared)
    program = resolve_program(program_ref or spec.program)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + cfg.timeouts.connect
    hello = {"cluster": cfg.name, "job": spec.job_id, "spec": h}

    listener = party_listener(cfg, pid, hello)
    await listener.start()
    ctl: ControlClient | None = None
    dealer_ctl: ControlClient | None = None
    session: Session | None = None
    reported: list[bool] = []
    try:
        ch = await _dial_service(
            cfg, me, cfg.coordinator.host, cfg.coordinator.port, Identity.coordinator(), deadline
        )
        index = cfg.party_ids.index(pid)
        ctl = ControlClient(ch, spec.job_id, me, party_index=index, timeout=cfg.timeouts.round)
        ctl.start()
        await ctl.send(
            {"svc": "job", "op": "join", "spec_hash": h, "spec": spec.model_dump(mode="json")}
        )
        reply = await ctl.next_event(max(1.0, deadline - loop.time()), "the coordinator's answer")
        if reply.get("op") == "refuse":
            reason = str(reply.get("reason", "refused"))[:300]
            if reply.get("code") == "spec-mismatch":
                raise SpecMismatch(f"coordinator refused our job spec: {reason}")
            raise UsageError(f"coordinator refused us: {reason}")
        say(f"party {pid}: joined job {spec.job_id} (spec {h[:12]}); waiting for the others")
        while reply.get("op") != "start":
            reply = await ctl.next_event(
                max(1.0, deadline - loop.time()) + cfg.timeouts.connect, "the job to start"
            )
        if cfg.dealer is not None:
            dch = await _dial_service(
                cfg, me, cfg.dealer.host, cfg.dealer.port, Identity.dealer(), deadline
            )
            dealer_ctl = ControlClient(
                dch, spec.job_id, me, party_index=index, timeout=cfg.timeouts.round
            )
            dealer_ctl.start()
        channels = await build_mesh(cfg, pid, hello, listener)
        say(f"party {pid}: connected to parties {', '.join(str(p) for p in sorted(channels))}")
        audit = AuditLog(audit_path) if audit_path is not None else None
        relay = SealedRelay(ctl.send, cfg, spec.job_id, h, me.label)
        policy = RevealPolicy(
            spec.policy_outputs(),
            external=relay,
            audit=audit.hook(spec.job_id, h, me.label) if audit is not None else None,
        )
        control = ctl

        async def report_failure(err: MPCError) -> None:
            reported.append(True)
            await control.send(_failed_body(err))

        session = Session(
            pid,
            channels,
            job=spec.job_id,
            round_timeout=cfg.timeouts.round,
            dealer=dealer_ctl or ctl,
            revealer=policy,
            inputs=inputs,
            params=spec.params,
            on_abort=report_failure,
        )
        running = session

        async def abort_session(err: MPCError) -> None:
            running.mailbox.fail_all(err)

        ctl.on_abort = abort_session
        if dealer_ctl is not None:
            dealer_ctl.on_abort = abort_session
        await session.run(program)
        await ctl.send({"svc": "job", "op": "done", "ledger": session.ledger.as_json()})
        ev = await ctl.next_event(cfg.timeouts.round * 3, "the coordinator to finish the job")
        while ev.get("op") != "finished":
            ev = await ctl.next_event(cfg.timeouts.round * 3, "the coordinator to finish the job")
        return PartyResult(pid, dict(session.outputs), session.ledger)
    except MPCError as err:
        if ctl is not None and ctl.failure is None and not reported:
            try:
                await ctl.send(_failed_body(err))
            except MPCError:
                pass
        raise
    finally:
        for c in (dealer_ctl, ctl):
            if c is not None:
                await c.aclose()
        await listener.aclose()
