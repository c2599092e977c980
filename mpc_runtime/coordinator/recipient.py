"""The external recipient: dial the coordinator, join the job, collect one sealed share of each
output from every party, open them with our own key, and reconstruct the values.

Each blob is opened with the AAD built from the job, the spec hash, the output, the sender the
coordinator named and ourselves: a blob moved to another sender, output, job or recipient does
not open.  The values are returned only after the coordinator reports the job finished.

May import: coordinator.*, runtime.reveal (decoding), transport, wire, pki, config, errors, ids.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.protocol import cluster_check, control, send_quietly, short
from mpc_runtime.coordinator.sealing import make_aad, open_sealed, unpack_share
from mpc_runtime.coordinator.spec import JobSpec, spec_hash
from mpc_runtime.errors import (
    MPCError,
    PeerLostError,
    RemoteProtocolError,
    RoundTimeout,
    SessionAborted,
    SpecMismatch,
    UsageError,
)
from mpc_runtime.ids import Identity
from mpc_runtime.runtime.reveal import decode_output
from mpc_runtime.transport.connect import dial
from mpc_runtime.transport.mesh import tls_files
from mpc_runtime.wire import Message, MsgKind

__all__ = ["receive_outputs"]


def _combine(output: str, parts: dict[str, tuple[np.ndarray, dict[str, Any]]]) -> np.ndarray:
    metas = [m for _, m in parts.values()]
    if any(m != metas[0] for m in metas[1:]):
        raise RemoteProtocolError(f"parties disagree on the shape or encoding of {output!r}")
    total = np.zeros(tuple(metas[0]["shape"]), dtype=np.uint64)
    for share, _ in parts.values():
        np.add(total, share, out=total)  # wraps mod 2^64
    m = metas[0]
    return decode_output(total, m["frac_bits"], m["signed"], m.get("divisor", 1))


async def receive_outputs(
    cfg: ClusterConfig, name: str, spec: JobSpec, *, timeout: float
) -> dict[str, np.ndarray]:
    """Receive every output the job names ``recipient:name`` for; typed error on abort/timeout."""
    try:
        me = Identity.recipient(name)
    except ValueError:
        raise UsageError(f"invalid recipient name {name[:64]!r}") from None
    if not cfg.knows(me):
        raise UsageError(f"{me.label} is not declared in cluster {cfg.name!r}")
    mine = spec.external_recipients().get(name, [])
    if not mine:
        raise UsageError(f"job {spec.job_id} names no output for {me.label}")
    h = spec_hash(spec)
    key = pki.load_key(cfg.key_path(me))
    senders = [Identity.party(p).label for p in cfg.party_ids]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    ch = await dial(
        cfg.coordinator.host,
        cfg.coordinator.port,
        ctx=tls_files(cfg, me).client(),
        me=me,
        expected=Identity.coordinator(),
        cluster=cfg.name,
        hello={"cluster": cfg.name},
        deadline=min(deadline, loop.time() + cfg.timeouts.connect),
        max_frame_bytes=cfg.limits.max_frame_bytes,
        check=cluster_check(cfg.name),
    )
    coord = ch.peer.label
    got: dict[str, dict[str, tuple[np.ndarray, dict[str, Any]]]] = {o: {} for o in mine}
    results: dict[str, np.ndarray] = {}
    try:
        await ch.send(
            control(
                me,
                spec.job_id,
                {"svc": "job", "op": "join", "spec_hash": h, "spec": spec.model_dump(mode="json")},
            )
        )
        accepted = False
        acked = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                have = sum(len(v) for v in got.values())
                raise RoundTimeout(
                    f"job {spec.job_id}: timed out after {timeout:g}s with {have} of"
                    f" {len(mine) * len(senders)} output shares",
                    peer=coord,
                )
            try:
                async with asyncio.timeout(remaining):
                    msg = await ch.receive()
            except TimeoutError:
                continue
            if msg is None:
                raise PeerLostError(f"{coord} closed the connection", peer=coord)
            if msg.kind is MsgKind.ABORT:
                body = msg.body if isinstance(msg.body, dict) else {}
                if body.get("code") == "spec-mismatch":
                    raise SpecMismatch(f"{coord} refused us: {short(body.get('reason'))}")
                raise SessionAborted(f"{coord} aborted: {short(body.get('reason'))}", peer=coord)
            if msg.kind is not MsgKind.CONTROL or not isinstance(msg.body, dict):
                raise RemoteProtocolError(f"{coord} sent an unexpected {msg.kind.name}", peer=coord)
            body = msg.body
            op = body.get("op") if body.get("svc") == "job" else None
            if op == "refuse":
                reason = f"{coord} refused us: {short(body.get('reason'))}"
                if body.get("code") == "spec-mismatch":
                    raise SpecMismatch(reason, peer=coord)
                raise UsageError(reason)
            if op == "abort":
                lost = body.get("lost")
                raise SessionAborted(
                    f"job {spec.job_id} aborted: {short(body.get('reason'))}",
                    peer=short(lost, 64) if isinstance(lost, str) else coord,
                )
            if op == "accept":
                accepted = True
                continue
            if op == "sealed" and accepted:
                output, sender = body.get("output"), body.get("sender")
                blob = body.get("blob")
                if (
                    output not in got
                    or sender not in senders
                    or body.get("recipient") != me.label
                    or not isinstance(blob, bytes)
                ):
                    raise RemoteProtocolError(f"{coord} relayed an output not meant for us")
                slot = got[str(output)]
                if sender in slot:
                    raise RemoteProtocolError(f"{coord} relayed a share twice", peer=str(sender))
                aad = make_aad(spec.job_id, h, str(output), str(sender), me.label)
                slot[str(sender)] = unpack_share(open_sealed(key, blob, aad))
                if all(len(v) == len(senders) for v in got.values()):
                    results = {o: _combine(o, parts) for o, parts in got.items()}
                    await ch.send(control(me, spec.job_id, {"svc": "job", "op": "received"}))
                    acked = True
                continue
            if op == "finished" and acked:
                return results
            raise RemoteProtocolError(f"{coord} sent an unexpected control message", peer=coord)
    except MPCError:
        raise
    finally:
        await send_quietly(ch, Message(MsgKind.BYE, sender=me.label, job=spec.job_id), 0.5)
        ch.close()
