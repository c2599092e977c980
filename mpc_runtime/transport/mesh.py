"""Connections of a cluster: the party mesh of one job, and dialing/listening for services.

Every party listens; party i dials each party j < i and accepts each party j > i, so every pair
has exactly one connection.  Dialing retries under the connect deadline; when the deadline passes
the error names every party that is still missing.  Services (the coordinator, the dealer) listen
with a cluster-only HELLO check; participants dial them with :func:`dial_service`.  A serving
cluster's mesh is built the same way once, its HELLO naming the serving session instead of a
job (:func:`mpc_runtime.node.serve.serve_hello`).

May import: config, errors, ids, deadline and the rest of the transport package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mpc_runtime.config import ClusterConfig, Endpoint
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import ConnectError
from mpc_runtime.ids import Identity, Role
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener, cluster_check, dial
from mpc_runtime.transport.link import DelayedLink
from mpc_runtime.transport.tls import TLSFiles
from mpc_runtime.wire import Hello

__all__ = [
    "ReconnectableListener",
    "build_mesh",
    "dial_service",
    "party_listener",
    "service_listener",
    "tls_files",
]


def tls_files(cfg: ClusterConfig, ident: Identity) -> TLSFiles:
    return TLSFiles(cfg.ca_cert_path, cfg.cert_path(ident), cfg.key_path(ident))


def party_listener(cfg: ClusterConfig, me: int, hello: Hello) -> Listener:
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
        hello=hello,
        admit=admit,
        max_frame_bytes=cfg.limits.max_frame_bytes,
        handshake_timeout=cfg.timeouts.round,
    )


class ReconnectableListener(Listener):
    """A listener that admits an identity again once its earlier connection was handed out
    (a serving coordinator: a recipient submits job after job, a restarted party comes back);
    its owner decides what a second connection of the same identity means."""

    async def next_channel(self, timeout: float | None = None) -> Channel:
        ch = await super().next_channel(timeout)
        self._ready.pop(ch.peer, None)
        return ch


def service_listener(
    cfg: ClusterConfig,
    me: Identity,
    endpoint: Endpoint,
    admit: Callable[[Identity], bool],
    *,
    reconnect: bool = False,
) -> Listener:
    """The TLS listener of a service (coordinator or dealer): cluster-only HELLO, round-timeout
    handshake bound, admitting whom ``admit`` accepts (again and again with ``reconnect``)."""
    return (ReconnectableListener if reconnect else Listener)(
        endpoint.listen_host,
        endpoint.port,
        ctx=tls_files(cfg, me).server(),
        me=me,
        hello=Hello(cfg.name),
        admit=admit,
        max_frame_bytes=cfg.limits.max_frame_bytes,
        handshake_timeout=cfg.timeouts.round,
        check=cluster_check(cfg.name),
    )


async def dial_service(
    cfg: ClusterConfig, me: Identity, endpoint: Endpoint, expected: Identity, deadline: Deadline
) -> Channel:
    """Dial a service (coordinator or dealer) as ``me``, cluster-only HELLO."""
    return await dial(
        endpoint.host,
        endpoint.port,
        tls=tls_files(cfg, me),
        me=me,
        expected=expected,
        hello=Hello(cfg.name),
        deadline=deadline,
        max_frame_bytes=cfg.limits.max_frame_bytes,
        check=cluster_check(cfg.name),
    )


async def build_mesh(
    cfg: ClusterConfig, me: int, hello: Hello, listener: Listener, deadline: Deadline
) -> dict[int, Channel]:
    """Connect party ``me`` to every other party; returns channels keyed by party id."""
    ident = Identity.party(me)
    tls = tls_files(cfg, ident)
    lower = [p for p in cfg.parties if p.id < me]
    higher = {Identity.party(p.id) for p in cfg.parties if p.id > me}

    async def dial_one(pid: int) -> Channel:
        ep = cfg.party(pid)
        return await dial(
            ep.host,
            ep.port,
            tls=tls,
            me=ident,
            expected=Identity.party(pid),
            hello=hello,
            deadline=deadline,
            max_frame_bytes=cfg.limits.max_frame_bytes,
        )

    tasks = {p.id: asyncio.ensure_future(dial_one(p.id)) for p in lower}
    accept_task = asyncio.ensure_future(listener.accept_all(higher, deadline))
    everything: list[asyncio.Future[Any]] = [*tasks.values(), accept_task]
    try:
        done, _ = await asyncio.wait(everything, return_when=asyncio.FIRST_EXCEPTION)
        errors = [e for t in done if (e := t.exception()) is not None]
        if errors:
            other = [e for e in errors if not isinstance(e, ConnectError)]
            if other:
                raise other[0]
            await asyncio.wait(everything)  # let the rest settle: name everyone who is missing
            missing = [f"party:{pid}" for pid, t in tasks.items() if t.exception() is not None]
            missing += sorted(i.label for i in higher - listener.connected)
            raise ConnectError(
                f"party {me}: {', '.join(missing)} did not connect within"
                f" {cfg.timeouts.connect:g}s (connect deadline)",
                peer=missing[0] if missing else None,
                culprit=missing[0] if missing else None,
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
    latency = cfg.limits.simulated_latency_ms / 1000.0
    if latency > 0:
        for ch in channels.values():
            ch.link = DelayedLink(ch.link, latency)
    return channels
