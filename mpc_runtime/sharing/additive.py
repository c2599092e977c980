"""Additive secret sharing over Z_2^64 and XOR (bitwise) sharing.

What it is for: splitting a secret array into ``n`` shares such that any ``n - 1`` of them are
uniformly random and independent of the secret, and putting shares back together.

* arithmetic: ``secret = sum(shares) mod 2^64``; shares 0..n-2 are fresh uniform ring
  elements from :func:`mpc_runtime.sharing.prg.random_ring`, the last is ``secret - sum``.
* XOR: ``secret = xor(shares)`` on unsigned words (uint64 words, each bit its own share, or
  uint8); with ``bits_only=True`` a uint8 array of 0/1 bits gets 0/1 shares.

Everything is whole-array numpy; the only Python loop runs over the ``n`` parties.

May import: numpy, ``mpc_runtime.errors`` and the sibling modules ``ring`` and ``prg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing.prg import PRG, new_seed, random_ring

__all__ = ["reconstruct", "reconstruct_xor", "share", "share_xor"]

_XOR_DTYPES = (np.dtype(np.uint64), np.dtype(np.uint8))


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise LocalProtocolError("the number of shares must be an integer >= 2")
    return int(n)


def share(secret: npt.NDArray[np.uint64], n: int) -> list[npt.NDArray[np.uint64]]:
    """Split a uint64 ring array into ``n >= 2`` additive shares (each a new array)."""
    n = _check_n(n)
    if not isinstance(secret, np.ndarray) or secret.dtype != np.uint64:
        raise LocalProtocolError("share() needs a numpy uint64 array (encode it first)")
    # One PRG request for all n-1 random shares, then split along a new leading axis.
    rand = random_ring((n - 1, *secret.shape))
    last = np.array(secret, dtype=np.uint64, order="C", copy=True)
    # rand[i, ...] (not iteration) so a 0-d secret still yields 0-d array shares.
    others = [rand[i, ...] for i in range(n - 1)]
    for r in others:
        np.subtract(last, r, out=last)  # in-place ufuncs on arrays wrap without warnings
    return [*others, last]


def _check_shares(shares: Sequence[Any], dtypes: tuple[np.dtype[Any], ...]) -> np.dtype[Any]:
    if len(shares) == 0:
        raise LocalProtocolError("cannot reconstruct from zero shares")
    first = shares[0]
    for s in shares:
        if not isinstance(s, np.ndarray) or s.dtype not in dtypes:
            raise LocalProtocolError(
                "shares must be numpy arrays of dtype " + " or ".join(str(d) for d in dtypes)
            )
        if s.dtype != first.dtype or s.shape != first.shape:
            raise LocalProtocolError("shares differ in shape or dtype")
    dtype: np.dtype[Any] = np.dtype(first.dtype)
    return dtype


def reconstruct(shares: Sequence[npt.NDArray[np.uint64]]) -> npt.NDArray[np.uint64]:
    """Sum additive shares mod 2^64 (a new array)."""
    _check_shares(shares, (np.dtype(np.uint64),))
    out = np.array(shares[0], dtype=np.uint64, order="C", copy=True)
    for s in shares[1:]:
        np.add(out, s, out=out)
    return out


def share_xor(
    secret: npt.NDArray[Any], n: int, *, bits_only: bool = False
) -> list[npt.NDArray[Any]]:
    """Split a uint64 or uint8 array into ``n >= 2`` XOR shares of the same dtype.

    With ``bits_only=True`` the secret must be uint8 holding only 0/1 and every share is 0/1
    too (what the arithmetic/binary converters want); otherwise shares are uniform words.
    """
    n = _check_n(n)
    if not isinstance(secret, np.ndarray) or secret.dtype not in _XOR_DTYPES:
        raise LocalProtocolError("share_xor() needs a numpy uint64 or uint8 array")
    prg = PRG(new_seed())
    shape = (n - 1, *secret.shape)
    if bits_only:
        if secret.dtype != np.uint8 or bool(np.any(secret > 1)):
            raise LocalProtocolError("bits_only sharing needs a uint8 array of 0/1 bits")
        rand: npt.NDArray[Any] = prg.bits(shape)
    elif secret.dtype == np.uint64:
        rand = prg.uint64(shape)
    else:
        rand = prg.uint8(shape)
    last = np.array(secret, order="C", copy=True)
    others = [rand[i, ...] for i in range(n - 1)]
    for r in others:
        np.bitwise_xor(last, r, out=last)
    return [*others, last]


def reconstruct_xor(shares: Sequence[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """XOR shares together (uint64 or uint8, all the same dtype and shape; a new array)."""
    dtype = _check_shares(shares, _XOR_DTYPES)
    out = np.array(shares[0], dtype=dtype, order="C", copy=True)
    for s in shares[1:]:
        np.bitwise_xor(out, s, out=out)
    return out
