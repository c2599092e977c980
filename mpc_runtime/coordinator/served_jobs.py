"""What a serving cluster admits, and what it records of each submitted job.

:func:`check_submission` checks a ``Submit`` against the cluster (a valid spec whose hash and
job id match, no contributions or DP noise yet, material from ``ot`` or the embedded dealer,
external outputs only for the submitter, a 16-byte run nonce, a job id never used in this
serving session); :class:`Submitter`, :class:`Submission` and :class:`ServedJob` are the records
:class:`mpc_runtime.coordinator.serve.ServingCoordinator` keeps; :func:`job_summary` is its one
line per finished job (counts from the parties' ledgers, never a value).

May import: config, errors, ids, jobs, preprocessing.dealer (the embedded dealer's service),
transport (channels), wire.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mpc_runtime.config import ClusterConfig, format_validation_error
from mpc_runtime.errors import MPCError, UsageError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.sealing import RUN_NONCE_BYTES
from mpc_runtime.jobs.spec import JobSpec, check_against_cluster, resolve, spec_hash
from mpc_runtime.preprocessing.dealer.service import DealerService
from mpc_runtime.transport.channel import Channel
from mpc_runtime.wire.control import Submit

__all__ = [
    "ServedJob",
    "Submission",
    "Submitter",
    "check_submission",
    "job_summary",
    "unsupported",
]


def unsupported(spec: JobSpec, cfg: ClusterConfig) -> str:
    """Why a serving cluster cannot run ``spec`` (empty if it can)."""
    if spec.contributions is not None:
        return "a serving cluster does not run contribution jobs (use mpc coordinator --job)"
    if getattr(spec, "dataset", None) or any(getattr(o, "noise", None) for o in spec.outputs):
        return "a serving cluster does not run jobs with differential-privacy noise yet"
    if spec.preprocessing == "dealer" and not cfg.coordinator.embedded_dealer:
        return "a serving cluster makes material with ot or the coordinator's embedded dealer"
    return ""


def check_submission(
    cfg: ClusterConfig, submitter: Identity, job_id: str, op: Submit, used: set[str]
) -> tuple[JobSpec, str]:
    """The resolved spec and its hash, or a UsageError whose ``code`` says why it is refused."""
    try:
        spec = resolve(JobSpec.model_validate(op.spec), cfg)
    except ValidationError as exc:
        raise UsageError(format_validation_error("the job spec", exc), code="bad-spec") from None
    h = spec_hash(spec)
    if h != op.spec_hash or job_id != spec.job_id:
        raise UsageError("the spec hash or job id does not match the spec", code="bad-spec")
    try:
        check_against_cluster(spec, cfg)
    except MPCError as exc:
        raise UsageError(exc.message, code="bad-spec") from None
    why = unsupported(spec, cfg)
    if why:
        raise UsageError(why, code="unsupported")
    others = [r for r in spec.external_recipients() if r != submitter.name]
    if others:
        raise UsageError(
            f"job {job_id} names recipient:{others[0]}: a serving cluster delivers external"
            f" outputs only to the submitter ({submitter.label})",
            code="not-submitter",
        )
    if spec.external_recipients() and len(op.nonce) != RUN_NONCE_BYTES:
        raise UsageError("a recipient submits with a 16-byte run nonce", code="bad-submit")
    if job_id in used:
        raise UsageError(
            f"job id {job_id} was already used on this cluster: give the job a new id",
            code="job-id-used",
        )
    return spec, h


@dataclass(eq=False)
class Submitter:
    """A recipient's connection; it may submit job after job over it."""

    ident: Identity
    ch: Channel
    subs: dict[str, Submission] = field(default_factory=dict)
    frozen: MPCError | None = None


@dataclass(eq=False)
class Submission:
    """A submitted job and its submitter's connection."""

    ident: Identity
    ch: Channel
    spec: JobSpec
    hash: str
    nonce: bytes
    delivered: set[tuple[str, str]] = field(default_factory=set)
    received: bool = False
    finished: bool = False
    gone: MPCError | None = None

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def outputs(self) -> list[str]:
        return self.spec.external_recipients().get(self.ident.name, [])


@dataclass(eq=False)
class ServedJob:
    """A job on its way through a serving cluster: who agreed, who is done, how it ended."""

    sub: Submission
    agreed: set[Identity] = field(default_factory=set)
    done: dict[Identity, dict[str, Any]] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)
    failure: MPCError | None = None
    offered: bool = False
    started: bool = False
    dealer: DealerService | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return self.sub.job_id


def _number(ledger: Any, *keys: str) -> int:
    """A count from a party's ledger (a peer's data: anything not an int counts as 0)."""
    for k in keys:
        ledger = ledger.get(k) if isinstance(ledger, dict) else None
    return ledger if isinstance(ledger, int) and not isinstance(ledger, bool) else 0


def job_summary(job: ServedJob, seconds: float) -> str:
    leds = list(job.done.values())
    sent = sum(_number(x, ph, "total", "bytes_sent") for x in leds for ph in ("online", "offline"))
    rounds = max((_number(x, "online", "total", "rounds") for x in leds), default=0)
    return (
        f"job {job.id} finished in {seconds * 1000:.1f} ms: {len(job.done)} parties,"
        f" {rounds} online round{'s' if rounds != 1 else ''}, {sent} bytes sent between parties"
    )
