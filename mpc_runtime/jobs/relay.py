"""The party side of external reveals: seal each output share to its recipient and hand the blob
to the coordinator, which forwards it unopened.

:class:`SealedRelay` implements :class:`~mpc_runtime.runtime.reveal.ExternalSink`.  It loads the
recipient's certificate from the cluster's cert_dir, checks that the cluster CA signed it and
that it proves exactly that recipient's identity, and seals with an AAD binding the job id, the
spec hash, the output, this party and the recipient.

May import: jobs.sealing, config, pki, errors, ids, wire (typed operations), runtime.reveal.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.errors import PeerIdentityError, UnauthorizedReveal
from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.sealing import make_aad, seal_share
from mpc_runtime.runtime.reveal import OutputMeta
from mpc_runtime.wire import ControlOp, Sealed

__all__ = ["SealedRelay", "load_recipient_cert"]


def load_recipient_cert(cfg: ClusterConfig, recipient: Identity) -> Any:
    """The recipient's certificate, checked against the cluster CA and its identity."""
    if recipient.role is not Role.RECIPIENT or not cfg.knows(recipient):
        raise UnauthorizedReveal(f"{recipient.label} is not an external recipient of the cluster")
    path = cfg.cert_path(recipient)
    cert = pki.load_cert(path)
    ca = pki.load_cert(cfg.ca_cert_path)
    if not pki.verify_issued_by(cert, ca):
        raise PeerIdentityError(f"{path}: not signed by the cluster CA", peer=recipient.label)
    if pki.identity_from_cert(cert, cfg.name) != recipient:
        raise PeerIdentityError(
            f"{path}: the certificate does not prove {recipient.label}", peer=recipient.label
        )
    now = _dt.datetime.now(_dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise PeerIdentityError(f"{path}: certificate is not valid now", peer=recipient.label)
    return cert


class SealedRelay:
    """Seals one party's output shares to external recipients and sends them via ``send``."""

    def __init__(
        self,
        send: Callable[[ControlOp], Awaitable[None]],
        cfg: ClusterConfig,
        job_id: str,
        spec_hash: str,
        party_label: str,
    ) -> None:
        self._send = send
        self._cfg = cfg
        self.job_id = job_id
        self.spec_hash = spec_hash
        self.party_label = party_label
        self._certs: dict[Identity, Any] = {}

    def _cert(self, recipient: Identity) -> Any:
        cert = self._certs.get(recipient)
        if cert is None:
            cert = load_recipient_cert(self._cfg, recipient)
            self._certs[recipient] = cert
        return cert

    async def deliver(
        self, name: str, recipient: Identity, share: np.ndarray[Any, Any], meta: OutputMeta
    ) -> None:
        aad = make_aad(self.job_id, self.spec_hash, name, self.party_label, recipient.label)
        blob = seal_share(
            self._cert(recipient),
            share,
            frac_bits=meta.frac_bits,
            signed=True,
            aad=aad,
            divisor=meta.divisor,
        )
        await self._send(Sealed(name, recipient.label, blob))

    def __repr__(self) -> str:
        return f"SealedRelay(job={self.job_id!r}, party={self.party_label!r})"
