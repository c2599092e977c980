"""TLS 1.3 contexts with mutual authentication against the cluster CA.

Both sides present a certificate and require one from the peer.  Host names are not checked;
instead the peer's identity is read from the ``mpc://`` URI in its certificate's
SubjectAlternativeName (see :func:`peer_identity`) and compared with the identity we expect.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from mpc_runtime.errors import ConfigError, PeerIdentityError
from mpc_runtime.ids import Identity
from mpc_runtime.pki import certificate_problem, identity_from_der, load_cert

# OpenSSL X509_V_ERR_* codes that a refused certificate maps to, in words.
_VERIFY_CODES = {
    9: "its certificate is not valid yet",
    10: "its certificate has expired",
    2: "its certificate was not issued by this cluster's CA",
    7: "its certificate signature does not verify against this cluster's CA",
    18: "its certificate is self-signed, not issued by this cluster's CA",
    19: "its certificate was not issued by this cluster's CA",
    20: "its certificate was not issued by this cluster's CA",
    21: "its certificate was not issued by this cluster's CA",
}
_ALERTS = {
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "it refused our certificate as expired",
    "TLSV1_ALERT_UNKNOWN_CA": "it refused our certificate as not issued by its CA",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it refused our certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "it refused our certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "it requires a client certificate",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the TLS handshake failed (no common protocol version?)",
    "TLSV1_ALERT_PROTOCOL_VERSION": "it does not speak TLS 1.3",
    "WRONG_VERSION_NUMBER": "it does not speak TLS",
}


def verify_failure(exc: ssl.SSLError) -> str:
    """Why a TLS handshake failed, in words (from the verify code or the alert name)."""
    code = getattr(exc, "verify_code", None)
    if isinstance(code, int) and code in _VERIFY_CODES:
        return _VERIFY_CODES[code]
    msg = getattr(exc, "verify_message", None)
    if isinstance(msg, str) and msg:
        return f"its certificate was refused ({msg})"
    reason = getattr(exc, "reason", None) or ""
    return _ALERTS.get(reason, f"the TLS handshake failed ({reason or type(exc).__name__})")


def _base(
    purpose: ssl.Purpose, protocol: int, ca: Path, cert: Path | None, key: Path | None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(protocol)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    files = [(ca, "CA certificate")]
    if cert is not None and key is not None:
        files += [(cert, "certificate"), (key, "private key")]
    for path, what in files:
        if not path.exists():
            raise ConfigError(f"{path}: {what} not found (make certificates with `mpc certs`)")
    try:
        ctx.load_verify_locations(cafile=str(ca))
        if cert is not None and key is not None:
            ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except PermissionError:
        raise ConfigError(f"{key}: permission denied reading the private key") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"{cert}: unusable certificate or key ({exc.__class__.__name__})"
        ) from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    del purpose
    return ctx


def server_context(
    ca: Path, cert: Path, key: Path, *, client_cert_optional: bool = False
) -> ssl.SSLContext:
    """Context for accepting connections; the client must present a CA-signed certificate
    (or, with ``client_cert_optional``, may present none: contributors holding only a token)."""
    ctx = _base(ssl.Purpose.CLIENT_AUTH, ssl.PROTOCOL_TLS_SERVER, ca, cert, key)
    if client_cert_optional:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def client_context(ca: Path, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """Context for dialing; the server must present a CA-signed certificate.  Without ``cert``
    and ``key`` we present none (an anonymous contributor)."""
    ctx = _base(ssl.Purpose.SERVER_AUTH, ssl.PROTOCOL_TLS_CLIENT, ca, cert, key)
    ctx.check_hostname = False  # identity comes from the SAN URI, checked by peer_identity()
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def peer_identity(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, cluster: str) -> Identity:
    """The identity proved by the peer's (already verified) certificate."""
    if ssl_object is None:
        raise PeerIdentityError("connection is not TLS")
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise PeerIdentityError("peer presented no certificate")
    return identity_from_der(der, cluster)


class TLSFiles:
    """The CA, certificate and key paths one identity uses."""

    def __init__(self, ca: Path, cert: Path | None, key: Path | None) -> None:
        self.ca, self.cert, self.key = ca, cert, key

    def own_problem(self) -> str | None:
        """What is wrong with our own certificate (expired, not yet valid, another CA), if
        anything: the likely reason a peer refused us."""
        if self.cert is None:
            return None
        try:
            return certificate_problem(load_cert(self.cert), load_cert(self.ca))
        except ConfigError:
            return None

    def diagnostic_client(self) -> ssl.SSLContext:
        """A client context that accepts any server certificate, only to *read* it and say what
        is wrong with it after a refused handshake; never used to exchange data."""
        ctx = client_context(self.ca, self.cert, self.key)
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def server(self, *, client_cert_optional: bool = False) -> ssl.SSLContext:
        if self.cert is None or self.key is None:
            raise ConfigError("a listener needs its own certificate and key")
        return server_context(
            self.ca, self.cert, self.key, client_cert_optional=client_cert_optional
        )

    def client(self) -> ssl.SSLContext:
        return client_context(self.ca, self.cert, self.key)
