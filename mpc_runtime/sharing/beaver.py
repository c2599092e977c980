"""Beaver's multiplication-triple algebra, for arithmetic (Z_2^64) and binary (XOR) shares.

D. Beaver, "Efficient Multiparty Protocols Using Circuit Randomization", CRYPTO 1991.

What it is for: the local computations around one multiplication round.  Given shares of
``x``, ``y`` and of a preprocessed triple ``(a, b, c)`` with ``c = a * b``, each party computes
masked values with :func:`mask_pair`, the parties open ``d = x - a`` and ``e = y - b`` (the
runtime's job, not this module's), and each party finishes with :func:`finish_mul`:

    z_i = c_i + d * b_i + e * a_i   (+ d * e on exactly one party, ``first=True``)

so that ``sum z_i = x * y mod 2^64``.  The binary variant is the same over GF(2) bitwise on
whole uint64 words (every bit an independent AND): ``d = x ^ a``, ``e = y ^ b`` and
``z_i = c_i ^ (d & b_i) ^ (e & a_i)`` (``^ (d & e)`` on the first party) gives ``x & y``.

All functions are pure, vectorized and allocate fresh arrays.

May import: numpy and ``mpc_runtime.errors`` only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError

__all__ = ["finish_and", "finish_mul", "mask_both", "mask_pair", "mask_pair_xor"]

U64 = npt.NDArray[np.uint64]


def _check(*arrays: Any) -> None:
    shape = None
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype != np.uint64:
            raise LocalProtocolError("Beaver operands must be numpy uint64 arrays")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise LocalProtocolError("Beaver operands differ in shape")


def _new(like: U64) -> U64:
    return np.empty(like.shape, dtype=np.uint64)


def mask_pair(x: U64, y: U64, a: U64, b: U64) -> tuple[U64, U64]:
    """This party's shares of ``d = x - a`` and ``e = y - b`` (to be opened)."""
    _check(x, y, a, b)
    return np.subtract(x, a, out=_new(x)), np.subtract(y, b, out=_new(y))


def mask_both(x: U64, y: U64, a: U64, b: U64) -> U64:
    """``d = x - a`` and ``e = y - b`` written straight into one ``(2, *shape)`` array (one
    message, no stacking copy)."""
    _check(x, y, a, b)
    out = np.empty((2, *x.shape), dtype=np.uint64)
    np.subtract(x, a, out=out[0])
    np.subtract(y, b, out=out[1])
    return out


def finish_mul(d: U64, e: U64, a: U64, b: U64, c: U64, first: bool) -> U64:  # noqa: PLR0917
    """This party's share of ``x * y`` from the opened ``d``, ``e`` and its triple shares."""
    _check(d, e, a, b, c)
    # Explicit out= arrays: ufuncs on arrays wrap mod 2^64 silently, and 0-d inputs stay arrays.
    if first:  # d * b + d * e as d * (b + e): two products instead of three
        z = np.add(b, e, out=_new(d))
        np.multiply(d, z, out=z)
    else:
        z = np.multiply(d, b, out=_new(d))
    z += c
    t = np.multiply(e, a, out=_new(e))
    z += t
    return z


def mask_pair_xor(x: U64, y: U64, a: U64, b: U64) -> tuple[U64, U64]:
    """This party's XOR shares of ``d = x ^ a`` and ``e = y ^ b`` (to be opened)."""
    _check(x, y, a, b)
    return np.bitwise_xor(x, a, out=_new(x)), np.bitwise_xor(y, b, out=_new(y))


def finish_and(d: U64, e: U64, a: U64, b: U64, c: U64, first: bool) -> U64:  # noqa: PLR0917
    """This party's XOR share of ``x & y`` (bitwise on uint64 words) from an AND triple."""
    _check(d, e, a, b, c)
    z = np.bitwise_and(d, b, out=_new(d))
    z ^= c
    z ^= np.bitwise_and(e, a, out=_new(e))
    if first:
        z ^= np.bitwise_and(d, e, out=_new(d))
    return z
