"""Shared pieces of the CONTROL protocol: the cluster-only HELLO check, building and sending
control messages, and the field checks both ends use.

Every control message is a :class:`~mpc_runtime.wire.Message` of kind CONTROL whose ``job`` is
the job id and whose body is a dict with ``svc`` (``"job"`` or ``"dealer"``) and ``op``.

May import: transport, wire, errors, ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mpc_runtime.errors import PeerIdentityError
from mpc_runtime.ids import Identity
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import HelloCheck, Listener
from mpc_runtime.transport.mesh import tls_files
from mpc_runtime.wire import Message, MsgKind

if TYPE_CHECKING:
    from mpc_runtime.config import ClusterConfig, Endpoint

SEND_TIMEOUT = 1.0
"""Bound on writing one control message to a peer whose buffers are full."""


def cluster_check(cluster: str) -> HelloCheck:
    """A HELLO check that only compares the cluster (specs are compared by the join op)."""

    def check(peer: Identity, body: dict[str, Any]) -> None:
        if body.get("cluster") != cluster:
            raise PeerIdentityError(f"{peer.label} belongs to another cluster", peer=peer.label)

    return check


def service_listener(
    cfg: ClusterConfig, me: Identity, endpoint: Endpoint, admit: Callable[[Identity], bool]
) -> Listener:
    """The TLS listener of a service (coordinator or dealer): cluster-only HELLO, round-timeout
    handshake bound, admitting whom ``admit`` accepts."""
    return Listener(
        endpoint.listen_host,
        endpoint.port,
        ctx=tls_files(cfg, me).server(),
        me=me,
        cluster=cfg.name,
        hello={"cluster": cfg.name},
        admit=admit,
        max_frame_bytes=cfg.limits.max_frame_bytes,
        handshake_timeout=cfg.timeouts.round,
        check=cluster_check(cfg.name),
    )


def control(me: Identity, job: str, body: dict[str, Any]) -> Message:
    return Message(MsgKind.CONTROL, sender=me.label, job=job, body=body)


async def send_quietly(ch: Channel, msg: Message, timeout: float = SEND_TIMEOUT) -> bool:
    """Best-effort, bounded send; True if it was written."""
    return await ch.send_quietly(msg, timeout)


def short(text: object, limit: int = 300) -> str:
    """A peer-supplied string made safe for one log line."""
    return " ".join(str(text).split())[:limit]
