"""The full mesh of TLS connections among the computing parties of one job.

Every party listens; party i dials each party j < i and accepts each party j > i, so every pair
has exactly one connection.  Dialing retries under the connect deadline; when the deadline passes
the error names every party that is still missing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mpc_runtime.config import ClusterConfig
from mpc_runtime.errors import ConnectError
from mpc_runtime.ids import Identity, Role
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener, dial
from mpc_runtime.transport.tls import TLSFiles


def tls_files(cfg: ClusterConfig, ident: Identity) -> TLSFiles:
    return TLSFiles(cfg.ca_cert_path, cfg.cert_path(ident), cfg.key_path(ident))


def party_listener(cfg: ClusterConfig, me: int, hello: dict[str, Any]) -> Listener:
    """A listener on party ``me``'s port admitting only the parties that dial it."""
    ident = Identity.party(me)
    ep = cfg.party(me)

    def admit(peer: Identity) -> bool:
        return peer.role is Role.PARTY and peer.party_id is not None and peer.party_id > me

    return Listener(
        ep.listen_host,
        ep.port,
        ctx=tls_files(cfg, ident).server(),
        me=ident,
        cluster=cfg.name,
        hello=hello,
        admit=admit,
        max_frame_bytes=cfg.limits.max_frame_bytes,
        handshake_timeout=cfg.timeouts.round,
    )


async def build_mesh(
    cfg: ClusterConfig, me: int, hello: dict[str, Any], listener: Listener
) -> dict[int, Channel]:
    """Connect party ``me`` to every other party; returns channels keyed by party id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + cfg.timeouts.connect
    ident = Identity.party(me)
    ctx = tls_files(cfg, ident).client()
    lower = [p for p in cfg.parties if p.id < me]
    higher = {Identity.party(p.id) for p in cfg.parties if p.id > me}

    async def dial_one(pid: int) -> Channel:
        ep = cfg.party(pid)
        return await dial(
            ep.host,
            ep.port,
            ctx=ctx,
            me=ident,
            expected=Identity.party(pid),
            cluster=cfg.name,
            hello=hello,
            deadline=deadline,
            max_frame_bytes=cfg.limits.max_frame_bytes,
        )

    tasks: dict[int, asyncio.Task[Channel]] = {
        p.id: asyncio.ensure_future(dial_one(p.id)) for p in lower
    }
    accept_task = asyncio.ensure_future(listener.accept_all(higher, deadline))
    everything: list[asyncio.Future[Any]] = [*tasks.values(), accept_task]
    try:
        done, _ = await asyncio.wait(everything, return_when=asyncio.FIRST_EXCEPTION)
        errors = [e for t in done if (e := t.exception()) is not None]
        if errors:
            other = [e for e in errors if not isinstance(e, ConnectError)]
            if other:
                raise other[0]
            # let the remaining dials settle so the error names everyone who is missing
            await asyncio.wait(everything)
            missing = [f"party:{pid}" for pid, t in tasks.items() if t.exception() is not None]
            missing += sorted(i.label for i in higher - listener.connected)
            raise ConnectError(
                f"party {me}: {', '.join(missing)} did not connect within"
                f" {cfg.timeouts.connect:g}s (connect deadline)",
                peer=missing[0] if missing else None,
            )
    except BaseException:
        for t in everything:
            t.cancel()
        for t in tasks.values():
            if t.done() and not t.cancelled() and t.exception() is None:
                t.result().close()
        raise
    channels = {pid: t.result() for pid, t in tasks.items()}
    for ident_, ch in accept_task.result().items():
        if ident_.party_id is not None:
            channels[ident_.party_id] = ch
    for ch in channels.values():
        ch.latency = cfg.limits.simulated_latency_ms / 1000.0
    return channels


__all__ = ["build_mesh", "party_listener", "tls_files"]
