"""Cluster PKI: a cluster CA, per-identity keys and certificates, CSRs, and reading identities.

Every participant (party, coordinator, dealer, recipient) holds an ECDSA P-256 key and a
certificate signed by the cluster CA.  The certificate proves an :class:`~mpc_runtime.ids.Identity`
through exactly one SubjectAlternativeName URI ``mpc://<cluster>/<role>/<name>``; DNS and IP
SANs let TLS hostname checks pass for the participant's host (and for loopback).

Two ways to provision:

* all in one place — :func:`ensure_cluster_certs` makes the CA and every key and certificate;
* a private key never leaves its host — the host runs :func:`make_csr`, the CA holder runs
  :func:`sign_csr`, which validates the CSR and *rebuilds* the certificate with :func:`issue`
  (it never copies a CSR's extensions).

This is the only module that uses ``cryptography.x509``.  May import: errors, ids, config.
Never asyncio.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpc_runtime.errors import ConfigError, PeerIdentityError, UsageError
from mpc_runtime.ids import Identity, Role

if TYPE_CHECKING:
    from mpc_runtime.config import ClusterConfig

__all__ = [
    "DEFAULT_DAYS",
    "certificate_problem",
    "der_certificate_problem",
    "ensure_cluster_certs",
    "generate_key",
    "hosts_for",
    "identity_from_cert",
    "identity_from_der",
    "is_sealing_cert",
    "issue",
    "load_cert",
    "load_csr",
    "load_key",
    "make_ca",
    "make_csr",
    "sign_csr",
    "verify_issued_by",
    "write_cert",
    "write_csr",
    "write_private_key",
]

DEFAULT_DAYS = 825
SEALING_EKU = x509.ObjectIdentifier("2.25.140962530610446762055647195331713655483")
"""Extended key usage of a *sealing* certificate (a UUID-derived OID, X.667): an external
recipient's key that receives sealed output shares, or a compute party's key that receives
contributors' sealed input shares (ECDH only); it cannot authenticate a TLS connection (no
digitalSignature, no client/server auth), and a TLS key never seals."""
_BACKDATE = _dt.timedelta(minutes=5)  # tolerate small clock skew between hosts
_MAX_SAN_HOSTS = 64
_URI_SCHEME = "mpc://"
_DNS_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_NAME = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*\.?$")
_LOOPBACK_DNS = "localhost"
_LOOPBACK_IP = "127.0.0.1"


# ---- keys ---------------------------------------------------------------------------------


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _require_p256(public_key: object, what: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise UsageError(f"{what}: only ECDSA P-256 keys are accepted")
    return public_key


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _check_days(days: int) -> None:
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise UsageError(f"certificate lifetime must be 1..3650 days, got {days!r}")


# ---- the CA -------------------------------------------------------------------------------


def make_ca(
    cluster: str, days: int = DEFAULT_DAYS
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Make a self-signed cluster CA: key and certificate (path length 0: it signs leaves only)."""
    _check_days(days)
    key = generate_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{cluster} MPC cluster CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, cluster),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _check_ca(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate) -> None:
    try:
        bc = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise UsageError("the CA certificate is not a CA (BasicConstraints ca=False)")
    if (
        ca_key.public_key().public_numbers()
        != _require_p256(ca_cert.public_key(), "CA certificate").public_numbers()
    ):
        raise UsageError("the CA key does not match the CA certificate")


# ---- leaf certificates --------------------------------------------------------------------


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _DNS_NAME.match(host) or len(host) > 253:
        raise UsageError(f"invalid host name {host[:80]!r} for a certificate")
    return x509.DNSName(host.lower().rstrip("."))


def _san(identity: Identity, cluster: str, hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity.uri(cluster))]
    seen: set[x509.GeneralName] = set()
    for host in [*hosts, _LOOPBACK_DNS, _LOOPBACK_IP]:
        gn = _host_name(host)
        if gn not in seen:
            seen.add(gn)
            names.append(gn)
    if len(names) > _MAX_SAN_HOSTS + 1:
        raise UsageError(f"too many host names for one certificate (max {_MAX_SAN_HOSTS})")
    return x509.SubjectAlternativeName(names)


def _subject(identity: Identity, cluster: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, identity.label),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, cluster),
        ]
    )


def _usages(sealing: bool) -> tuple[x509.KeyUsage, x509.ExtendedKeyUsage]:
    key_usage = x509.KeyUsage(
        digital_signature=not sealing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=sealing,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    eku = (
        [SEALING_EKU]
        if sealing
        else [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    return key_usage, x509.ExtendedKeyUsage(eku)


def is_sealing_cert(cert: x509.Certificate) -> bool:
    """True for a recipient's sealing certificate (its key agrees keys; it cannot do TLS)."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return list(eku) == [SEALING_EKU]


def issue(  # noqa: PLR0917 -- positional signature agreed in the brief
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    identity: Identity,
    cluster: str,
    public_key: ec.EllipticCurvePublicKey,
    hosts: Sequence[str],
    days: int = DEFAULT_DAYS,
    *,
    sealing: bool = False,
) -> x509.Certificate:
    """Issue a leaf certificate proving ``identity`` in ``cluster`` for ``public_key``.

    ``sealing``: a recipient's sealing certificate (key agreement only, the sealing EKU) instead
    of a TLS certificate.  The lifetime is capped at the CA's own expiry.  Raises UsageError for a
    bad host name, a non-P-256 key, or a CA key that does not match the CA certificate.
    """
    _check_days(days)
    _check_ca(ca_key, ca_cert)
    pub = _require_p256(public_key, f"key for {identity.label}")
    now = _now()
    not_after = min(now + _dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    if not_after <= now:
        raise UsageError("the CA certificate has expired; make a new CA")
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    if sealing and identity.role not in (Role.RECIPIENT, Role.PARTY):
        raise UsageError("only parties and external recipients have sealing certificates")
    usage, eku = _usages(sealing)
    return (
        x509.CertificateBuilder()
        .subject_name(_subject(identity, cluster))
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(now - _BACKDATE, ca_cert.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(_san(identity, cluster, hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(eku, critical=False)
        .add_extension(aki, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def verify_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True if ``cert``'s signature was made by ``ca_cert``'s key (no time or policy checks)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# ---- CSRs ---------------------------------------------------------------------------------


def make_csr(
    key: ec.EllipticCurvePrivateKey, identity: Identity, cluster: str, hosts: Sequence[str]
) -> x509.CertificateSigningRequest:
    """A CSR asking the CA for a certificate proving ``identity`` for ``key``."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject(identity, cluster))
        .add_extension(_san(identity, cluster, hosts), critical=False)
        .sign(key, hashes.SHA256())
    )


def _mpc_uris(names: x509.SubjectAlternativeName) -> list[str]:
    return [
        u
        for u in names.get_values_for_type(x509.UniformResourceIdentifier)
        if u.lower().startswith(_URI_SCHEME)
    ]


def sign_csr(  # noqa: PLR0917 -- positional signature agreed in the brief
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    csr: x509.CertificateSigningRequest,
    cluster: str,
    expected: Identity | None = None,
    days: int = DEFAULT_DAYS,
    *,
    sealing: bool = False,
) -> x509.Certificate:
    """Validate a CSR and issue a fresh certificate for it (a sealing one with ``sealing``).

    Checks the CSR's self-signature, that its SAN holds exactly one ``mpc://`` URI naming a
    valid identity of ``cluster`` (equal to ``expected`` when given), and takes only the
    public key and the DNS/IP host names from it; everything else is rebuilt by :func:`issue`.
    Raises UsageError if the CSR is refused.  (Whether the identity is a member of the
    cluster's config is the caller's check: see ``ClusterConfig.knows``.)
    """
    if not csr.is_signature_valid:
        raise UsageError("CSR refused: its signature does not verify")
    public_key = _require_p256(csr.public_key(), "CSR refused")
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise UsageError("CSR refused: it has no SubjectAlternativeName") from None
    uris = _mpc_uris(san)
    if len(uris) != 1:
        raise UsageError(f"CSR refused: expected exactly one mpc:// URI, found {len(uris)}")
    try:
        identity = Identity.from_uri(uris[0], cluster)
    except ValueError:
        raise UsageError(
            f"CSR refused: its identity URI {uris[0][:120]!r} is not a valid identity of "
            f"cluster {cluster!r}"
        ) from None
    if expected is not None and identity != expected:
        raise UsageError(f"CSR refused: it claims {identity.label}, expected {expected.label}")
    hosts = [*san.get_values_for_type(x509.DNSName)]
    hosts += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return issue(ca_key, ca_cert, identity, cluster, public_key, hosts, days, sealing=sealing)


# ---- reading identities -------------------------------------------------------------------


def identity_from_cert(cert: x509.Certificate, cluster: str) -> Identity:
    """The identity a certificate proves: its one ``mpc://`` SAN URI, for ``cluster``.

    Does not check the signature chain (TLS does that); raises PeerIdentityError if the
    certificate has no SAN, zero or several ``mpc://`` URIs, or a URI of another cluster.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise PeerIdentityError("certificate has no SubjectAlternativeName") from None
    except ValueError:
        raise PeerIdentityError("certificate extensions could not be parsed") from None
    uris = _mpc_uris(san)
    if len(uris) != 1:
        raise PeerIdentityError(
            f"certificate must carry exactly one mpc:// identity URI, found {len(uris)}"
        )
    try:
        return Identity.from_uri(uris[0], cluster)
    except ValueError:
        raise PeerIdentityError(
            f"certificate identity {uris[0][:120]!r} is not a valid identity of cluster {cluster!r}"
        ) from None


def identity_from_der(der: bytes | None, cluster: str) -> Identity:
    """The identity proven by a DER certificate (``SSLSocket.getpeercert(binary_form=True)``)."""
    if not der:
        raise PeerIdentityError("peer presented no certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise PeerIdentityError("peer certificate could not be parsed") from None
    return identity_from_cert(cert, cluster)


def _when(t: _dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def certificate_problem(
    cert: x509.Certificate, ca_cert: x509.Certificate | None, now: _dt.datetime | None = None
) -> str | None:
    """Why TLS would refuse ``cert`` against ``ca_cert``, in words, or None if it looks valid.

    Used to explain a refused handshake: "expired on 2026-01-01 00:00 UTC", "not valid before
    ...", "not issued by this cluster's CA".
    """
    now = now or _now()
    if cert.not_valid_after_utc < now:
        return f"expired on {_when(cert.not_valid_after_utc)}"
    if cert.not_valid_before_utc > now:
        return f"not valid before {_when(cert.not_valid_before_utc)}"
    if ca_cert is not None and not verify_issued_by(cert, ca_cert):
        return "not issued by this cluster's CA"
    return None


def der_certificate_problem(der: bytes, ca_cert: x509.Certificate | None) -> str | None:
    """:func:`certificate_problem` for a DER certificate (None if it cannot be parsed)."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return "an unparsable certificate"
    return certificate_problem(cert, ca_cert)


def cert_identity_or_none(cert: x509.Certificate, cluster: str) -> Identity | None:
    """Like :func:`identity_from_cert` but None instead of raising (for listings)."""
    try:
        return identity_from_cert(cert, cluster)
    except PeerIdentityError:
        return None


# ---- files --------------------------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_private_key(path: str | Path, key: ec.EllipticCurvePrivateKey, force: bool) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM with mode 0600 from creation.

    Refuses to replace an existing file unless ``force``; never follows a symlink.
    """
    p = Path(path)
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_TRUNC if force else os.O_EXCL
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise UsageError(f"{p}: key exists; use --force to replace it") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot write key: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # an O_TRUNC'd older file may have had a wider mode
        _write_all(fd, data)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot write key: {exc.strerror}") from None
    finally:
        os.close(fd)


def _write_public(path: str | Path, data: bytes, what: str) -> None:
    p = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(p, flags, 0o644)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot write {what}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o644)
        _write_all(fd, data)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot write {what}: {exc.strerror}") from None
    finally:
        os.close(fd)


def write_cert(path: str | Path, cert: x509.Certificate) -> None:
    """Write a certificate as PEM, mode 0644 (replacing any older one)."""
    _write_public(path, cert.public_bytes(serialization.Encoding.PEM), "certificate")


def write_csr(path: str | Path, csr: x509.CertificateSigningRequest) -> None:
    """Write a CSR as PEM, mode 0644 (replacing any older one)."""
    _write_public(path, csr.public_bytes(serialization.Encoding.PEM), "CSR")


def _read(path: str | Path, what: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, expected a {what}") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read {what}: {exc.strerror}") from None


def load_cert(path: str | Path) -> x509.Certificate:
    """Load a PEM certificate; any failure is a ConfigError naming the file."""
    data = _read(path, "certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(f"{path}: not a PEM certificate") from None


def load_key(path: str | Path) -> ec.EllipticCurvePrivateKey:
    """Load an unencrypted PEM ECDSA P-256 private key; failures are ConfigErrors naming it."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ConfigError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"{path}: not an ECDSA P-256 private key")
    return key


def load_csr(path: str | Path) -> x509.CertificateSigningRequest:
    """Load a PEM CSR; any failure is a ConfigError naming the file."""
    data = _read(path, "CSR")
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError:
        raise ConfigError(f"{path}: not a PEM certificate signing request") from None


# ---- a whole cluster ----------------------------------------------------------------------


def hosts_for(cfg: ClusterConfig, identity: Identity) -> list[str]:
    """The host names an identity's certificate should carry (besides loopback)."""
    pid = identity.party_id
    if pid is not None:
        return [cfg.party(pid).host]
    if identity.role is Role.COORDINATOR:
        return [cfg.coordinator.host]
    if identity.role is Role.DEALER:
        return [(cfg.dealer or cfg.coordinator).host]
    return []


def _same_key(a: ec.EllipticCurvePublicKey, b: object) -> bool:
    return isinstance(b, ec.EllipticCurvePublicKey) and a.public_numbers() == b.public_numbers()


def _load_or_make_ca(
    cfg: ClusterConfig, created: list[Path]
) -> tuple[ec.EllipticCurvePrivateKey | None, x509.Certificate]:
    key_p, cert_p = cfg.ca_key_path, cfg.ca_cert_path
    if cert_p.exists():
        ca_cert = load_cert(cert_p)
        if not key_p.exists():
            return None, ca_cert  # the CA key is kept offline: fine until we must sign
        ca_key = load_key(key_p)
        if not _same_key(ca_key.public_key(), ca_cert.public_key()):
            raise ConfigError(f"{key_p}: CA key does not match the CA certificate {cert_p}")
        return ca_key, ca_cert
    if key_p.exists():
        raise ConfigError(
            f"{cert_p}: CA certificate missing but the CA key {key_p} exists; "
            "restore the certificate or remove the key to make a new CA"
        )
    ca_key, ca_cert = make_ca(cfg.name)
    write_private_key(key_p, ca_key, force=False)
    created.append(key_p)
    write_cert(cert_p, ca_cert)
    created.append(cert_p)
    return ca_key, ca_cert


def ensure_cluster_certs(
    cfg: ClusterConfig, force: bool = False, only: Sequence[Identity] | None = None
) -> list[Path]:
    """Make whatever keys and certificates the cluster lacks; return the paths written.

    Creates ``cert_dir`` (0700) and the CA if missing (an existing CA is always reused).  For
    each identity (or just ``only``): an existing key is kept unless ``force``; a certificate is
    (re)issued when missing, not signed by this CA, or not matching its key.  An identity whose
    certificate exists but whose key does not (it lives on its own host: the CSR flow) is left
    alone unless ``force``.  Raises ConfigError if something needs signing and the CA key is
    absent, UsageError for an identity outside the cluster.
    """
    wanted = list(cfg.identities) if only is None else list(only)
    for ident in wanted:
        if not cfg.knows(ident):
            raise UsageError(f"{ident.label} is not a participant of cluster {cfg.name!r}")
    try:
        cfg.cert_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{cfg.cert_dir}: cannot create cert_dir: {exc.strerror}") from None
    created: list[Path] = []
    ca_key, ca_cert = _load_or_make_ca(cfg, created)

    def need_ca() -> ec.EllipticCurvePrivateKey:
        if ca_key is None:
            raise ConfigError(
                f"{cfg.ca_key_path}: CA key not present; it is needed to issue certificates "
                "(bring it back from offline storage, or use `mpc certs sign`)"
            )
        return ca_key

    jobs = [(i, False) for i in wanted]
    jobs += [(i, True) for i in wanted if i.role in (Role.RECIPIENT, Role.PARTY)]
    for ident, sealing in jobs:
        key_p = cfg.seal_key_path(ident) if sealing else cfg.key_path(ident)
        cert_p = cfg.seal_cert_path(ident) if sealing else cfg.cert_path(ident)
        key: ec.EllipticCurvePrivateKey | None = None
        if force or (not key_p.exists() and not cert_p.exists()):
            signer = need_ca()  # check before writing a key we could not certify
            key = generate_key()
            write_private_key(key_p, key, force=force)
            created.append(key_p)
        elif key_p.exists():
            key = load_key(key_p)
            if cert_p.exists():
                cert = load_cert(cert_p)
                if verify_issued_by(cert, ca_cert) and _same_key(
                    key.public_key(), cert.public_key()
                ):
                    continue
            signer = need_ca()
        else:
            continue  # certificate without key: the key lives on its own host
        hosts = [] if sealing else hosts_for(cfg, ident)
        cert = issue(signer, ca_cert, ident, cfg.name, key.public_key(), hosts, sealing=sealing)
        write_cert(cert_p, cert)
        created.append(cert_p)
    return created
