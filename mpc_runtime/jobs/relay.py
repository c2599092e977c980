"""The party side of external reveals: seal each output share to its recipient and hand the blob
to the coordinator, which forwards it unopened.

:class:`SealedRelay` implements :class:`~mpc_runtime.runtime.reveal.ExternalSink`.  It loads the
recipient's *sealing* certificate from the cluster's cert_dir (checked: the cluster CA signed
it, it proves exactly that recipient, it is valid now and it is a sealing certificate), seals
with an AAD binding the job id, the spec hash, the output, this party, the recipient and the
recipient's run nonce, and signs the blob with this party's own key.

May import: jobs.sealing, config, pki, errors, ids, wire (typed operations), runtime.reveal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.errors import PeerIdentityError, UnauthorizedReveal
from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.sealing import RUN_NONCE_BYTES, make_aad, seal_share, sign_blob
from mpc_runtime.runtime.reveal import OutputMeta
from mpc_runtime.wire import ControlOp, Sealed

__all__ = ["SealedRelay", "load_party_cert", "load_sealing_cert"]


def load_sealing_cert(cfg: ClusterConfig, recipient: Identity) -> Any:
    """The sealing certificate of an external recipient (for output shares) or of a compute
    party (for contributors' input shares), checked: signed by the cluster CA, proving exactly
    that identity, valid now, and a sealing certificate (never its TLS one)."""
    if recipient.role not in (Role.RECIPIENT, Role.PARTY) or not cfg.knows(recipient):
        raise UnauthorizedReveal(f"{recipient.label} has no sealing key in this cluster")
    path = cfg.seal_cert_path(recipient)
    cert = pki.load_cert(path)
    ca = pki.load_cert(cfg.ca_cert_path)
    problem = pki.certificate_problem(cert, ca)
    if problem is not None:
        raise PeerIdentityError(
            f"{path}: the sealing certificate is {problem}", peer=recipient.label
        )
    if pki.identity_from_cert(cert, cfg.name) != recipient or not pki.is_sealing_cert(cert):
        raise PeerIdentityError(
            f"{path}: not a sealing certificate of {recipient.label}", peer=recipient.label
        )
    return cert


def load_party_cert(cfg: ClusterConfig, party: Identity) -> Any:
    """A party's certificate (to check its signature on a sealed share), checked like TLS."""
    path = cfg.cert_path(party)
    cert = pki.load_cert(path)
    problem = pki.certificate_problem(cert, pki.load_cert(cfg.ca_cert_path))
    if problem is not None or pki.identity_from_cert(cert, cfg.name) != party:
        raise PeerIdentityError(
            f"{path}: not a valid certificate of {party.label}", peer=party.label
        )
    return cert


class SealedRelay:
    """Seals and signs one party's output shares for external recipients; ``send`` hands the
    blob to the coordinator.  ``nonces``: each recipient's run nonce, from START."""

    def __init__(
        self,
        send: Callable[[ControlOp], Awaitable[None]],
        cfg: ClusterConfig,
        job_id: str,
        spec_hash: str,
        party_label: str,
        *,
        signing_key: Any,
        nonces: dict[str, Any],
    ) -> None:
        self._send = send
        self._cfg = cfg
        self.job_id = job_id
        self.spec_hash = spec_hash
        self.party_label = party_label
        self._key = signing_key
        self._nonces = dict(nonces)
        self._certs: dict[Identity, Any] = {}

    def _cert(self, recipient: Identity) -> Any:
        cert = self._certs.get(recipient)
        if cert is None:
            cert = load_sealing_cert(self._cfg, recipient)
            self._certs[recipient] = cert
        return cert

    async def deliver(
        self, name: str, recipient: Identity, share: np.ndarray[Any, Any], meta: OutputMeta
    ) -> None:
        nonce = self._nonces.get(recipient.label)
        if not isinstance(nonce, bytes) or len(nonce) != RUN_NONCE_BYTES:
            raise UnauthorizedReveal(f"no run nonce for {recipient.label}: refusing to seal")
        aad = make_aad(self.job_id, self.spec_hash, name, self.party_label, recipient.label, nonce)
        blob = seal_share(
            self._cert(recipient),
            share,
            frac_bits=meta.frac_bits,
            signed=True,
            aad=aad,
            divisor=meta.divisor,
        )
        await self._send(Sealed(name, recipient.label, blob, sign_blob(self._key, blob, aad)))

    def __repr__(self) -> str:
        return f"SealedRelay(job={self.job_id!r}, party={self.party_label!r})"
