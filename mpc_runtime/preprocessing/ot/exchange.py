"""The message interface the OT engine talks through, and checks for what peers send.

:class:`Exchanger` is a structural type: the runtime's context satisfies it without importing
anything from here, so the engine stays below the runtime.  One ``exchange`` call is one round
(send to every peer named in ``outgoing``, then receive from every peer in ``expect_from``,
default all peers).  Every party calls the engine with the same public arguments at the same
point of its program; sub-steps use ``ex.scope(name)`` so op paths line up on all parties.

Everything a peer sends is checked here before use (type, dtype, shape, length); a malformed
value raises :class:`~mpc_runtime.errors.RemoteProtocolError` naming that peer as
``"party:<id>"``.  Messages carry only ids, dtypes and sizes, never values.

May import: numpy and :mod:`mpc_runtime.errors` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "Exchanger",
    "check_array",
    "check_bytes",
    "check_fields",
    "check_none",
    "peer_label",
    "check_parties",
]


class Exchanger(Protocol):
    """What the engine needs from a context: identity, scoping and one-round exchanges."""

    @property
    def party_id(self) -> int: ...

    @property
    def parties(self) -> tuple[int, ...]: ...

    def scope(self, name: str) -> Exchanger: ...

    async def exchange(
        self, outgoing: Mapping[int, Any], expect_from: Iterable[int] | None = None
    ) -> dict[int, Any]: ...


def peer_label(pid: int) -> str:
    """The label errors use for a peer: ``"party:<id>"``."""
    return f"party:{pid}"


def check_parties(ex: Exchanger) -> tuple[int, tuple[int, ...]]:
    """This party's id and the sorted party tuple; at least two parties, ids distinct."""
    me = int(ex.party_id)
    parties = tuple(sorted(int(p) for p in ex.parties))
    if len(parties) < 2 or len(set(parties)) != len(parties) or me not in parties:
        raise LocalProtocolError("the OT engine needs at least two distinct parties including us")
    return me, parties


def check_array(value: Any, dtype: Any, shape: tuple[int, ...], peer: int, what: str) -> np.ndarray:
    """``value`` as an array of exactly ``dtype`` and ``shape``, else a RemoteProtocolError."""
    label = peer_label(peer)
    if not isinstance(value, np.ndarray):
        raise RemoteProtocolError(
            f"{label} sent {type(value).__name__} for {what}, expected an array", peer=label
        )
    want = np.dtype(dtype)
    if value.dtype != want or value.shape != shape:
        raise RemoteProtocolError(
            f"{label} sent a {value.dtype} array of shape {value.shape} for {what},"
            f" expected {want} of shape {shape}",
            peer=label,
        )
    return value


def check_bytes(value: Any, length: int, peer: int, what: str) -> bytes:
    """``value`` as bytes of exactly ``length``, else a RemoteProtocolError."""
    label = peer_label(peer)
    if not isinstance(value, bytes):
        raise RemoteProtocolError(
            f"{label} sent {type(value).__name__} for {what}, expected bytes", peer=label
        )
    if len(value) != length:
        raise RemoteProtocolError(
            f"{label} sent {len(value)} bytes for {what}, expected {length}", peer=label
        )
    return value


def check_fields(value: Any, keys: Iterable[str], peer: int, what: str) -> dict[str, Any]:
    """``value`` as a dict with exactly the string ``keys``, else a RemoteProtocolError."""
    label = peer_label(peer)
    want = sorted(keys)
    if not isinstance(value, dict):
        raise RemoteProtocolError(
            f"{label} sent {type(value).__name__} for {what}, expected a dict", peer=label
        )
    got = list(value.keys())
    if not all(isinstance(k, str) for k in got) or sorted(got) != want:
        raise RemoteProtocolError(
            f"{label} sent {what} with {len(got)} fields, not the expected {want}", peer=label
        )
    return value


def check_none(value: Any, peer: int, what: str) -> None:
    """A peer must have sent nothing (None) here, else a RemoteProtocolError."""
    if value is not None:
        label = peer_label(peer)
        raise RemoteProtocolError(
            f"{label} sent {type(value).__name__} for {what}, where nothing was expected",
            peer=label,
        )
