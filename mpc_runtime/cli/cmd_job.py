"""``mpc job submit``: submit a job to a serving cluster (``mpc coordinator --serve``) and print
the outputs it names for us.

The submitter is an external recipient of the cluster: it connects to the coordinator with its
``recipient:NAME`` certificate, sends the job spec with its hash and a fresh run nonce, and
receives every party's sealed share of each output the spec names for it (checked and opened as
``mpc recipient`` does: the sender's signature, an AAD binding the job, the spec hash, the
output, the sender, us and the nonce).  A refusal (by the coordinator, or by a party that
checked the job) is one line naming who refused and why.  Prints ``result <output> = <value>``
on stdout (or one JSON object with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

from mpc_runtime.config import ClusterConfig
from mpc_runtime.jobs.spec import JobSpec

MAX_TIMEOUT = 7 * 86400.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "job",
        help="submit a job to a serving cluster",
        description="Jobs for a cluster started with mpc coordinator --serve and"
        " mpc party --serve.",
    )
    actions = p.add_subparsers(dest="job_action", metavar="<action>", required=True)
    s = actions.add_parser(
        "submit",
        help="submit a job spec and print the outputs it names for us",
        description="Submit the job in --job to the serving cluster as recipient NAME; the "
        "parties check it and take their inputs from their --inputs-dir; the outputs the job "
        "names for NAME are printed.",
    )
    s.add_argument("--config", required=True, help="cluster TOML file")
    s.add_argument("--job", required=True, help="job spec (TOML or JSON) with a new job_id")
    s.add_argument(
        "--name",
        help="submit as recipient:NAME (default: the job's only external recipient, or the"
        " cluster's only recipient)",
    )
    s.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="give up after S seconds (default: 3600)",
    )
    s.add_argument("--json", action="store_true", help="print results as one JSON object")
    s.set_defaults(func=run)


def submitter_name(cfg: ClusterConfig, spec: JobSpec, name: str | None) -> str:
    """The recipient name to submit as: given, or the only candidate."""
    from mpc_runtime.errors import UsageError

    if name:
        return name
    named = list(spec.external_recipients())
    if len(named) == 1:
        return named[0]
    if not named and len(cfg.recipients) == 1:
        return cfg.recipients[0].name
    raise UsageError("give --name: the recipient this job is submitted as")


class JobClient:
    """A recipient's connection to a serving coordinator, over which it submits job after job
    (one TLS connection, made at the first submission, heartbeats while idle).
    ``async with JobClient(cfg, name) as c: await c.submit(spec)``."""

    def __init__(self, cfg: ClusterConfig, name: str) -> None:
        from mpc_runtime.errors import UsageError
        from mpc_runtime.ids import Identity

        try:
            self.me = Identity.recipient(name)
        except ValueError:
            raise UsageError(f"invalid recipient name {name[:64]!r}") from None
        if not cfg.knows(self.me):
            raise UsageError(f"{self.me.label} is not declared in cluster {cfg.name!r}")
        self.cfg = cfg
        self.name = name
        self.ch: Any = None
        self.failure: Exception | None = None
        self._queues: dict[str, asyncio.Queue[Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._bye = False
        self._seal_key: Any = None
        self._certs: dict[str, Any] = {}

    async def __aenter__(self) -> JobClient:
        return self  # connects on the first submission (the coordinator expects it at once)

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect(self, deadline: Any = None) -> None:
        from mpc_runtime.deadline import Deadline
        from mpc_runtime.ids import Identity
        from mpc_runtime.transport.liveness import Liveness
        from mpc_runtime.transport.mesh import dial_service

        cfg = self.cfg
        limit = Deadline.after(cfg.timeouts.connect)
        limit = deadline.earliest(limit) if deadline is not None else limit
        self.ch = await dial_service(cfg, self.me, cfg.coordinator, Identity.coordinator(), limit)
        self._tasks.append(asyncio.create_task(self._read()))
        watch = Liveness(lambda: [self.ch], cfg.timeouts.round)
        self._tasks.append(asyncio.create_task(watch.run(self._frozen)))

    async def aclose(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.ch is not None:
            await self.ch.bye_quietly("")
            self.ch.close()

    def _fail(self, err: Exception) -> None:
        if self.failure is None:
            self.failure = err
        for q in self._queues.values():
            q.put_nowait(err)

    async def _frozen(self, err: Exception) -> None:
        self._fail(err)
        self.ch.close()

    async def _read(self) -> None:
        from mpc_runtime.errors import MPCError, PeerLostError, RemoteProtocolError
        from mpc_runtime.runtime.session import aborted_by
        from mpc_runtime.wire import Bye, Control, EndOfStream, PeerAbort

        coord = self.ch.peer.label
        try:
            while True:
                match await self.ch.next_event():
                    case Control(job=job, op=op):
                        if (q := self._queues.get(job)) is not None:
                            q.put_nowait(op)
                    case Bye():
                        self._bye = True
                    case PeerAbort(abort=abort):
                        raise aborted_by(coord, abort)
                    case EndOfStream():
                        how = "left" if self._bye else "was lost (connection closed)"
                        raise PeerLostError(f"{coord} {how}", culprit=coord)
                    case _:
                        raise RemoteProtocolError(f"{coord} sent an unexpected message")
        except MPCError as err:
            self._fail(err)

    def _collector(self, spec: JobSpec, h: str, nonce: bytes) -> Any:
        """What checks, opens and adds up the sealed shares of our outputs (None if none)."""
        from mpc_runtime import pki
        from mpc_runtime.ids import Identity
        from mpc_runtime.jobs.relay import load_party_cert
        from mpc_runtime.recipient.receive import _Collect

        mine = spec.external_recipients().get(self.name, [])
        if not mine:
            return None
        senders = [Identity.party(p) for p in self.cfg.party_ids]
        if self._seal_key is None:
            self._seal_key = pki.load_key(self.cfg.seal_key_path(self.me))
            self._certs = {s.label: load_party_cert(self.cfg, s) for s in senders}
        labels = [s.label for s in senders]
        return _Collect(
            self.me, spec, h, self._seal_key, labels, nonce, self._certs, {o: {} for o in mine}
        )

    async def submit(
        self,
        spec: JobSpec,
        *,
        timeout: float = 3600.0,
        on_accept: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Submit ``spec``; the outputs it names for us once it finished.  An MPCError names
        who refused or failed the job (the connection stays usable after a refused job)."""
        from mpc_runtime.deadline import Deadline
        from mpc_runtime.errors import RoundTimeout
        from mpc_runtime.jobs.sealing import RUN_NONCE_BYTES
        from mpc_runtime.jobs.spec import resolve, spec_hash
        from mpc_runtime.wire.control import Submit

        if self.failure is not None:
            raise self.failure
        if self.ch is None:
            await self.connect(Deadline.after(timeout))
        spec = resolve(spec, self.cfg)
        h, job = spec_hash(spec), spec.job_id
        nonce = os.urandom(RUN_NONCE_BYTES)
        collect = self._collector(spec, h, nonce)
        q: asyncio.Queue[Any] = asyncio.Queue()
        self._queues[job] = q
        deadline = Deadline.after(timeout)
        try:
            await self.ch.send_op(job, Submit(h, spec.model_dump(mode="json"), nonce))
            try:
                async with deadline.scope():
                    return await self._answers(job, q, collect, on_accept)
            except TimeoutError:
                raise RoundTimeout(f"job {job} did not finish within {timeout:g}s") from None
        finally:
            del self._queues[job]

    async def _answers(
        self,
        job: str,
        q: asyncio.Queue[Any],
        collect: Any,
        on_accept: Callable[[str], None] | None,
    ) -> dict[str, Any]:
        from mpc_runtime.errors import RemoteProtocolError, SpecMismatch, UsageError
        from mpc_runtime.runtime.session import aborted_by
        from mpc_runtime.wire import Accept, Finished, Refuse, Sealed
        from mpc_runtime.wire.control import JobAbort, Received

        coord = self.ch.peer.label
        results: dict[str, Any] | None = None if collect is not None else {}
        while True:
            item = await q.get()
            match item:
                case Exception():
                    raise item
                case Accept():
                    if on_accept is not None:
                        on_accept(job)
                case Refuse(code=code, reason=reason):
                    cls = SpecMismatch if code == "spec-mismatch" else UsageError
                    raise cls(f"{coord} refused job {job}: {reason}", peer=coord, code=code)
                case Sealed() if collect is not None and results is None:
                    if collect.add(coord, item):
                        results = collect.results()
                        await self.ch.send_op(job, Received())
                case Finished() if results is not None:
                    return results
                case JobAbort():
                    raise aborted_by(coord, item.abort())
                case _:
                    raise RemoteProtocolError(f"{coord} sent an unexpected message", peer=coord)


async def submit_job(
    cfg: ClusterConfig,
    name: str,
    spec: JobSpec,
    *,
    timeout: float = 3600.0,
    on_accept: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Submit ``spec`` as ``recipient:name`` over a new connection; the outputs it names for
    us once it finished.  Raises an MPCError naming who refused or failed the job."""
    client = JobClient(cfg, name)
    try:
        return await client.submit(spec, timeout=timeout, on_accept=on_accept)
    finally:
        await client.aclose()


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import info, plain, result
    from mpc_runtime.config import load_cluster
    from mpc_runtime.errors import UsageError
    from mpc_runtime.jobs.spec import check_against_cluster, load_spec

    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError("--timeout must be a positive number of seconds (at most 7 days)")
    cfg = load_cluster(args.config)
    spec = load_spec(args.job)
    check_against_cluster(spec, cfg, args.job)
    name = submitter_name(cfg, spec, args.name)
    values = asyncio.run(
        submit_job(
            cfg,
            name,
            spec,
            timeout=args.timeout,
            on_accept=lambda job: info(f"job {job} accepted by the coordinator"),
        )
    )
    if args.json:
        out = {k: plain(v) for k, v in sorted(values.items())}
        result(json.dumps({"recipient": name, "job": spec.job_id, "outputs": out}))
    else:
        for key, value in sorted(values.items()):
            result(f"result {key} = {plain(value)}")
        if not values:
            info(f"job {spec.job_id} finished; it names no output for recipient:{name}")
    return 0
