"""Sealing output shares to a recipient's sealing key, signed by the sending party."""

from __future__ import annotations

import numpy as np
import pytest

from mpc_runtime import pki
from mpc_runtime.errors import DecodeError, LocalProtocolError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.sealing import (
    SealError,
    make_aad,
    open_sealed,
    pack_share,
    seal,
    seal_share,
    sign_blob,
    unpack_share,
    verify_blob,
)


@pytest.fixture(scope="module")
def recipient():  # type: ignore[no-untyped-def]
    ca_key, ca_cert = pki.make_ca("c")
    key = pki.generate_key()
    cert = pki.issue(
        ca_key, ca_cert, Identity.recipient("analyst"), "c", key.public_key(), [], sealing=True
    )
    assert pki.is_sealing_cert(cert)
    return key, cert


@pytest.fixture(scope="module")
def sender():  # type: ignore[no-untyped-def]
    ca_key, ca_cert = pki.make_ca("c")
    key = pki.generate_key()
    cert = pki.issue(ca_key, ca_cert, Identity.party(1), "c", key.public_key(), [])
    assert not pki.is_sealing_cert(cert)
    return key, cert


RUN = b"\x11" * 16
AAD = make_aad("job", "ab" * 32, "mean", "party:1", "recipient:analyst", RUN)


def test_roundtrip_and_format(recipient) -> None:  # type: ignore[no-untyped-def]
    key, cert = recipient
    blob = seal(cert, b"hello", AAD)
    assert blob[0] == 2 and blob[1] == 0x04  # version, uncompressed point
    assert len(blob) == 1 + 65 + 12 + 5 + 16
    assert open_sealed(key, blob, AAD) == b"hello"
    assert seal(cert, b"hello", AAD) != blob  # fresh ephemeral key and nonce


def test_share_roundtrip(recipient) -> None:  # type: ignore[no-untyped-def]
    key, cert = recipient
    share = np.array([[1, 2**64 - 1], [3, 4]], dtype=np.uint64)
    blob = seal_share(cert, share, frac_bits=16, signed=True, aad=AAD, divisor=3)
    arr, meta = unpack_share(open_sealed(key, blob, AAD))
    assert arr.dtype == np.uint64 and np.array_equal(arr, share)
    assert meta == {"shape": [2, 2], "frac_bits": 16, "signed": True, "divisor": 3}
    packed = pack_share(np.array(7, dtype=np.uint64), frac_bits=0, signed=False)
    scalar, meta = unpack_share(packed)
    assert scalar.shape == () and int(scalar) == 7 and meta["signed"] is False


@pytest.mark.parametrize("where", [0, 1, 40, 70, 78, -1])
def test_tampering_is_detected(recipient, where: int) -> None:  # type: ignore[no-untyped-def]
    key, cert = recipient
    blob = bytearray(seal(cert, b"secret-share-bytes", AAD))
    blob[where] ^= 0x01
    with pytest.raises(SealError) as info:
        open_sealed(key, bytes(blob), AAD)
    assert isinstance(info.value, DecodeError)
    assert "secret" not in str(info.value)


def test_truncated_and_garbage(recipient) -> None:  # type: ignore[no-untyped-def]
    key, cert = recipient
    blob = seal(cert, b"x", AAD)
    for bad in (b"", blob[:50], blob[:-1], b"\x01" + b"\x00" * 100):
        with pytest.raises(SealError):
            open_sealed(key, bad, AAD)


def test_wrong_key(recipient) -> None:  # type: ignore[no-untyped-def]
    _, cert = recipient
    blob = seal(cert, b"x", AAD)
    with pytest.raises(SealError):
        open_sealed(pki.generate_key(), blob, AAD)


@pytest.mark.parametrize(
    "other",
    [
        make_aad("job2", "ab" * 32, "mean", "party:1", "recipient:analyst", RUN),
        make_aad("job", "cd" * 32, "mean", "party:1", "recipient:analyst", RUN),
        make_aad("job", "ab" * 32, "total", "party:1", "recipient:analyst", RUN),
        make_aad("job", "ab" * 32, "mean", "party:2", "recipient:analyst", RUN),
        make_aad("job", "ab" * 32, "mean", "party:1", "recipient:eve", RUN),
        make_aad("job", "ab" * 32, "mean", "party:1", "recipient:analyst", b"\x22" * 16),
    ],
)
def test_wrong_binding(recipient, other: bytes) -> None:  # type: ignore[no-untyped-def]
    key, cert = recipient
    with pytest.raises(SealError):
        open_sealed(key, seal(cert, b"x", AAD), other)


def test_malformed_plaintexts() -> None:
    good = pack_share(np.arange(3, dtype=np.uint64), frac_bits=0, signed=True)
    for bad in (b"", good[:5], good[:-1], good + b"\x00" * 8, b"\x00\x02{}" + b"\x00" * 8):
        with pytest.raises(SealError):
            unpack_share(bad)
    with pytest.raises(LocalProtocolError):
        pack_share(np.arange(3, dtype=np.int64), frac_bits=0, signed=True)


def test_the_senders_signature_is_checked(recipient, sender) -> None:  # type: ignore[no-untyped-def]
    _, rcert = recipient
    skey, scert = sender
    blob = seal(rcert, b"share", AAD)
    sig = sign_blob(skey, blob, AAD)
    verify_blob(scert, blob, AAD, sig)  # fine
    forged = seal(rcert, b"other", AAD)  # anyone can seal; only the sender can sign
    with pytest.raises(SealError):
        verify_blob(scert, forged, AAD, sig)
    replay_aad = make_aad("job", "ab" * 32, "mean", "party:1", "recipient:analyst", b"\x33" * 16)
    with pytest.raises(SealError):  # an old run's blob and signature, shown in a new run
        verify_blob(scert, blob, replay_aad, sig)
    with pytest.raises(SealError):
        verify_blob(rcert, blob, AAD, sig)  # not the sender's key
    with pytest.raises(SealError):
        verify_blob(scert, blob, AAD, b"\x00" * 70)


def test_a_sealing_certificate_cannot_do_tls_and_a_tls_key_never_seals(recipient) -> None:  # type: ignore[no-untyped-def]
    _, cert = recipient
    from cryptography import x509

    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_agreement and not usage.digital_signature
