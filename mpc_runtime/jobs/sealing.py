"""End-to-end sealing of an output share to an external recipient, signed by its sender.

ECIES over P-256 to the recipient's *sealing* key (a key and certificate of its own, used for
nothing else: see :data:`mpc_runtime.pki.SEALING_EKU`): a fresh ephemeral key per blob, ECDH,
HKDF-SHA256 to an AES-256-GCM key, a random 12-byte nonce.  Blob layout::

    version (1 byte) | ephemeral public key (X9.62 uncompressed, 65 bytes) | nonce (12) | ct+tag

The GCM additional data (:func:`make_aad`) binds the job id, the spec hash, the output name, the
sending party, the recipient and the recipient's fresh *run nonce* (sent when it joins), so a
relay can neither move a blob to another job, output, sender or recipient nor replay a blob from
an earlier run of the same spec.  The sender signs ``DOMAIN | SHA-256(aad) | SHA-256(blob)``
with its TLS key (ECDSA P-256; :func:`sign_blob`), so the relay cannot forge a share either: TLS
1.3 signatures carry their own context string, so a signature over our domain-separated message
can never stand in for a handshake signature, or the reverse.  The plaintext of a share
(:func:`pack_share`) is a small JSON header (shape, frac_bits, signed, divisor) followed by the raw
little-endian uint64 bytes.  Any failure to open or verify is one :class:`SealError` that says
nothing about why (no oracle, no detail leak).

May import: errors (and cryptography's hazmat primitives, numpy).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpc_runtime.errors import DecodeError, LocalProtocolError

__all__ = [
    "RUN_NONCE_BYTES",
    "VERSION",
    "SealError",
    "make_aad",
    "open_sealed",
    "pack_share",
    "seal",
    "seal_share",
    "sign_blob",
    "unpack_share",
    "verify_blob",
]

VERSION = 2
_PUB_LEN = 65
_NONCE_LEN = 12
_TAG_LEN = 16
_HEADER_LEN = 1 + _PUB_LEN + _NONCE_LEN
_INFO = b"mpc-runtime sealed share v2"
DOMAIN = b"mpc-runtime sealed output share signature v2\x00"
_HDR = struct.Struct(">H")
MAX_HEADER = 1024
RUN_NONCE_BYTES = 16
"""A recipient's run nonce: fresh from os.urandom each time it joins a job."""
MAX_NDIM = 8


class SealError(DecodeError):
    """A sealed blob could not be opened (tampered, wrong key or wrong binding)."""


def _opaque() -> SealError:
    return SealError("a sealed output share could not be opened (tampered, wrong key or binding)")


def make_aad(
    job_id: str, spec_hash: str, output: str, sender: str, recipient: str, run_nonce: bytes
) -> bytes:
    """The additional data binding a blob to its job, spec, output, sender, recipient and run."""
    fields = {
        "job": job_id,
        "spec": spec_hash,
        "output": output,
        "sender": sender,
        "recipient": recipient,
        "run": bytes(run_nonce).hex(),
        "v": VERSION,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _signed_message(blob: bytes, aad: bytes) -> bytes:
    return DOMAIN + hashlib.sha256(aad).digest() + hashlib.sha256(blob).digest()


def sign_blob(key: ec.EllipticCurvePrivateKey, blob: bytes, aad: bytes) -> bytes:
    """The sender's ECDSA signature over a sealed blob and its binding."""
    return key.sign(_signed_message(blob, aad), ec.ECDSA(hashes.SHA256()))


def verify_blob(sender_cert: Any, blob: bytes, aad: bytes, signature: bytes) -> None:
    """Check the sender's signature (its certificate's key); SealError if it does not verify."""
    try:
        key = _p256(sender_cert.public_key())
        key.verify(bytes(signature), _signed_message(bytes(blob), aad), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, LocalProtocolError, ValueError, TypeError):
        raise _opaque() from None


def _derive(shared: bytes, eph_pub: bytes, rcpt_pub: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + eph_pub + rcpt_pub
    ).derive(shared)


def _p256(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise LocalProtocolError("the recipient's certificate does not hold a P-256 key")
    return key


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def seal(recipient_cert: Any, plaintext: bytes, aad: bytes) -> bytes:
    """Seal ``plaintext`` to the P-256 public key in ``recipient_cert`` (an x509.Certificate)."""
    rcpt = _p256(recipient_cert.public_key())
    eph = ec.generate_private_key(ec.SECP256R1())
    eph_pub = _point(eph.public_key())
    key = _derive(eph.exchange(ec.ECDH(), rcpt), eph_pub, _point(rcpt))
    nonce = os.urandom(_NONCE_LEN)
    ct = AESGCM(key).encrypt(nonce, bytes(plaintext), aad)
    return bytes([VERSION]) + eph_pub + nonce + ct


def open_sealed(private_key: ec.EllipticCurvePrivateKey, blob: bytes, aad: bytes) -> bytes:
    """Open a blob sealed to ``private_key``; raises :class:`SealError` on any failure."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise _opaque()
    data = bytes(blob)
    if len(data) < _HEADER_LEN + _TAG_LEN or data[0] != VERSION:
        raise _opaque()
    eph_pub = data[1 : 1 + _PUB_LEN]
    nonce = data[1 + _PUB_LEN : _HEADER_LEN]
    try:
        eph = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), eph_pub)
        shared = private_key.exchange(ec.ECDH(), eph)
        key = _derive(shared, eph_pub, _point(private_key.public_key()))
        return AESGCM(key).decrypt(nonce, data[_HEADER_LEN:], aad)
    except (InvalidTag, ValueError, TypeError):
        raise _opaque() from None


# ---- shares --------------------------------------------------------------------------------


def pack_share(share: np.ndarray, *, frac_bits: int, signed: bool, divisor: int = 1) -> bytes:
    """``2-byte header length | JSON header | raw little-endian uint64 bytes``."""
    if not isinstance(share, np.ndarray) or share.dtype != np.uint64:
        raise LocalProtocolError("a sealed share must be a uint64 array")
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int) or not 0 <= frac_bits < 64:
        raise LocalProtocolError("frac_bits must be an int in [0, 63]")
    if isinstance(divisor, bool) or not isinstance(divisor, int) or not 1 <= divisor < 2**31:
        raise LocalProtocolError("divisor must be an int in [1, 2**31)")
    header = json.dumps(
        {
            "shape": [int(s) for s in share.shape],
            "frac_bits": frac_bits,
            "signed": bool(signed),
            "divisor": divisor,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    raw = np.ascontiguousarray(share, dtype="<u8").tobytes()
    return _HDR.pack(len(header)) + header + raw


def unpack_share(plaintext: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    """Inverse of :func:`pack_share`; raises :class:`SealError` for a malformed plaintext."""
    if len(plaintext) < _HDR.size:
        raise SealError("sealed share is malformed")
    (n,) = _HDR.unpack_from(plaintext)
    if n > MAX_HEADER or len(plaintext) < _HDR.size + n:
        raise SealError("sealed share is malformed")
    try:
        header = json.loads(plaintext[_HDR.size : _HDR.size + n])
    except (ValueError, UnicodeDecodeError):
        raise SealError("sealed share header is malformed") from None
    if not isinstance(header, dict) or set(header) != {"shape", "frac_bits", "signed", "divisor"}:
        raise SealError("sealed share header is malformed")
    shape, f, signed = header["shape"], header["frac_bits"], header["signed"]
    divisor = header["divisor"]
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        or isinstance(f, bool)
        or not isinstance(f, int)
        or not 0 <= f < 64
        or not isinstance(signed, bool)
        or isinstance(divisor, bool)
        or not isinstance(divisor, int)
        or not 1 <= divisor < 2**31
    ):
        raise SealError("sealed share header is malformed")
    raw = plaintext[_HDR.size + n :]
    count = 1
    for s in shape:
        count *= s
    if count * 8 != len(raw):
        raise SealError("sealed share length does not match its shape")
    arr = np.frombuffer(raw, dtype="<u8").astype(np.uint64).reshape(shape)
    return arr, {"shape": shape, "frac_bits": f, "signed": signed, "divisor": divisor}


def seal_share(
    recipient_cert: Any,
    share: np.ndarray,
    *,
    frac_bits: int,
    signed: bool,
    aad: bytes,
    divisor: int = 1,
) -> bytes:
    """Pack and seal one share."""
    packed = pack_share(share, frac_bits=frac_bits, signed=signed, divisor=divisor)
    return seal(recipient_cert, packed, aad)
