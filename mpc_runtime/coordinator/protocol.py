"""Shared pieces of the CONTROL protocol: the cluster-only HELLO check, building and sending
control messages, and the field checks both ends use.

Every control message is a :class:`~mpc_runtime.wire.Message` of kind CONTROL whose ``job`` is
the job id and whose body is a dict with ``svc`` (``"job"`` or ``"dealer"``) and ``op``.

May import: transport, wire, errors, ids.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mpc_runtime.errors import MPCError, PeerIdentityError
from mpc_runtime.ids import Identity
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import HelloCheck
from mpc_runtime.wire import Message, MsgKind

SEND_TIMEOUT = 1.0
"""Bound on writing one control message to a peer whose buffers are full."""


def cluster_check(cluster: str) -> HelloCheck:
    """A HELLO check that only compares the cluster (specs are compared by the join op)."""

    def check(peer: Identity, body: dict[str, Any]) -> None:
        if body.get("cluster") != cluster:
            raise PeerIdentityError(f"{peer.label} belongs to another cluster", peer=peer.label)

    return check


def control(me: Identity, job: str, body: dict[str, Any]) -> Message:
    return Message(MsgKind.CONTROL, sender=me.label, job=job, body=body)


async def send_quietly(ch: Channel, msg: Message, timeout: float = SEND_TIMEOUT) -> bool:
    """Best-effort, bounded send; True if it was written."""
    try:
        async with asyncio.timeout(timeout):
            await ch.send(msg)
    except (MPCError, TimeoutError, OSError):
        return False
    return True


def short(text: object, limit: int = 300) -> str:
    """A peer-supplied string made safe for one log line."""
    return " ".join(str(text).split())[:limit]
