"""Two-party Diffie-Hellman PSI over X25519: cardinality (shuffled) or the intersection.

The protocol (C. Meadows, IEEE S&P 1986; Huberman, Franklin, Hogg, ACM EC 1999; the shuffled
cardinality variant of De Cristofaro, Gasti, Tsudik, CANS 2012), semi-honest, between a
*receiver* R (set X, secret scalar a) that learns the output and a *sender* S (set Y, scalar b):

1. R sends ``a H(x)`` for its padded list; S sends ``b H(y)`` for its padded list in a random
   order (chunked: both compute at once).
2. S computes ``b a H(x)`` - in R's order for the intersection, or after a random permutation
   for the cardinality only - and sends the first 16 bytes of each; R computes ``a b H(y)``.
3. R matches: ``x`` is common iff ``b a H(x)`` is among the ``a b H(y)``.  With the shuffle R
   learns only how many matched; without it, which of its items did.  S learns nothing but the
   public (declared, padded) sizes.  Dummies are uniformly random points: they never match.

**Group.**  ``H(x) = SHA-256(DOMAIN || len(salt) || salt || enc(x))`` with the top bit cleared,
read as a Montgomery u-coordinate, and ``k P = X25519(k, u)`` (RFC 7748).  A u-coordinate lies on
Curve25519 or on its quadratic twist; both have a large prime-order subgroup (orders ``8 p1`` and
``4 p2``, p1, p2 ~ 2^252) and Curve25519 was chosen to be twist secure, and X25519's clamped
scalars are multiples of 8, so ``k P`` lands in the prime-order subgroup of the curve P is on.
Scalar multiplications commute (``X25519(a, X25519(b, u)) = X25519(b, X25519(a, u))``), which is
all DH-PSI needs; DDH is assumed in both subgroups, with H as a random oracle.  The x-only form
identifies P and -P, which changes nothing for equality tests.  ristretto255 would avoid the
twist argument, but PyNaCl 1.6 does not expose it, and libsodium's ristretto255 scalar
multiplication measured 70 us here against 35 us for X25519.  X25519 comes from PyNaCl
(libsodium) when the optional extra ``psi`` is installed - it releases the GIL, so ``workers``
threads use more cores - and otherwise from ``cryptography`` (already a dependency, as fast per
call here but holding the GIL); both implement RFC 7748, so the two parties may differ.  A
low-order point (probability ~2^-250 for a hash) is refused.

**Cost** (m_R, m_S items): each party ``m_R + m_S`` X25519 multiplications (~35 us each here,
one C call per element, no Python work beyond the call); **rounds** ``2 ceil(max(m_R, m_S) / c)``
for chunks of c = :data:`CHUNK` items; **bytes** R sends ``32 m_R``, S sends ``32 m_S + 16 m_R``
(32 bytes per item each way, 16 back per receiver item).  Work is yielded to the event loop
every :data:`YIELD_EVERY` points, so heartbeats keep flowing during the long local loops.

May import: asyncio, os, numpy, cryptography, nacl (optional), ``mpc_runtime.runtime``,
``mpc_runtime.sharing``, ``mpc_runtime.errors``, ``protocols.psi``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.runtime import ArraySpec, Context
from mpc_runtime.sharing.prg import random_ring
from protocols.psi.hashing import PreparedSet, keyed_digests, salt_bytes


def _load_nacl() -> Callable[[bytes, bytes], bytes] | None:
    """The optional extra "psi": X25519 from libsodium, which releases the GIL; else None."""
    try:
        import nacl.bindings
    except ImportError:  # pragma: no cover - depends on the installation
        return None
    mult: Callable[[bytes, bytes], bytes] = nacl.bindings.crypto_scalarmult
    return mult


_nacl_mult = _load_nacl()

__all__ = [
    "CHUNK",
    "DhResult",
    "backend",
    "dh_cost",
    "dh_psi",
    "hash_to_points",
    "multiply",
    "own_points",
]

CHUNK = 1 << 14
"""Points per round."""
YIELD_EVERY = 2048
"""Points multiplied between two yields to the event loop (~70 ms)."""
DOMAIN = b"mpc-runtime/psi/v1/x25519\x00"
TAG = 16
"""Bytes of each doubly blinded point sent back to the receiver (collisions ~ m^2 / 2^128)."""

U8 = npt.NDArray[np.uint8]


@dataclass(repr=False)
class DhResult:
    """What the receiver learned (the sender gets an empty result)."""

    count: int | None = None
    matched: npt.NDArray[np.bool_] | None = None
    """Per slot of the receiver's prepared list (intersection mode only)."""

    def __repr__(self) -> str:
        return "DhResult()"


def hash_to_points(encoded: Sequence[bytes], salt: bytes) -> list[bytes]:
    """32-byte u-coordinates ``H(x)`` of encoded identifiers (see the module docstring)."""
    return _as_points(keyed_digests(encoded, salt, DOMAIN, 32))


def _as_points(raw: bytes) -> list[bytes]:
    """32-byte strings with the top bit cleared (u-coordinates below 2^255)."""
    arr = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32).copy()
    arr[:, 31] &= 0x7F
    return _points(arr)


def _dummies(k: int) -> list[bytes]:
    return _as_points(os.urandom(32 * k))


def _mult_cryptography(secret: bytes, points: Sequence[bytes]) -> list[bytes]:
    key = X25519PrivateKey.from_private_bytes(secret)
    load, ex = X25519PublicKey.from_public_bytes, key.exchange
    return [ex(load(p)) for p in points]


def _mult_nacl(secret: bytes, points: Sequence[bytes]) -> list[bytes]:
    if _nacl_mult is None:  # pragma: no cover - only chosen when PyNaCl imported
        raise LocalProtocolError("PyNaCl is not installed")
    f = _nacl_mult
    return [f(secret, p) for p in points]


def backend() -> str:
    """``"pynacl"`` when the optional extra is installed (it releases the GIL), else
    ``"cryptography"``; both compute RFC 7748 X25519, so parties may differ."""
    return "pynacl" if _nacl_mult is not None else "cryptography"


async def multiply(
    secret: bytes, points: Sequence[bytes], peer: str | None = None, workers: int = 1
) -> list[bytes]:
    """``X25519(secret, p)`` for every point, in blocks of :data:`YIELD_EVERY`.

    With PyNaCl and ``workers > 1`` the blocks run on that many threads (libsodium releases the
    GIL); otherwise inline, yielding to the event loop after each block.
    """
    work = _mult_nacl if _nacl_mult is not None else _mult_cryptography
    threaded = workers > 1 and _nacl_mult is not None
    step = YIELD_EVERY * (workers if threaded else 1)
    loop = asyncio.get_running_loop()
    out: list[bytes] = []
    for start in range(0, len(points), step):
        block = points[start : start + step]
        try:
            if threaded:
                parts = [block[i::workers] for i in range(workers)]
                done = await asyncio.gather(
                    *(loop.run_in_executor(None, work, secret, part) for part in parts)
                )
                merged: list[bytes] = [b""] * len(block)
                for i, part in enumerate(done):
                    merged[i::workers] = part
                out.extend(merged)
            else:
                out.extend(work(secret, block))
                await asyncio.sleep(0)
        except (ValueError, RuntimeError):  # a small-order point (both backends)
            if peer is not None:
                raise RemoteProtocolError(
                    f"{peer} sent a point of small order", peer=peer, culprit=peer
                ) from None
            raise LocalProtocolError("an identifier hashed to a point of small order") from None
    return out


def _array(points: Sequence[bytes], width: int = 32) -> U8:
    if not points:
        return np.zeros((0, width), dtype=np.uint8)
    raw = np.frombuffer(b"".join(p[:width] for p in points), dtype=np.uint8)
    return raw.reshape(-1, width)


def _points(arr: U8) -> list[bytes]:
    raw = arr.tobytes()
    return [raw[32 * i : 32 * i + 32] for i in range(arr.shape[0])]


def _chunks(m: int) -> int:
    return max(1, -(-m // CHUNK))


def _slice(m: int, c: int) -> slice:
    return slice(min(m, c * CHUNK), min(m, (c + 1) * CHUNK))


def dh_cost(m_r: int, m_s: int) -> dict[str, int]:
    """Rounds, and payload bytes each side sends (see the module docstring)."""
    rounds = 2 * _chunks(max(m_r, m_s))
    return {"rounds": rounds, "receiver_bytes": 32 * m_r, "sender_bytes": 32 * m_s + TAG * m_r}


def own_points(mine: PreparedSet, salt: bytes) -> list[bytes]:
    """H(x) of the real items in key order, then random dummy points up to the list's size."""
    return hash_to_points(mine.encoded, salt) + _dummies(mine.keys.size - mine.count)


async def dh_psi(
    ctx: Context,
    mine: PreparedSet,
    *,
    receiver: int,
    sizes: Mapping[int, int],
    salt: str | bytes,
    cardinality_only: bool,
    workers: int = 1,
) -> DhResult:
    """Run DH-PSI between the two parties of ``ctx`` (see the module docstring).

    ``workers``: threads for the X25519 multiplications (with PyNaCl; see :func:`multiply`).
    """
    ctx = ctx.scope("dh_psi")
    if ctx.n != 2 or receiver not in ctx.parties or sorted(sizes) != sorted(ctx.parties):
        raise LocalProtocolError("DH-PSI runs between exactly two parties, one the receiver")
    me = ctx.party_id
    (other,) = ctx.peers
    if mine.keys.size != int(sizes[me]):
        raise LocalProtocolError("this party's set is not prepared for its declared size")
    secret = os.urandom(32)
    pts = own_points(mine, salt_bytes(salt))
    if me != receiver:  # the sender's order must not tell which of its items matched
        order = np.argsort(random_ring((len(pts),)), kind="stable")
        pts = [pts[int(i)] for i in order]
    peer_blinded = await _phase1(ctx, secret, pts, int(sizes[other]), other, workers)
    if me == receiver:
        res = await _receive(ctx, secret, peer_blinded, int(sizes[me]), other, workers)
        return DhResult(res.count, None) if cardinality_only else res
    if cardinality_only:
        perm = np.argsort(random_ring((len(peer_blinded),)), kind="stable")
        peer_blinded = [peer_blinded[int(i)] for i in perm]
    await _send_back(ctx, secret, peer_blinded, int(sizes[me]), other, workers)
    return DhResult()


async def _phase1(
    ctx: Context, secret: bytes, pts: list[bytes], m_other: int, other: int, workers: int
) -> list[bytes]:
    """Exchange ``k H(.)`` chunk by chunk; returns the peer's blinded points."""
    got: list[bytes] = []
    label = f"party:{other}"
    for c in range(_chunks(max(len(pts), m_other))):
        mine = await multiply(secret, pts[_slice(len(pts), c)], workers=workers)
        s = _slice(m_other, c)
        spec = ArraySpec(np.uint8, (s.stop - s.start, 32))
        recv = await ctx.exchange({other: _array(mine)}, expect=spec)
        got.extend(_points(recv[other]))
    if len(got) != m_other:  # pragma: no cover - the specs fix every chunk's size
        raise RemoteProtocolError(f"{label} sent the wrong number of points", peer=label)
    return got


async def _send_back(
    ctx: Context, secret: bytes, blinded: list[bytes], m_me: int, other: int, workers: int
) -> None:
    """Sender: ``b a H(x)`` chunk by chunk, the first TAG bytes of each."""
    m_r = len(blinded)
    for c in range(_chunks(max(m_r, m_me))):
        done = await multiply(secret, blinded[_slice(m_r, c)], f"party:{other}", workers)
        await ctx.exchange({other: _array(done, TAG)}, expect_from=())


async def _receive(
    ctx: Context, secret: bytes, blinded: list[bytes], m_me: int, other: int, workers: int
) -> DhResult:
    """Receiver: ``a b H(y)`` while the sender's tags arrive; then match."""
    m_s = len(blinded)
    ours: list[U8] = []
    tags: list[U8] = []
    for c in range(_chunks(max(m_me, m_s))):
        done = await multiply(secret, blinded[_slice(m_s, c)], f"party:{other}", workers)
        ours.append(_array(done, TAG))
        s = _slice(m_me, c)
        got = await ctx.receive(other, expect=ArraySpec(np.uint8, (s.stop - s.start, TAG)))
        tags.append(got)
    theirs_v = np.ascontiguousarray(np.concatenate(tags)).view(f"V{TAG}").ravel()
    ours_v = np.ascontiguousarray(np.concatenate(ours)).view(f"V{TAG}").ravel()
    matched = np.isin(theirs_v, ours_v)
    return DhResult(int(np.count_nonzero(matched)), matched)
