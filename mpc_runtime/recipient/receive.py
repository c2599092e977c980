"""The external recipient: dial the coordinator, join the job, collect one sealed share of each
output from every party, open them with our own key, and reconstruct the values.

We join with a fresh run nonce.  Each blob must carry its sender's signature (checked against
the sender party's certificate) and opens only with the AAD built from the job, the spec hash,
the output, the sender, ourselves and our run nonce: a blob forged by the relay, moved to another
sender, output, job or recipient, or replayed from an earlier run does not open.  The values are
returned only after the coordinator reports the job finished.  Every wait is bounded: by
``timeout`` overall, and by the round timeout for a silent coordinator.

May import: config, errors, ids, deadline, jobs, pki, runtime.reveal (decoding), transport, wire.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import (
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SpecMismatch,
    UsageError,
)
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.relay import load_party_cert
from mpc_runtime.jobs.sealing import (
    RUN_NONCE_BYTES,
    make_aad,
    open_sealed,
    unpack_share,
    verify_blob,
)
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.runtime.reveal import decode_output
from mpc_runtime.runtime.session import aborted_by
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.transport.mesh import dial_service
from mpc_runtime.wire import (
    Accept,
    Control,
    EndOfStream,
    Finished,
    Join,
    PeerAbort,
    Received,
    Refuse,
    Sealed,
)

__all__ = ["receive_outputs"]


def _combine(output: str, parts: dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]]) -> Any:
    metas = [m for _, m in parts.values()]
    if any(m != metas[0] for m in metas[1:]):
        raise RemoteProtocolError(f"parties disagree on the shape or encoding of {output!r}")
    total = np.zeros(tuple(metas[0]["shape"]), dtype=np.uint64)
    for share, _ in parts.values():
        np.add(total, share, out=total)  # wraps mod 2^64
    m = metas[0]
    return decode_output(total, m["frac_bits"], m.get("divisor", 1))


@dataclass
class _Collect:
    """What we have received so far."""

    me: Identity
    spec: JobSpec
    hash: str
    key: Any
    senders: list[str]
    nonce: bytes
    certs: dict[str, Any]
    got: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = field(default_factory=dict)

    def add(self, coord: str, op: Sealed) -> bool:
        """File one sealed share; True once every share of every output is here."""
        if (
            op.output not in self.got
            or op.sender not in self.senders
            or op.recipient != self.me.label
        ):
            raise RemoteProtocolError(f"{coord} relayed an output not meant for us", peer=coord)
        slot = self.got[op.output]
        if op.sender in slot:
            raise RemoteProtocolError(f"{coord} relayed a share twice", peer=coord)
        aad = make_aad(self.spec.job_id, self.hash, op.output, op.sender, self.me.label, self.nonce)
        verify_blob(self.certs[op.sender], op.blob, aad, op.signature)  # the sender's, unforged
        slot[op.sender] = unpack_share(open_sealed(self.key, op.blob, aad))
        return all(len(v) == len(self.senders) for v in self.got.values())

    def have(self) -> int:
        return sum(len(v) for v in self.got.values())

    def results(self) -> dict[str, Any]:
        return {o: _combine(o, parts) for o, parts in self.got.items()}


def _identity(cfg: ClusterConfig, name: str, spec: JobSpec) -> Identity:
    try:
        me = Identity.recipient(name)
    except ValueError:
        raise UsageError(f"invalid recipient name {name[:64]!r}") from None
    if not cfg.knows(me):
        raise UsageError(f"{me.label} is not declared in cluster {cfg.name!r}")
    if not spec.external_recipients().get(name):
        raise UsageError(f"job {spec.job_id} names no output for {me.label}")
    return me


async def _loop(ch: Channel, st: _Collect, deadline: Deadline, total: int) -> dict[str, Any]:
    coord = ch.peer.label
    results: dict[str, Any] | None = None
    while True:
        try:
            async with deadline.scope():
                event = await ch.next_event()
        except TimeoutError:
            raise RoundTimeout(
                f"job {st.spec.job_id}: timed out with {st.have()} of {total} output shares",
                peer=coord,
            ) from None
        match event:
            case Control(op=Accept()):
                continue
            case Control(op=Refuse(code=code, reason=reason)):
                cls = SpecMismatch if code == "spec-mismatch" else UsageError
                raise cls(f"{coord} refused us: {reason}", peer=coord)
            case Control(op=Sealed() as op):
                if st.add(coord, op):
                    results = st.results()
                    await ch.send_op(st.spec.job_id, Received())
            case Control(op=Finished()) if results is not None:
                return results
            case PeerAbort(abort=abort):
                raise aborted_by(coord, abort)
            case EndOfStream():
                raise PeerLostError(f"{coord} was lost (connection closed)", culprit=coord)
            case _:
                raise RemoteProtocolError(f"{coord} sent an unexpected message", peer=coord)


async def receive_outputs(
    cfg: ClusterConfig, name: str, spec: JobSpec, *, timeout: float
) -> dict[str, Any]:
    """Receive every output the job names ``recipient:name`` for; typed error on abort/timeout."""
    spec = resolve(spec, cfg)
    me = _identity(cfg, name, spec)
    mine = spec.external_recipients()[name]
    senders = [Identity.party(p) for p in cfg.party_ids]
    st = _Collect(
        me,
        spec,
        spec_hash(spec),
        pki.load_key(cfg.seal_key_path(me)),
        [s.label for s in senders],
        os.urandom(RUN_NONCE_BYTES),
        {s.label: load_party_cert(cfg, s) for s in senders},
        {o: {} for o in mine},
    )
    deadline = Deadline.after(timeout)
    ch = await dial_service(
        cfg,
        me,
        cfg.coordinator,
        Identity.coordinator(),
        deadline.earliest(Deadline.after(cfg.timeouts.connect)),
    )
    failure: list[MPCError] = []

    async def frozen(err: MPCError) -> None:
        failure.append(err)
        ch.close()

    watch = asyncio.create_task(Liveness(lambda: [ch], cfg.timeouts.round).run(frozen))
    try:
        await ch.send_op(spec.job_id, Join(st.hash, spec.model_dump(mode="json"), st.nonce))
        return await _loop(ch, st, deadline, len(mine) * len(senders))
    except MPCError:
        if failure:
            raise failure[0] from None
        raise
    finally:
        watch.cancel()
        await ch.bye_quietly(spec.job_id)
        ch.close()
