"""Base OTs: Chou-Orlandi "The Simplest Protocol for Oblivious Transfer" over P-256, all pairs.

Follows Chou and Orlandi, LATINCRYPT 2015, as a random OT giving 16-byte seeds (semi-honest).
For every ordered pair (S, R) -- S the *base-OT sender*, R the base-OT receiver with 128 choice
bits c_l -- and every l < 128:

1. S picks a, sends ``A = aG`` (one point per pair);
2. R picks b_l, sends ``B_l = b_l G + c_l A``; R's key is ``k_{c_l} = H(l, A, B_l, b_l A)``;
3. S derives ``k0_l = H(l, A, B_l, a B_l)`` and ``k1_l = H(l, A, B_l, a (B_l - A))``.

``a B_l`` and ``b_l A`` are computed by ECDH in ``cryptography`` (which gives the x-coordinate,
enough as hash input); ``b_l G`` by ``derive_private_key``; the one point addition per OT (and one
subtraction on S) in plain Python integers with affine formulas.  Every received point is
validated by ``EllipticCurvePublicKey.from_encoded_point`` (on the curve, not the identity).
H is SHA-256 over a domain-separated transcript (tag, S, R, l, A, B_l, x) cut to 16 bytes; A is
fresh per session and pair, which makes the transcript unique per session.

In OT extension the roles flip: the IKNP *receiver* of ordered pair (i -> j) is the base-OT
sender.  :func:`base_ots` runs every ordered pair at once, both directions per unordered pair:
**2 rounds** in all.  Bytes per ordered pair: 65 (A) + 128 * 65 = 8385 (the B_l, uncompressed).

May import: ``cryptography``, hashlib/secrets, :mod:`mpc_runtime.errors` and ``.exchange``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError

from .exchange import Exchanger, check_bytes, peer_label

__all__ = ["BASE_OTS", "POINT_BYTES", "BaseOTResult", "base_ots"]

BASE_OTS = 128
POINT_BYTES = 65
_CURVE = ec.SECP256R1()
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_A = _P - 3
_DOMAIN = b"mpc-runtime/ot/base/chou-orlandi/p256/v1"

Point = tuple[int, int]

BaseOTResult = tuple[dict[int, list[bytes]], dict[int, tuple[list[bytes], list[bytes]]]]
"""(as receiver: per peer the 128 keys k_{c_l}; as sender: per peer the seed lists k0, k1)."""


def _encode(x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _point(key: ec.EllipticCurvePublicKey) -> Point:
    nums = key.public_numbers()
    return nums.x, nums.y


def _add(p1: Point, p2: Point) -> Point | None:
    """Affine P-256 addition; None for the point at infinity."""
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return None
        lam = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (lam * lam - x1 - x2) % _P
    return x3, (lam * (x1 - x3) - y1) % _P


def _load(data: bytes, peer: int, what: str) -> ec.EllipticCurvePublicKey:
    """A peer's encoded point as a validated public key, else a RemoteProtocolError."""
    if data[:1] != b"\x04":
        raise RemoteProtocolError(
            f"{peer_label(peer)} sent a non-uncompressed point for {what}", peer=peer_label(peer)
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, data)
    except ValueError:
        raise RemoteProtocolError(
            f"{peer_label(peer)} sent an invalid P-256 point for {what}", peer=peer_label(peer)
        ) from None


def _kdf(sender: int, receiver: int, index: int, a_enc: bytes, b_enc: bytes, x: bytes) -> bytes:
    h = hashlib.sha256()
    h.update(_DOMAIN)
    h.update(sender.to_bytes(8, "big") + receiver.to_bytes(8, "big") + index.to_bytes(4, "big"))
    h.update(a_enc + b_enc + x)
    return h.digest()[:16]


def _scalar() -> int:
    return secrets.randbelow(_N - 1) + 1


def _receiver_round(me: int, peer: int, a_enc: bytes, choices: bytes) -> tuple[bytes, list[bytes]]:
    """As base-OT receiver of ``peer`` with 128 choice bits: (B_0..B_127 encoded, our keys)."""
    a_key = _load(a_enc, peer, "base-OT A")
    a_pt = _point(a_key)
    out = bytearray()
    keys = []
    for index in range(BASE_OTS):
        b = ec.derive_private_key(_scalar(), _CURVE)
        b_pt = _point(b.public_key())
        if (choices[index // 8] >> (index % 8)) & 1:
            summed = _add(b_pt, a_pt)
            if summed is None:  # b G = -A: probability 2^-256; pick again would leak nothing
                raise LocalProtocolError("base OT hit the point at infinity")
            b_enc = _encode(*summed)
        else:
            b_enc = _encode(*b_pt)
        x = b.exchange(ec.ECDH(), a_key)
        keys.append(_kdf(peer, me, index, a_enc, b_enc, x))
        out += b_enc
    return bytes(out), keys


def _sender_finish(
    me: int, peer: int, a: ec.EllipticCurvePrivateKey, a_enc: bytes, b_all: bytes
) -> tuple[list[bytes], list[bytes]]:
    """As base-OT sender to ``peer``: both seed lists from the peer's 128 points."""
    a_pt = _point(a.public_key())
    neg_a = (a_pt[0], (-a_pt[1]) % _P)
    k0, k1 = [], []
    for index in range(BASE_OTS):
        b_enc = b_all[index * POINT_BYTES : (index + 1) * POINT_BYTES]
        b_key = _load(b_enc, peer, "base-OT B")
        diff = _add(_point(b_key), neg_a)
        if diff is None:
            raise RemoteProtocolError(
                f"{peer_label(peer)} sent B = A in a base OT", peer=peer_label(peer)
            )
        d_key = ec.EllipticCurvePublicNumbers(diff[0], diff[1], _CURVE).public_key()
        k0.append(_kdf(me, peer, index, a_enc, b_enc, a.exchange(ec.ECDH(), b_key)))
        k1.append(_kdf(me, peer, index, a_enc, b_enc, a.exchange(ec.ECDH(), d_key)))
    return k0, k1


async def base_ots(
    ex: Exchanger, me: int, peers: tuple[int, ...], choices: Mapping[int, bytes]
) -> BaseOTResult:
    """128 random base OTs each way with every peer, in 2 rounds.

    ``choices[p]`` (16 bytes, LSB-first bits) are our choice bits as base-OT receiver of ``p``.
    Returns our 128 keys per peer as receiver and our two seed lists per peer as sender.
    """
    scalars = {p: ec.derive_private_key(_scalar(), _CURVE) for p in peers}
    a_encs = {p: _public_bytes(k.public_key()) for p, k in scalars.items()}
    got = await ex.exchange(dict(a_encs))
    b_msgs: dict[int, bytes] = {}
    recv_keys: dict[int, list[bytes]] = {}
    for p in peers:
        their_a = check_bytes(got.get(p), POINT_BYTES, p, "base-OT A")
        b_msgs[p], recv_keys[p] = _receiver_round(me, p, their_a, choices[p])
    got = await ex.exchange(b_msgs)
    send_keys = {}
    for p in peers:
        b_all = check_bytes(got.get(p), BASE_OTS * POINT_BYTES, p, "base-OT B points")
        send_keys[p] = _sender_finish(me, p, scalars[p], a_encs[p], b_all)
    return recv_keys, send_keys
