"""Refusals explained in words: TLS verify codes and alerts, and HELLO comparisons.

:func:`verify_failure` turns an ``ssl.SSLError`` into the phrase the logs and errors show: from
its X.509 verify code (9 not yet valid, 10 expired, 2/7/18/19/20/21 another CA), its verify
message, or the TLS alert name.  Besides hand-made errors, two real TLS 1.3 handshakes over
memory BIOs (no sockets) with the project's own contexts check that OpenSSL's errors carry what
the mapping reads.  :func:`compare_hello` refuses a peer of another cluster, job or spec, naming
it; :func:`refusal_error` maps an ABORT received instead of HELLO to a typed error.

May import: pytest, ssl, datetime, cryptography, :mod:`mpc_runtime.transport`,
:mod:`mpc_runtime.pki`, :mod:`mpc_runtime.wire`, :mod:`mpc_runtime.ids` and
:mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mpc_runtime import pki
from mpc_runtime.errors import (
    MPCError,
    PeerIdentityError,
    RemoteProtocolError,
    SpecMismatch,
)
from mpc_runtime.ids import Identity
from mpc_runtime.transport.connect import compare_hello, refusal_error
from mpc_runtime.transport.tls import TLSFiles, verify_failure
from mpc_runtime.wire import Abort, Hello
from mpc_runtime.wire.control import decode_hello

ANOTHER_CA = "its certificate was not issued by this cluster's CA"


def cert_error(code: int, message: str = "") -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = code
    exc.verify_message = message
    exc.reason = "CERTIFICATE_VERIFY_FAILED"
    return exc


def alert(reason: str | None) -> ssl.SSLError:
    exc = ssl.SSLError(1, "alert")
    exc.reason = reason  # type: ignore[assignment]  # OpenSSL leaves it None when unknown
    return exc


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (9, "its certificate is not valid yet"),
        (10, "its certificate has expired"),
        (2, ANOTHER_CA),
        (7, "its certificate signature does not verify against this cluster's CA"),
        (18, "its certificate is self-signed, not issued by this cluster's CA"),
        (19, ANOTHER_CA),
        (20, ANOTHER_CA),
        (21, ANOTHER_CA),
    ],
)
def test_verify_codes(code: int, phrase: str) -> None:
    assert verify_failure(cert_error(code, "openssl text")) == phrase


def test_unknown_verify_code_falls_back_to_the_verify_message() -> None:
    got = verify_failure(cert_error(26, "unsupported certificate purpose"))
    assert got == "its certificate was refused (unsupported certificate purpose)"


@pytest.mark.parametrize(
    ("reason", "phrase"),
    [
        ("SSLV3_ALERT_CERTIFICATE_EXPIRED", "it refused our certificate as expired"),
        ("TLSV1_ALERT_UNKNOWN_CA", "it refused our certificate as not issued by its CA"),
        ("SSLV3_ALERT_BAD_CERTIFICATE", "it refused our certificate"),
        ("SSLV3_ALERT_CERTIFICATE_UNKNOWN", "it refused our certificate"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "it requires a client certificate"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "it does not speak TLS 1.3"),
        ("WRONG_VERSION_NUMBER", "it does not speak TLS"),
        ("SOMETHING_NEW", "the TLS handshake failed (SOMETHING_NEW)"),
        (None, "the TLS handshake failed (SSLError)"),
    ],
)
def test_alert_names(reason: str | None, phrase: str) -> None:
    assert verify_failure(alert(reason)) == phrase


# ---- real handshakes (memory BIOs, the project's TLS contexts) ------------------------------


CA = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


def _expired_copy(cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """``cert`` re-signed by its CA with a validity that ended yesterday."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now - dt.timedelta(days=1))
    )
    for ext in cert.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(ca_key, hashes.SHA256())


def _write_identity(
    d: Path, stem: str, ca: CA, ident: Identity, *, expired: bool = False
) -> TLSFiles:
    ca_key, ca_cert = ca
    key = pki.generate_key()
    cert = pki.issue(ca_key, ca_cert, ident, "c", key.public_key(), ["localhost"])
    if expired:
        cert = _expired_copy(cert, ca_key)
    pki.write_private_key(d / f"{stem}.key", key, force=False)
    pki.write_cert(d / f"{stem}.crt", cert)
    pki.write_cert(d / f"{stem}-ca.crt", ca_cert)
    return TLSFiles(d / f"{stem}-ca.crt", d / f"{stem}.crt", d / f"{stem}.key")


def _handshake(
    client: ssl.SSLContext, server: ssl.SSLContext
) -> tuple[ssl.SSLError | None, ssl.SSLError | None]:
    """Run a TLS handshake between two memory BIO endpoints; each side's error (or None)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    sides = {
        "c": client.wrap_bio(c_in, c_out, server_side=False),
        "s": server.wrap_bio(s_in, s_out, server_side=True),
    }
    errors: dict[str, ssl.SSLError | None] = {"c": None, "s": None}
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, obj in sides.items():
            if done[name] or errors[name] is not None:
                continue
            try:
                obj.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                errors[name] = exc
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if all(done[k] or errors[k] is not None for k in sides):
            break
    return errors["c"], errors["s"]


def _ca() -> CA:
    return pki.make_ca("c")


def test_real_handshake_with_a_server_of_another_ca(tmp_path: Path) -> None:
    ours, theirs = _ca(), _ca()
    server = _write_identity(tmp_path, "server", theirs, Identity.party(2))
    client = _write_identity(tmp_path, "client", ours, Identity.party(1))
    c_err, s_err = _handshake(client.client(), server.server())
    assert isinstance(c_err, ssl.SSLCertVerificationError)
    assert verify_failure(c_err) == ANOTHER_CA
    assert s_err is not None
    assert verify_failure(s_err) == "it refused our certificate as not issued by its CA"


def test_real_handshake_with_an_expired_server_certificate(tmp_path: Path) -> None:
    ca = _ca()
    server = _write_identity(tmp_path, "server", ca, Identity.party(2), expired=True)
    client = _write_identity(tmp_path, "client", ca, Identity.party(1))
    c_err, s_err = _handshake(client.client(), server.server())
    assert c_err is not None
    assert verify_failure(c_err) == "its certificate has expired"
    assert s_err is not None
    assert verify_failure(s_err) == "it refused our certificate as expired"


def test_real_handshake_between_good_certificates(tmp_path: Path) -> None:
    ca = _ca()
    server = _write_identity(tmp_path, "server", ca, Identity.party(2))
    client = _write_identity(tmp_path, "client", ca, Identity.party(1))
    assert _handshake(client.client(), server.server()) == (None, None)


# ---- HELLO comparison and refusals ---------------------------------------------------------

P3 = Identity.party(3)


def test_compare_hello_accepts_the_same_cluster_job_and_spec() -> None:
    check = compare_hello(Hello("c", "job-1", "a" * 64))
    check(P3, Hello("c", "job-1", "a" * 64))
    compare_hello(Hello("c"))(P3, Hello("c", "any-job", "any-spec"))  # nothing to compare


def test_compare_hello_refuses_another_cluster() -> None:
    with pytest.raises(PeerIdentityError, match="another cluster") as info:
        compare_hello(Hello("c", "job"))(P3, Hello("other", "job"))
    assert info.value.peer == "party:3"


@pytest.mark.parametrize(
    ("theirs", "field"),
    [
        (Hello("c", "job-2", "a" * 64), "job"),
        (Hello("c", "job-1", "b" * 64), "spec"),
        (Hello("c", "", "a" * 64), "job"),
        (Hello("c", "job-1", ""), "spec"),
    ],
)
def test_compare_hello_refuses_another_job_or_spec(theirs: Hello, field: str) -> None:
    with pytest.raises(SpecMismatch) as info:
        compare_hello(Hello("c", "job-1", "a" * 64))(P3, theirs)
    err = info.value
    assert err.peer == err.culprit == "party:3"
    assert f"{field}:" in err.message
    assert "party:3" in err.message
    assert len(err.message) < 200  # hashes are cut short


def test_a_hello_with_a_null_job_is_refused_cleanly() -> None:
    with pytest.raises(MPCError):
        theirs = decode_hello({"cluster": "c", "job": None})
        compare_hello(Hello("c", "job-1"))(P3, theirs)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("spec-mismatch", SpecMismatch),
        ("identity", PeerIdentityError),
        ("anything-else", RemoteProtocolError),
    ],
)
def test_refusal_error(code: str, cls: type[MPCError]) -> None:
    err = refusal_error(P3, Abort(code, "your spec differs"))
    assert type(err) is cls
    assert err.peer == "party:3"
    assert err.message == "party:3 refused the connection: your spec differs"
