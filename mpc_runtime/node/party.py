"""The party process: join the coordinator, build the mesh, run the job's program, report.

Order of events, each bounded in time:

1. resolve the spec against the cluster (its provider), check our own inputs and program;
2. listen on our port, dial the coordinator and JOIN with the spec hash (a mismatch is refused
   before any input leaves).  If our own input or program was refused in step 1, we say so now
   (an ABORT with the category, never the value) so every other process stops at once, naming us;
3. wait for START (the coordinator sends it when every party, recipient and dealer has joined);
4. build the TLS mesh with the other parties (HELLO carries the spec hash too), and dial the
   dealer if the job's provider is a separate dealer;
5. run the program in a :class:`~mpc_runtime.runtime.session.Session` whose reveal policy comes
   from the spec; external recipients get sealed shares through the coordinator;
6. report DONE with the ledger (or ABORT with why) and wait for FINISHED.

May import: config, errors, ids, deadline, jobs, node.*, preprocessing, runtime, transport, wire.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import (
    BoundsError,
    ConfigError,
    InputError,
    MPCError,
    SpecMismatch,
    UsageError,
)
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.audit import AuditLog
from mpc_runtime.jobs.contrib import load_eligible
from mpc_runtime.jobs.relay import SealedRelay
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.node.budget import Ledger as Ledger_
from mpc_runtime.node.budget import charge_job, ledger_path
from mpc_runtime.node.control import ServiceLink
from mpc_runtime.node.feed import PartyFeed
from mpc_runtime.node.inputs import check_inputs
from mpc_runtime.node.programs import Program, resolve_program
from mpc_runtime.node.providers import make_provider
from mpc_runtime.runtime.contrib import ContributionDecl
from mpc_runtime.runtime.dp import Calibration, NoiseDecl
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import Session, abort_of
from mpc_runtime.transport.connect import Listener
from mpc_runtime.transport.mesh import build_mesh, dial_service, party_listener
from mpc_runtime.wire import Done, Finished, Hello, Join, Refuse, Start

__all__ = ["PartyResult", "run_party"]

log = logging.getLogger("mpc.party")

Say = Callable[[str], None]


@dataclass
class PartyResult:
    """What a party learned and what it cost."""

    party: int
    outputs: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Prepared:
    spec: JobSpec
    hash: str
    inputs: dict[str, Any]
    program: Program | None
    refusal: MPCError | None
    eligible: frozenset[bytes] = frozenset()
    budget_notes: list[str] = field(default_factory=list)


def _prepare(
    cfg: ClusterConfig,
    pid: int,
    spec: JobSpec,
    given: dict[str, Any],
    program_ref: str | None,
    search: list[Path],
) -> _Prepared:
    """Check what is ours before anything is sent; a refusal is reported after joining."""
    cfg.party(pid)  # ConfigError if we are not in the cluster
    spec = resolve(spec, cfg)
    refusal: MPCError | None = None
    inputs: dict[str, Any] = {}
    program: Program | None = None
    eligible: frozenset[bytes] = frozenset()
    try:
        if spec.contributions is not None:
            eligible = load_eligible(spec.contributions, search)
        program = resolve_program(program_ref or spec.program, spec.program_sha256, search)
        check = getattr(program, "check_bounds", None)
        if callable(check):  # the job as declared could overflow: every party refuses it
            check(spec.input_decls(), spec.params)
        check_contribution = getattr(program, "check_contribution", None)
        decl = _decl(spec)
        if callable(check_contribution) and decl is not None:
            check_contribution(decl)
        inputs = check_inputs(given, [i for i in spec.inputs if i.party == pid])
    except BoundsError as err:
        refusal = err
    except (InputError, ConfigError) as err:
        refusal = err.with_context(culprit=Identity.party(pid).label)
    prep = _Prepared(spec, spec_hash(spec), inputs, program, refusal, eligible)
    if refusal is None:
        try:  # last: a job refused for another reason spends nothing
            prep.budget_notes = charge_job(cfg, pid, spec, prep.hash)
        except (UsageError, ConfigError) as err:
            prep.refusal = err.with_context(culprit=Identity.party(pid).label)
    return prep


def _refund(cfg: ClusterConfig, pid: int, prep: _Prepared) -> None:
    """The job was charged to our privacy ledger but never started."""
    if prep.budget_notes and prep.spec.dataset is not None:
        Ledger_(ledger_path(cfg, pid)).refund(prep.spec.job_id, prep.hash, prep.spec.dataset)


def _feed(cfg: ClusterConfig, pid: int, prep: _Prepared) -> PartyFeed | None:
    """This party's contribution feed, if the job takes contributions."""
    if prep.spec.contributions is None:
        return None
    me = Identity.party(pid)
    return PartyFeed(
        prep.spec,
        prep.hash,
        party=me.label,
        index=list(cfg.party_ids).index(pid),
        seal_key=pki.load_key(cfg.seal_key_path(me)),
        eligible=prep.eligible,
        round_timeout=cfg.timeouts.round,
    )


def _decl(spec: JobSpec) -> ContributionDecl | None:
    c = spec.contributions
    if c is None:
        return None
    lo, hi = c.encoded_bounds()
    return ContributionDecl(
        c.input, tuple(c.shape), c.scale_bits, lo, hi, tuple(c.checks), c.encoded_norm()
    )


def session_policy(session: Session) -> RevealPolicy | None:
    return session.state.policy


def release_notes(policy: RevealPolicy | None) -> list[str]:
    """One line per noisy release: the mechanism, the epsilon spent, the noise's size."""
    lines = []
    for name, rel in (policy.releases if policy is not None else {}).items():
        if isinstance(rel, Calibration):
            what = (
                f"scale {float(rel.scale):g}" if rel.scale is not None else f"{rel.trials} trials"
            )
            delta = f", delta {rel.delta_used:.2g}" if rel.delta_used else ""
            lines.append(
                f"released {name} with {rel.mechanism} noise ({what} grid units, standard"
                f" deviation {rel.stddev_units:.3g} units): epsilon {rel.epsilon_used:.4g}{delta}"
            )
        else:
            lines.append(f"released {name} by {rel.mechanism}: epsilon {float(rel.epsilon):.4g}")
    return lines


def privacy_notes(program: Program | None, spec: JobSpec, n: int) -> list[str]:
    """What the job's outputs let participants infer, as the program declares it (if it does)."""
    notes = getattr(program, "privacy", None)
    if not callable(notes):
        return []
    recipients = {o.name: list(o.recipients) for o in spec.outputs}
    return [str(x) for x in notes(n, spec.params, recipients)]


async def _join(
    cfg: ClusterConfig,
    me: Identity,
    prep: _Prepared,
    deadline: Deadline,
    say: Say,
    feed: PartyFeed | None = None,
) -> ServiceLink:
    ch = await dial_service(cfg, me, cfg.coordinator, Identity.coordinator(), deadline)
    ctl = ServiceLink(ch, prep.spec.job_id, round_timeout=cfg.timeouts.round)
    ctl.contributions = feed  # before anything is read: batches may follow START at once
    ctl.start()
    await ctl.send(Join(prep.hash, prep.spec.model_dump(mode="json")))
    reply = await ctl.next_event(
        Deadline(max(deadline.when, Deadline.after(1.0).when)), "the coordinator's answer"
    )
    if isinstance(reply, Refuse):
        await ctl.aclose()
        if reply.code == "spec-mismatch":
            raise SpecMismatch(f"coordinator refused our job spec: {reply.reason}")
        raise UsageError(f"coordinator refused us: {reply.reason}")
    say(f"party {me.name}: joined job {prep.spec.job_id} (spec {prep.hash[:12]})")
    return ctl


async def _wait_start(ctl: ServiceLink, cfg: ClusterConfig, deadline: Deadline) -> Start:
    """START comes once everyone joined: within the coordinator's connect deadline of the first
    join, so we wait up to twice the connect deadline."""
    wait = Deadline(deadline.when + cfg.timeouts.connect)
    while not isinstance(ev := await ctl.next_event(wait, "the job to start"), Start):
        pass
    return ev


async def _session(
    cfg: ClusterConfig,
    pid: int,
    prep: _Prepared,
    ctl: ServiceLink,
    listener: Listener,
    deadline: Deadline,
    audit_path: Path | None,
    start: Start,
    feed: PartyFeed | None,
) -> tuple[Session, ServiceLink | None]:
    spec = prep.spec
    me = Identity.party(pid)
    provider, dealer_link = await ctl.guard(make_provider(cfg, pid, spec, ctl, deadline))
    hello = Hello(cfg.name, spec.job_id, prep.hash)
    channels = await ctl.guard(build_mesh(cfg, pid, hello, listener, deadline))
    audit = AuditLog(audit_path) if audit_path is not None else None
    relay = SealedRelay(
        ctl.send,
        cfg,
        spec.job_id,
        prep.hash,
        me.label,
        signing_key=pki.load_key(cfg.key_path(me)),
        nonces=start.nonces,
    )
    policy = RevealPolicy(
        spec.policy_outputs(),
        noise={
            name: NoiseDecl.of(n.mechanism, n.epsilon, n.delta, n.sensitivity)
            for name, n in spec.output_noise().items()
        },
        external=relay,
        audit=audit.hook(spec.job_id, prep.hash, me.label) if audit is not None else None,
    )

    async def report(err: MPCError) -> None:
        await ctl.abort(abort_of(err, me.label))

    session = Session(
        pid,
        channels,
        job=spec.job_id,
        round_timeout=cfg.timeouts.round,
        provider=provider,
        policy=policy,
        inputs=prep.inputs,
        params=spec.params,
        declared=spec.input_decls(),
        feed=feed,
        contribution=_decl(spec),
        on_abort=report,
    )

    async def stop(err: MPCError) -> None:
        session.fail(err)

    ctl.on_failure = stop
    if dealer_link is not None:
        dealer_link.on_failure = stop
    return session, dealer_link


async def run_party(
    cfg: ClusterConfig,
    pid: int,
    spec: JobSpec,
    given_inputs: dict[str, Any],
    *,
    audit_path: Path | None = None,
    say: Say | None = None,
    warn: Say | None = None,
    program_ref: str | None = None,
    search: list[Path] | None = None,
) -> PartyResult:
    """Run one party of ``spec`` to completion; raises an MPCError naming what went wrong."""
    say = say or (lambda _m: None)
    me = Identity.party(pid)
    prep = _prepare(cfg, pid, spec, given_inputs, program_ref, search or [])
    for note in privacy_notes(prep.program, prep.spec, len(cfg.parties)):
        (warn or say)(f"privacy: {note}")
    for note in prep.budget_notes:
        say(f"privacy budget: {note}")
    started = False
    deadline = Deadline.after(cfg.timeouts.connect)
    listener = party_listener(cfg, pid, Hello(cfg.name, prep.spec.job_id, prep.hash))
    await listener.start()
    links: list[ServiceLink] = []
    try:
        feed: PartyFeed | None = None
        try:
            feed = _feed(cfg, pid, prep) if prep.refusal is None else None
        except ConfigError as missing:  # our sealing key is missing: say so once joined
            prep.refusal = missing.with_context(culprit=me.label)
        try:
            ctl = await _join(cfg, me, prep, deadline, say, feed)
        except MPCError:
            if prep.refusal is not None:  # we refuse the job ourselves: say why, not the echo
                raise prep.refusal from None  # of a peer's identical refusal
            raise
        links.append(ctl)
        if prep.refusal is not None or prep.program is None:
            err = prep.refusal or UsageError("no program")
            await ctl.abort(abort_of(err, me.label))
            raise err
        start = await _wait_start(ctl, cfg, deadline)
        started = True
        session, dealer_link = await _session(
            cfg,
            pid,
            prep,
            ctl,
            listener,
            Deadline.after(cfg.timeouts.connect),
            audit_path,
            start,
            feed,
        )
        if dealer_link is not None:
            links.append(dealer_link)
        say(f"party {pid}: connected to the other parties; running {prep.spec.program}")
        await session.run(prep.program)
        await ctl.send(Done(session.ledger.as_json()))
        finish = Deadline.after(cfg.timeouts.round + cfg.timeouts.connect)
        while not isinstance(await ctl.next_event(finish, "the job to finish"), Finished):
            pass
        notes = release_notes(session_policy(session)) + prep.budget_notes
        return PartyResult(pid, dict(session.outputs), session.ledger, notes)
    except MPCError as err:
        if links and links[0].failure is None:
            await links[0].abort(abort_of(err, me.label))
        if not started:
            _refund(cfg, pid, prep)
        raise
    finally:
        if links and isinstance(links[0].contributions, PartyFeed):
            links[0].contributions.close()
        await asyncio.gather(*(link.aclose() for link in reversed(links)))
        await listener.aclose()
