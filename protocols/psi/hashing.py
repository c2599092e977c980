"""Identifiers to 62-bit keys, and each party's local preparation of its set.

**The hash.**  An identifier (``str``, ``int`` or ``bytes``) is encoded canonically as a type tag
and its bytes (``b"s"`` + UTF-8 for a string, ``b"i"`` + decimal ASCII for an integer, ``b"b"``
+ the bytes), and keyed with the job-public salt::

    H(x) = SHA-256(DOMAIN || len(salt) (4 bytes, big-endian) || salt || enc(x))[0:8]
           read little-endian, AND (2^62 - 1)

so a key lies in ``[0, 2^62)`` and the difference of two keys never wraps the ring (comparisons
need that).  The salt is public (the job parameter ``salt``): it separates jobs, it is no secret.

**Collisions.**  Two distinct identifiers of *one* party that hash alike are found by that party
while it prepares its set (:class:`~mpc_runtime.errors.InputError`, naming no identifier; a
different salt fixes it).  A collision *across* parties cannot be checked without revealing
sets; it would count a pair of different identifiers as one common item.  For N identifiers in
all (the sum of the parties' declared sizes) its probability is at most
``N (N - 1) / 2 / 2^62 < N^2 / 2^63`` (:func:`collision_bound`): ``2^-29`` for 2 x 2^16,
``2^-31.8`` for 3 x 2^14, ``2^-21`` for 2 x 2^20.  Jobs refuse sizes whose bound exceeds
:data:`MAX_COLLISION` (``2^-20``).

**Local preparation** (:func:`prepare_set`): hash, sort, remove duplicates (the payloads of
repeated identifiers are added; the sum must stay inside the declared payload bounds), refuse
more distinct identifiers than the declared size, and pad to the declared size with *dummies*
``2^62 + offset_p + j`` (``offset_p``: the sum of the sizes of the parties before p) that are
larger than every key, distinct across all parties, so they never match and keep the list
sorted.  The real set size stays hidden behind the declared size.

Integers below zero are empty slots (a party process takes a fixed-shape array, so a smaller
set is padded with ``-1``).

May import: hashlib, numpy, ``mpc_runtime.errors``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError, UsageError

__all__ = [
    "DUMMY_BASE",
    "KEY_BITS",
    "MAX_COLLISION",
    "PreparedSet",
    "collision_bound",
    "encode_identifier",
    "hash_identifiers",
    "key_bound",
    "lookup",
    "offsets",
    "prepare_set",
    "salt_bytes",
]

KEY_BITS = 62
DUMMY_BASE = 2**KEY_BITS
"""Dummies are ``DUMMY_BASE + offset + j``: above every key."""
MAX_COLLISION = 2.0**-20
"""Largest accepted bound on the probability of a cross-party hash collision."""
DOMAIN = b"mpc-runtime/psi/v1/key\x00"
_MASK = np.uint64(2**KEY_BITS - 1)

I64 = npt.NDArray[np.int64]


def salt_bytes(salt: Any) -> bytes:
    """The job-public salt as bytes (a str is UTF-8); UsageError if missing or too long."""
    if isinstance(salt, str):
        raw = salt.encode()
    elif isinstance(salt, bytes):
        raw = salt
    else:
        raise UsageError("the job needs a public 'salt' parameter (a string)")
    if not 1 <= len(raw) <= 256:
        raise UsageError("the salt must be 1..256 bytes")
    return raw


def encode_identifier(item: Any) -> bytes:
    """Canonical bytes of one identifier: type tag + content (InputError for other types)."""
    if isinstance(item, str):
        return b"s" + item.encode("utf-8", "surrogatepass")
    if isinstance(item, bool):
        raise InputError("set identifiers must be strings, integers or bytes, not booleans")
    if isinstance(item, int | np.integer):
        return b"i" + str(int(item)).encode()
    if isinstance(item, bytes):
        return b"b" + item
    raise InputError(f"set identifiers must be strings, integers or bytes, not {type(item)!r}")


def keyed_digests(encoded: Sequence[bytes], salt: bytes, domain: bytes, width: int) -> bytes:
    """``SHA-256(domain || len(salt) || salt || enc)[:width]`` of every encoding, concatenated.

    hashlib has no batch call: one call per item (~1 us), no other Python work per item.
    """
    prefix = domain + len(salt).to_bytes(4, "big") + salt
    sha = hashlib.sha256
    return b"".join([sha(prefix + enc).digest()[:width] for enc in encoded])


def hash_encoded(encoded: Sequence[bytes], salt: bytes) -> npt.NDArray[np.uint64]:
    """Keys of already-encoded identifiers (see the module docstring)."""
    raw = keyed_digests(encoded, salt, DOMAIN, 8)
    keys = np.frombuffer(raw, dtype="<u8").astype(np.uint64)
    return np.bitwise_and(keys, _MASK)


def hash_identifiers(items: Iterable[Any], salt: Any) -> npt.NDArray[np.uint64]:
    """62-bit keys of ``items`` (strings, integers or bytes), in order."""
    return hash_encoded([encode_identifier(x) for x in items], salt_bytes(salt))


def collision_bound(sizes: Iterable[int]) -> float:
    """Upper bound on the probability that two different identifiers hash alike: N^2 / 2^63."""
    total = sum(int(s) for s in sizes)
    return total * (total - 1) / 2 / 2.0**KEY_BITS


def offsets(sizes: Mapping[int, int]) -> dict[int, int]:
    """Each party's dummy offset: the sum of the declared sizes of the parties before it."""
    out, acc = {}, 0
    for p in sorted(sizes):
        out[p] = acc
        acc += int(sizes[p])
    return out


def key_bound(sizes: Mapping[int, int]) -> int:
    """The largest key or dummy any party can hold."""
    return DUMMY_BASE + sum(int(s) for s in sizes.values()) - 1


@dataclass(frozen=True, repr=False)
class PreparedSet:
    """One party's sorted, de-duplicated, padded list (kept by that party only)."""

    keys: I64
    """Sorted keys, then dummies: exactly the declared size."""
    payloads: I64 | None
    """Payload per key (0 for dummies), or None."""
    count: int
    """Distinct identifiers (the real set size; private)."""
    items: list[Any]
    """The distinct identifiers in key order (``items[j]`` has key ``keys[j]``)."""
    encoded: list[bytes]
    """Their canonical encodings, in the same order."""

    def __repr__(self) -> str:
        return f"PreparedSet(size={self.keys.size})"

    @property
    def identifiers(self) -> dict[int, Any]:
        """Key -> identifier (to read revealed keys back)."""
        return dict(zip(self.keys[: self.count].tolist(), self.items, strict=True))


def _normalize(items: Any) -> tuple[list[Any], npt.NDArray[np.bool_] | None]:
    """The identifiers as a list, and which to keep (None: all); negative integers are empty."""
    if items is None:
        return [], None
    if isinstance(items, str | bytes):
        raise InputError("a set must be a list of identifiers, not a single string")
    if isinstance(items, np.ndarray) and items.dtype.kind in "iu":
        if items.ndim != 1:
            raise InputError("a set must be a 1-D list of identifiers")
        return list(items.tolist()), (items >= 0) if items.dtype.kind == "i" else None
    try:
        raw = list(items)
    except TypeError:
        raise InputError("a set must be a list of identifiers") from None
    if all(type(x) is int for x in raw):  # exactly int: bool is refused when encoding
        return raw, np.fromiter((x >= 0 for x in raw), dtype=bool, count=len(raw))
    empty = [isinstance(x, int | np.integer) and not isinstance(x, bool) and x < 0 for x in raw]
    return raw, ~np.asarray(empty, dtype=bool)


def _encode_all(raw: list[Any]) -> list[bytes]:
    if all(type(x) is int for x in raw):  # the common case, ~0.3 us per item
        return [b"i%d" % x for x in raw]
    return [encode_identifier(x) for x in raw]


def _payload_array(payloads: Any, count: int) -> I64:
    try:
        arr = np.asarray(payloads)
    except (TypeError, ValueError):
        raise InputError("payloads must be a list of integers") from None
    if arr.shape != (count,):
        raise InputError("payloads must have one integer per identifier")
    if arr.dtype.kind == "f" and bool(np.all(arr == np.round(arr))):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu" or (arr.dtype.kind == "u" and arr.size and arr.max() >= 2**63):
        raise InputError("payloads must be integers")
    return arr.astype(np.int64)


def prepare_set(
    items: Any,
    *,
    salt: Any,
    size: int,
    offset: int,
    payloads: Any = None,
    payload_bounds: tuple[int, int] | None = None,
) -> PreparedSet:
    """Hash, sort, de-duplicate and pad one party's set (see the module docstring)."""
    raw, keep = _normalize(items)
    pay = _payload_array(payloads, len(raw)) if payloads is not None else None
    if keep is not None and not keep.all():  # negative integers are empty slots
        idx = np.flatnonzero(keep)
        raw = [raw[int(k)] for k in idx]
        pay = pay[idx] if pay is not None else None
    encoded = _encode_all(raw)
    keys = hash_encoded(encoded, salt_bytes(salt)).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    first = np.ones(sk.size, dtype=bool)
    first[1:] = sk[1:] != sk[:-1]
    _check_collisions(sk, first, [encoded[int(i)] for i in order])
    uniq = sk[first]
    count = int(uniq.size)
    if count > size:
        raise InputError(f"the set has more distinct identifiers than the job allows ({size})")
    out = np.empty(size, dtype=np.int64)
    out[:count] = uniq
    out[count:] = DUMMY_BASE + offset + np.arange(size - count, dtype=np.int64)
    merged = None
    if pay is not None:
        group = np.cumsum(first) - 1
        merged = np.zeros(size, dtype=np.int64)
        np.add.at(merged, group, pay[order])
        if payload_bounds is not None and count:
            lo, hi = payload_bounds
            if int(merged[:count].min()) < lo or int(merged[:count].max()) > hi:
                raise InputError(
                    f"a payload (after adding those of repeated identifiers) is outside its"
                    f" declared bounds [{lo}, {hi}]"
                )
    pick = order[first].tolist()
    return PreparedSet(out, merged, count, [raw[i] for i in pick], [encoded[i] for i in pick])


def _check_collisions(sorted_keys: I64, first: npt.NDArray[np.bool_], enc: list[bytes]) -> None:
    """Equal keys must come from equal identifiers (else InputError without identifiers)."""
    dup = np.flatnonzero(~first)
    for k in dup.tolist():  # repeated keys only: usually none or a few
        if enc[k] != enc[k - 1]:
            raise InputError(
                "two different identifiers of this party hash to the same 62-bit key;"
                " run the job again with another salt"
            )


def lookup(keys: Iterable[int], prepared: PreparedSet) -> list[Any]:
    """This party's identifiers for revealed keys (keys it does not hold are skipped)."""
    ids = prepared.identifiers
    return [ids[k] for k in keys if k in ids]


def log2_bound(sizes: Iterable[int]) -> float:
    """``log2`` of :func:`collision_bound` (``-inf`` for fewer than two identifiers)."""
    b = collision_bound(sizes)
    return math.log2(b) if b > 0 else -math.inf
