"""The ring Z_2^64 on ``np.uint64`` arrays, and the encodings of integers and fixed point into it.

What it is for: every share in mpc-runtime is an element of Z_2^64 held in a C-contiguous
``np.uint64`` array.  numpy's uint64 array arithmetic wraps modulo 2^64, which is exactly
ring arithmetic; this module names that convention and converts user values in and out.

Signed integers are encoded in two's complement.  Inputs are restricted to
``[INT_MIN, INT_MAX] = [-2**62, 2**62 - 1]`` (``INT_BITS = 63`` bits of signed range, one bit
less than the ring): comparisons take the sign (top bit) of a difference ``x - y``, and that
difference of two values in this range always lies in ``[-2**63 + 1, 2**63 - 1]``, so it
never wraps and its top bit is its true sign.

Fixed-point numbers ``x`` are encoded as the integer ``round(x * 2**frac_bits)``, which must lie
in the same integer range.

Errors never contain a value: only counts, ranges, shapes and dtypes.

May import: numpy and ``mpc_runtime.errors`` only (no asyncio, ssl, socket).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError, LocalProtocolError, UsageError

__all__ = [
    "DEFAULT_FRAC_BITS",
    "INT_BITS",
    "INT_MAX",
    "INT_MIN",
    "MAX_FRAC_BITS",
    "RING_BITS",
    "RingArray",
    "add",
    "as_ring",
    "decode_fixed",
    "decode_int",
    "encode_fixed",
    "encode_int",
    "fixed_range",
    "mul_public",
    "neg",
    "sub",
]

RingArray = npt.NDArray[np.uint64]

RING_BITS = 64
INT_BITS = 63
INT_MIN = -(2 ** (INT_BITS - 1))
INT_MAX = 2 ** (INT_BITS - 1) - 1
DEFAULT_FRAC_BITS = 16
MAX_FRAC_BITS = 40

_RANGE_TEXT = "[-2**62, 2**62 - 1]"


def as_ring(arr: Any) -> RingArray:
    """Return ``arr`` unchanged if it is a C-contiguous ``np.uint64`` ndarray, else raise.

    Raises :class:`LocalProtocolError` (a caller bug): ring values must already be encoded.
    """
    if not isinstance(arr, np.ndarray):
        raise LocalProtocolError(f"expected a numpy uint64 array, got {type(arr).__name__}")
    if arr.dtype != np.uint64:
        raise LocalProtocolError(f"expected dtype uint64, got {arr.dtype}")
    if not arr.flags.c_contiguous:
        raise LocalProtocolError("expected a C-contiguous uint64 array")
    return arr


def _check_u64(arr: Any, what: str = "ring array") -> RingArray:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint64:
        kind = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
        raise LocalProtocolError(f"{what} must be a numpy uint64 array, got {kind}")
    return arr


def _out_of_range_error(bad: int, total: int, what: str) -> InputError:
    return InputError(f"{bad} of {total} {what} outside the integer range {_RANGE_TEXT}")


def encode_int(values: Any) -> RingArray:
    """Encode signed integers into Z_2^64 (two's complement); the shape is preserved.

    Accepts a Python int, a (nested) list of ints, or a numpy integer array.  Rejects bool,
    float, complex, string and object values with :class:`InputError`, and values outside
    ``[INT_MIN, INT_MAX]`` with an :class:`InputError` that says how many values are out of
    range (never which values).
    """
    if isinstance(values, bool | np.bool_):
        raise InputError("integer input expected, got bool")
    if isinstance(values, int):
        # A single Python int may be arbitrarily large; check before numpy sees it.
        if not INT_MIN <= values <= INT_MAX:
            raise _out_of_range_error(1, 1, "value is")
        return np.array(values, dtype=np.int64).view(np.uint64)
    arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    if arr.size == 0 and not isinstance(values, np.ndarray):
        return np.zeros(arr.shape, dtype=np.uint64)  # [] becomes float64 in numpy
    if arr.dtype == object:
        arr = _object_ints(arr)
    if arr.dtype.kind not in "iu":
        raise InputError(f"integer input expected, got dtype {arr.dtype}")
    total = arr.size
    if arr.dtype.kind == "u":
        bad = int(np.count_nonzero(arr > np.uint64(INT_MAX)))
    elif arr.dtype.itemsize >= 8:
        bad = int(np.count_nonzero((arr < INT_MIN) | (arr > INT_MAX)))
    else:
        bad = 0
    if bad:
        raise _out_of_range_error(bad, total, "values are")
    return arr.astype(np.int64, order="C").view(np.uint64)  # astype keeps 0-d shapes


def _object_ints(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Validate an object array that numpy built from Python ints too large for int64.

    This is the one path with a per-element check; it is reached only for lists holding
    integers beyond 64 bits (or mixed types), which are then nearly always out of range.
    """
    flat = arr.reshape(-1)
    is_int = np.fromiter(
        (isinstance(v, int | np.integer) and not isinstance(v, bool) for v in flat),
        dtype=bool,
        count=flat.size,
    )
    if not is_int.all():
        raise InputError("integer input expected, got values of a non-integer type")
    out_of_range = (arr < INT_MIN) | (arr > INT_MAX)
    bad = int(np.count_nonzero(out_of_range.astype(bool)))
    if bad:
        raise _out_of_range_error(bad, arr.size, "values are")
    return arr.astype(np.int64)


def decode_int(x: Any) -> npt.NDArray[np.int64]:
    """Decode ring elements to signed ``int64`` (two's complement); returns a new array."""
    arr = _check_u64(x)
    return arr.view(np.int64).copy()


def _check_frac_bits(frac_bits: Any) -> int:
    if (
        not isinstance(frac_bits, int | np.integer)
        or isinstance(frac_bits, bool)
        or not 0 <= frac_bits <= MAX_FRAC_BITS
    ):
        raise UsageError(f"frac_bits must be an integer in [0, {MAX_FRAC_BITS}]")
    return int(frac_bits)


def fixed_range(frac_bits: int = DEFAULT_FRAC_BITS) -> tuple[float, float]:
    """Return ``(lo, hi)``: the closed interval of floats :func:`encode_fixed` accepts.

    ``lo = -2**62 / 2**f`` exactly; ``hi`` is the largest float64 below ``2**62 / 2**f``
    (``2**62 - 1`` itself is not a float64, the next float down is ``2**62 - 512``).
    """
    f = _check_frac_bits(frac_bits)
    scale = float(2**f)
    lo = float(INT_MIN) / scale
    hi = float(np.nextafter(np.float64(2.0**62), np.float64(0.0))) / scale
    return lo, hi


def encode_fixed(values: Any, frac_bits: int = DEFAULT_FRAC_BITS) -> RingArray:
    """Encode reals as fixed point: ``round(x * 2**frac_bits)`` (to nearest, ties to even).

    Accepts Python/numpy numbers and arrays of int or float dtype (not bool, complex or
    object).  NaN and infinities raise :class:`InputError` ("not a finite number"); values
    whose scaled magnitude leaves ``[INT_MIN, INT_MAX]`` raise :class:`InputError` with a
    count, never the values.  ``frac_bits`` must be in ``[0, 40]`` (:class:`UsageError`).
    """
    f = _check_frac_bits(frac_bits)
    if isinstance(values, bool | np.bool_):
        raise InputError("numeric input expected, got bool")
    arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise InputError(f"numeric input expected, got dtype {arr.dtype}")
    x = arr.astype(np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        raise InputError(f"{bad} of {arr.size} values are not a finite number")
    scaled = np.rint(x * float(2**f))
    out = (scaled < float(INT_MIN)) | (scaled >= 2.0**62)
    if out.any():
        lo, hi = fixed_range(f)
        raise InputError(
            f"{int(np.count_nonzero(out))} of {arr.size} values are outside the fixed-point "
            f"range [{lo!r}, {hi!r}] for frac_bits={f}"
        )
    return scaled.astype(np.int64, order="C").view(np.uint64)


def decode_fixed(x: Any, frac_bits: int = DEFAULT_FRAC_BITS) -> npt.NDArray[np.float64]:
    """Decode fixed-point ring elements to ``float64`` (exact while |value| < 2**53)."""
    f = _check_frac_bits(frac_bits)
    return decode_int(x).astype(np.float64) / float(2**f)


def _out(*arrays: RingArray) -> RingArray:
    # Writing into an explicit array keeps 0-d results arrays (numpy scalars would warn on
    # overflow) and makes ufuncs wrap mod 2^64 silently.
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return np.empty(shape, dtype=np.uint64)


def add(x: RingArray, y: RingArray) -> RingArray:
    """``x + y`` mod 2^64."""
    return np.add(_check_u64(x), _check_u64(y), out=_out(x, y))


def sub(x: RingArray, y: RingArray) -> RingArray:
    """``x - y`` mod 2^64."""
    return np.subtract(_check_u64(x), _check_u64(y), out=_out(x, y))


def neg(x: RingArray) -> RingArray:
    """``-x`` mod 2^64."""
    arr = _check_u64(x)
    return np.subtract(np.zeros_like(arr), arr, out=_out(arr))


def mul_public(x: RingArray, k: int) -> RingArray:
    """``x * k`` mod 2^64 for a public Python integer ``k`` (any sign or size)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise LocalProtocolError(f"public multiplier must be an integer, got {type(k).__name__}")
    factor = np.uint64(int(k) % 2**RING_BITS)
    arr = _check_u64(x)
    return np.multiply(arr, factor, out=_out(arr))
