"""Unit tests of mpc_runtime.pki: CA, leaf certificates, CSRs, identities, key files."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from mpc_runtime import pki
from mpc_runtime.config import load_cluster
from mpc_runtime.errors import ConfigError, PeerIdentityError, UsageError
from mpc_runtime.ids import Identity

CLUSTER = "local-3"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ca() -> tuple[object, x509.Certificate]:
    return pki.make_ca(CLUSTER)


def _leaf(ca, ident=None, hosts=("127.0.0.1", "party2")):  # type: ignore[no-untyped-def]
    ca_key, ca_cert = ca
    key = pki.generate_key()
    ident = ident or Identity.party(2)
    return key, pki.issue(ca_key, ca_cert, ident, CLUSTER, key.public_key(), list(hosts))


def _cert_with_uris(ca, uris: list[str]) -> x509.Certificate:  # type: ignore[no-untyped-def]
    ca_key, ca_cert = ca
    key = pki.generate_key()
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    names.append(x509.DNSName("localhost"))
    now = ca_cert.not_valid_before_utc
    return (
        x509.CertificateBuilder()
        .subject_name(ca_cert.subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(ca_cert.not_valid_after_utc)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# ---- CA -----------------------------------------------------------------------------------


def test_ca_extensions(ca) -> None:  # type: ignore[no-untyped-def]
    _, cert = ca
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign and ku.value.crl_sign and ku.value.digital_signature
    assert not ku.value.key_encipherment and not ku.value.key_agreement
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    cert.verify_directly_issued_by(cert)  # self-signed


# ---- leaves -------------------------------------------------------------------------------


def test_leaf_verifies_against_ca_for_server_and_client(ca) -> None:  # type: ignore[no-untyped-def]
    _, leaf = _leaf(ca)
    store = Store([ca[1]])
    PolicyBuilder().store(store).build_server_verifier(x509.DNSName("party2")).verify(leaf, [])
    PolicyBuilder().store(store).build_server_verifier(x509.DNSName("localhost")).verify(leaf, [])
    PolicyBuilder().store(store).build_server_verifier(
        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    ).verify(leaf, [])
    verified = PolicyBuilder().store(store).build_client_verifier().verify(leaf, [])
    assert x509.UniformResourceIdentifier("mpc://local-3/party/2") in verified.subjects
    assert pki.verify_issued_by(leaf, ca[1])


def test_leaf_not_verified_by_other_ca(ca) -> None:  # type: ignore[no-untyped-def]
    _, leaf = _leaf(ca)
    _, other = pki.make_ca(CLUSTER)
    assert not pki.verify_issued_by(leaf, other)
    with pytest.raises(x509.verification.VerificationError):
        PolicyBuilder().store(Store([other])).build_client_verifier().verify(leaf, [])


def test_leaf_extensions(ca) -> None:  # type: ignore[no-untyped-def]
    _, leaf = _leaf(ca, hosts=["10.0.0.7", "party2.example"])
    ext = leaf.extensions
    assert not ext.get_extension_for_class(x509.BasicConstraints).value.ca
    ku = ext.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_agreement and not ku.key_cert_sign
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca[1].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"party2.example", "localhost"}
    assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} == {"10.0.0.7", "127.0.0.1"}
    cn = leaf.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    org = leaf.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)[0].value
    assert (cn, org) == ("party:2", CLUSTER)
    assert leaf.not_valid_after_utc <= ca[1].not_valid_after_utc


@pytest.mark.parametrize(
    "ident",
    [Identity.party(7), Identity.coordinator(), Identity.dealer(), Identity.recipient("analyst")],
)
def test_san_uri_round_trip(ca, ident: Identity) -> None:  # type: ignore[no-untyped-def]
    _, leaf = _leaf(ca, ident=ident, hosts=[])
    assert pki.identity_from_cert(leaf, CLUSTER) == ident
    der = leaf.public_bytes(serialization.Encoding.DER)
    assert pki.identity_from_der(der, CLUSTER) == ident


def test_identity_of_other_cluster_refused(ca) -> None:  # type: ignore[no-untyped-def]
    _, leaf = _leaf(ca)
    with pytest.raises(PeerIdentityError):
        pki.identity_from_cert(leaf, "other-cluster")


@pytest.mark.parametrize(
    "uris",
    [
        [],
        ["mpc://local-3/party/1", "mpc://local-3/party/2"],
        ["mpc://local-3/party/1", "mpc://elsewhere/party/1"],
        ["mpc://local-3/wizard/1"],
        ["https://example.com/"],
    ],
)
def test_identity_from_cert_refuses(ca, uris: list[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PeerIdentityError):
        pki.identity_from_cert(_cert_with_uris(ca, uris), CLUSTER)


def test_identity_from_der_garbage() -> None:
    with pytest.raises(PeerIdentityError):
        pki.identity_from_der(b"not a certificate", CLUSTER)
    with pytest.raises(PeerIdentityError):
        pki.identity_from_der(b"", CLUSTER)


def test_issue_refuses_bad_host_and_mismatched_ca(ca) -> None:  # type: ignore[no-untyped-def]
    key = pki.generate_key()
    with pytest.raises(UsageError):
        pki.issue(ca[0], ca[1], Identity.party(1), CLUSTER, key.public_key(), ["bad host!"])
    other_key, _ = pki.make_ca(CLUSTER)
    with pytest.raises(UsageError):
        pki.issue(other_key, ca[1], Identity.party(1), CLUSTER, key.public_key(), [])


# ---- CSRs ---------------------------------------------------------------------------------


def test_csr_flow_signs(ca) -> None:  # type: ignore[no-untyped-def]
    key = pki.generate_key()
    csr = pki.make_csr(key, Identity.party(2), CLUSTER, ["party2", "192.0.2.9"])
    cert = pki.sign_csr(ca[0], ca[1], csr, CLUSTER, Identity.party(2))
    assert pki.identity_from_cert(cert, CLUSTER) == Identity.party(2)
    assert cert.public_key() == key.public_key()
    assert pki.verify_issued_by(cert, ca[1])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "party2" in san.get_values_for_type(x509.DNSName)
    # rebuilt by issue(): our own policy extensions are present
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pki.sign_csr(ca[0], ca[1], csr, CLUSTER) is not None  # without `expected`


def test_csr_extensions_not_copied(ca) -> None:  # type: ignore[no-untyped-def]
    key = pki.generate_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("mpc://local-3/party/2")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert = pki.sign_csr(ca[0], ca[1], csr, CLUSTER)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_csr_other_cluster_refused(ca) -> None:  # type: ignore[no-untyped-def]
    csr = pki.make_csr(pki.generate_key(), Identity.party(2), "other-cluster", [])
    with pytest.raises(UsageError, match="not a valid identity"):
        pki.sign_csr(ca[0], ca[1], csr, CLUSTER)


def test_csr_not_expected_identity_refused(ca) -> None:  # type: ignore[no-untyped-def]
    csr = pki.make_csr(pki.generate_key(), Identity.party(2), CLUSTER, [])
    with pytest.raises(UsageError, match="expected party:3"):
        pki.sign_csr(ca[0], ca[1], csr, CLUSTER, Identity.party(3))


def test_csr_without_identity_refused(ca) -> None:  # type: ignore[no-untyped-def]
    key = pki.generate_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("x")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(UsageError):
        pki.sign_csr(ca[0], ca[1], csr, CLUSTER)


# ---- files --------------------------------------------------------------------------------


def test_key_file_mode_and_no_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = pki.generate_key()
    pki.write_private_key(path, key, force=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(UsageError, match="key exists; use --force"):
        pki.write_private_key(path, pki.generate_key(), force=False)
    assert path.read_bytes() == before
    loaded = pki.load_key(path)
    assert loaded.public_key() == key.public_key()
    path.chmod(0o644)
    pki.write_private_key(path, pki.generate_key(), force=True)
    assert path.read_bytes() != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cert_and_csr_files(tmp_path: Path, ca) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "c.pem"
    pki.write_cert(p, ca[1])
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert pki.load_cert(p) == ca[1]
    csr = pki.make_csr(pki.generate_key(), Identity.dealer(), CLUSTER, [])
    pki.write_csr(tmp_path / "d.csr", csr)
    assert pki.load_csr(tmp_path / "d.csr") == csr


@pytest.mark.parametrize("loader", [pki.load_cert, pki.load_key, pki.load_csr])
def test_loaders_map_errors(tmp_path: Path, loader) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match="missing.pem"):
        loader(missing)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"\x00junk")
    with pytest.raises(ConfigError, match="junk.pem"):
        loader(junk)


# ---- a whole cluster ----------------------------------------------------------------------


def _cfg(tmp_path: Path):  # type: ignore[no-untyped-def]
    text = (REPO / "party_configs" / "local-3.toml").read_text()
    text = text.replace('"../certs/local-3"', '"certs"')
    (tmp_path / "c.toml").write_text(text)
    return load_cluster(tmp_path / "c.toml")


def test_ensure_cluster_certs(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    created = pki.ensure_cluster_certs(cfg)
    assert stat.S_IMODE(cfg.cert_dir.stat().st_mode) == 0o700
    assert cfg.ca_key_path in created and cfg.ca_cert_path in created
    ca_cert = pki.load_cert(cfg.ca_cert_path)
    for ident in cfg.identities:
        assert stat.S_IMODE(cfg.key_path(ident).stat().st_mode) == 0o600
        cert = pki.load_cert(cfg.cert_path(ident))
        assert pki.identity_from_cert(cert, cfg.name) == ident
        assert pki.verify_issued_by(cert, ca_cert)
        assert cert.public_key() == pki.load_key(cfg.key_path(ident)).public_key()
    recipients = [i for i in cfg.identities if i.role.value in ("recipient", "party")]
    assert len(created) == 2 + 2 * len(cfg.identities) + 2 * len(recipients)  # + sealing pairs
    for r in recipients:
        seal = pki.load_cert(cfg.seal_cert_path(r))
        assert pki.is_sealing_cert(seal) and pki.identity_from_cert(seal, cfg.name) == r
    # second run: nothing to do, nothing changed
    before = {p: p.read_bytes() for p in created}
    assert pki.ensure_cluster_certs(cfg) == []
    assert {p: p.read_bytes() for p in created} == before
    # force one identity: new key and cert, CA kept
    p1 = Identity.party(1)
    again = pki.ensure_cluster_certs(cfg, force=True, only=[p1])
    assert again == [
        cfg.key_path(p1),
        cfg.cert_path(p1),
        cfg.seal_key_path(p1),
        cfg.seal_cert_path(p1),
    ]
    assert cfg.key_path(p1).read_bytes() != before[cfg.key_path(p1)]
    assert cfg.ca_key_path.read_bytes() == before[cfg.ca_key_path]


def test_ensure_cluster_certs_ca_offline(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    pki.ensure_cluster_certs(cfg)
    offline = tmp_path / "ca.key.offline"
    cfg.ca_key_path.rename(offline)
    assert pki.ensure_cluster_certs(cfg) == []  # nothing to sign: fine without the CA key
    cfg.cert_path(Identity.party(3)).unlink()
    with pytest.raises(ConfigError, match="CA key not present"):
        pki.ensure_cluster_certs(cfg)
    # a cert whose key lives elsewhere (CSR flow) is left alone
    cfg.key_path(Identity.party(2)).unlink()
    offline.rename(cfg.ca_key_path)
    assert pki.ensure_cluster_certs(cfg) == [cfg.cert_path(Identity.party(3))]
    assert not cfg.key_path(Identity.party(2)).exists()


def test_ensure_cluster_certs_rejects_unknown(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with pytest.raises(UsageError):
        pki.ensure_cluster_certs(cfg, only=[Identity.party(9)])
