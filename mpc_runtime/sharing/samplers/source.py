"""The exact random source under every sampler: uniform bits, integers and rational coins.

What it is for: :class:`RandomSource` wraps the AES-128-CTR :class:`~mpc_runtime.sharing.prg.PRG`
(keyed from ``os.urandom`` by default, or from a 16-byte seed in tests) and turns its keystream
into *exactly* distributed primitives, using integer arithmetic only:

* ``uint64`` / ``bits``: keystream words and bits, unchanged;
* ``uniform_int(k)``: uniform on ``[0, k)`` by masking to ``bitlen(k - 1)`` bits and rejecting
  values ``>= k`` (never ``% k``, which is biased unless ``k`` is a power of two); acceptance is
  above 1/2 per word, and the loop runs over the still-pending subset of the array;
* ``uniform_below(bounds)``: the same with one bound per element; bounds below 2^32 use
  Lemire's multiply-shift ("Fast Random Integer Generation in an Interval", ACM TOMACS 2019)
  with its exact rejection step, which needs half a keystream word per draw;
* ``uniform_int_big(k)``: the same for ``k`` beyond 63 bits, on Python-int object arrays
  (a rare fallback used when a rational parameter has a huge denominator);
* ``bernoulli(p)``: P(True) = p exactly for a rational ``p``: a uniform real ``U`` in [0, 1) is
  revealed 64 bits at a time and compared with the binary expansion of ``p``; the first word
  decides unless it equals the first 64 bits of ``p`` (probability 2^-64), in which case the
  next word is compared with the next 64 bits, and so on.  ``U < p`` has probability ``p``;
* ``bernoulli_ratio(num, den)``: P(True) = num_i / den per element, as ``uniform(den) < num_i``.

Draws are taken from a small pool of keystream words so that the many short rejection rounds
of the samplers do not each pay a cipher call.  The module also holds the exact-parameter
helpers shared by the samplers (:func:`as_fraction`, :func:`check_size`) and the output range
``[-NOISE_BOUND, NOISE_BOUND]`` every sampler guarantees (``NOISE_BOUND = 2**62``; noise is
added to shares in Z_2^64 by two's complement, see ``distributed.noise_as_ring``).

May import: numpy, ``fractions``, ``mpc_runtime.errors`` and ``mpc_runtime.sharing.prg``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.sharing.prg import PRG, new_seed, normalize_shape

__all__ = [
    "MAX_PARAM_BITS",
    "NOISE_BOUND",
    "BoolArray",
    "I64Array",
    "RandomSource",
    "as_fraction",
    "check_count",
    "check_size",
    "rational_param",
]

I64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
U64Array = npt.NDArray[np.uint64]
ObjArray = npt.NDArray[np.object_]

NOISE_BOUND = 2**62
MAX_PARAM_BITS = 62
_INT64_SAFE = 2**62
_POOL_WORDS = 1 << 14
_TWO64 = 1 << 64
_TWO32 = 1 << 32
_LOW32 = np.uint64(_TWO32 - 1)


def as_fraction(value: Any, name: str) -> Fraction:
    """``value`` as an exact Fraction: int, Fraction, Decimal, or a decimal / ``a/b`` string.

    Floats are refused: their binary value is rarely the decimal the caller meant, and a
    sampler parameter must be exactly the number the privacy analysis used.
    """
    if isinstance(value, bool):
        raise UsageError(f"{name} must be a number, not a bool")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | np.integer):
        return Fraction(int(value))
    if isinstance(value, float | np.floating):
        raise UsageError(
            f"{name} must be exact: pass an int, a Fraction or a decimal string, not a float"
        )
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise UsageError(f"{name} is not a decimal or 'a/b' string") from None
    ratio = getattr(value, "as_integer_ratio", None)  # decimal.Decimal
    if callable(ratio):
        try:
            num, den = ratio()
        except (ValueError, OverflowError):
            raise UsageError(f"{name} must be finite") from None
        return Fraction(num, den)
    kind = type(value).__name__
    raise UsageError(f"{name} must be an int, Fraction or decimal string, not {kind}")


def rational_param(
    value: Any, name: str, *, low: Fraction | int = 0, strict: bool = False
) -> Fraction:
    """An exact parameter ``>= low`` (``> low`` if ``strict``) with numerator and denominator
    below ``2**MAX_PARAM_BITS``, so all sampler arithmetic stays in int64."""
    frac = as_fraction(value, name)
    if frac < low or (strict and frac == low):
        raise UsageError(f"{name} must be {'>' if strict else '>='} {low}")
    if abs(frac.numerator) >= 2**MAX_PARAM_BITS or frac.denominator >= 2**MAX_PARAM_BITS:
        raise UsageError(
            f"{name} needs a numerator and denominator below 2**{MAX_PARAM_BITS}; "
            "round it in the safe direction first (see samplers.calibrate)"
        )
    return frac


def check_count(value: Any, name: str, *, low: int = 0, high: int = NOISE_BOUND) -> int:
    """An integer parameter in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UsageError(f"{name} must be an int, not {type(value).__name__}")
    v = int(value)
    if not low <= v <= high:
        raise UsageError(f"{name} must lie in [{low}, {high}]")
    return v


def check_size(size: Any) -> tuple[tuple[int, ...], int]:
    """The output shape for ``size`` (an int or a tuple) and its element count."""
    try:
        shape = normalize_shape(size)
    except LocalProtocolError as exc:
        raise UsageError(f"size: {exc.message}") from None
    count = 1
    for d in shape:
        count *= d
    if count > 2**40:
        raise UsageError("size is too large")
    return shape, count


class RandomSource:
    """Exact uniform primitives over the AES-128-CTR keystream (see the module docstring).

    ``seed`` (16 bytes) makes the stream reproducible for tests; leave it ``None`` in
    production so the key comes from ``os.urandom``.  Not thread-safe.  The repr shows only
    how many keystream bytes were consumed, never the key.
    """

    __slots__ = ("_pool", "_pos", "_prg")

    def __init__(self, seed: bytes | None = None) -> None:
        self._prg = PRG(new_seed() if seed is None else seed)
        self._pool: U64Array = np.empty(0, dtype=np.uint64)
        self._pos = 0

    def __repr__(self) -> str:
        return f"RandomSource(consumed={self._prg.consumed} bytes)"

    @property
    def consumed(self) -> int:
        """Keystream bytes drawn from the PRG so far (including the unused pool)."""
        return self._prg.consumed

    # -- raw keystream -------------------------------------------------------------------
    def uint64(self, n: int) -> U64Array:
        """``n`` uniform 64-bit words: a flat writable array no later draw shares."""
        if n >= _POOL_WORDS // 4:
            return self._prg.uint64(n)
        if self._pos + n > self._pool.size:
            self._pool = self._prg.uint64(_POOL_WORDS)
            self._pos = 0
        out = self._pool[self._pos : self._pos + n]
        self._pos += n
        return out

    def bits(self, n: int) -> BoolArray:
        """``n`` uniform bits as a flat bool array."""
        words = self.uint64((n + 63) // 64)
        raw = np.unpackbits(words.view(np.uint8), count=n, bitorder="little")
        return raw.astype(bool)

    def int_bits(self, nbits: int) -> int:
        """One uniform integer in ``[0, 2**nbits)`` as a Python int."""
        if nbits <= 0:
            return 0
        words = self.uint64((nbits + 63) // 64).tolist()
        value = 0
        for w in words:
            value = (value << 64) | int(w)
        return value >> (64 * len(words) - nbits)

    # -- uniform integers ----------------------------------------------------------------
    def uniform_int(self, k: int, n: int) -> I64Array:
        """``n`` exact uniform draws from ``[0, k)`` for ``1 <= k <= 2**63``."""
        if not 1 <= k <= 2**63:
            raise LocalProtocolError("uniform_int needs 1 <= k <= 2**63")
        if k == 1:
            return np.zeros(n, dtype=np.int64)
        shift = np.uint64(64 - (k - 1).bit_length())
        bound = np.uint64(k)
        words = self.uint64(n) >> shift
        out = words.astype(np.int64)
        pending = np.flatnonzero(words >= bound)
        while pending.size:
            w = self.uint64(pending.size) >> shift
            ok = w < bound
            out[pending[ok]] = w[ok].astype(np.int64)
            pending = pending[~ok]
        return out

    def uniform_below(self, bounds: I64Array) -> I64Array:
        """One exact uniform draw from ``[0, bounds[i])`` per element (bounds >= 1, int64)."""
        b = np.asarray(bounds, dtype=np.int64).ravel()
        if b.size and int(b.min()) < 1:
            raise LocalProtocolError("uniform_below needs bounds >= 1")
        if b.size and int(b.max()) < _TWO32:
            out = self._below_32(b.astype(np.uint64))
        else:
            out = self._below_masked(b)
        return out.reshape(np.shape(bounds))

    def _below_32(self, m: U64Array) -> I64Array:
        """Bounds below 2^32: Lemire's multiply-shift with exact rejection.

        x = u m for a uniform 32-bit u; x >> 32 is the draw, rejected when the low half of x
        is below (2^32 - m) mod m, which leaves exactly floor(2^32 / m) words per value.
        """
        thresh = (np.uint64(_TWO32) - m) % m
        x = self._uint32(m.size) * m
        pending = np.flatnonzero((x & _LOW32) < thresh)
        while pending.size:
            y = self._uint32(pending.size) * m[pending]
            ok = (y & _LOW32) >= thresh[pending]
            x[pending[ok]] = y[ok]
            pending = pending[~ok]
        return (x >> np.uint64(32)).view(np.int64)

    def _uint32(self, n: int) -> U64Array:
        """``n`` uniform 32-bit values in a uint64 array (two per keystream word)."""
        return self.uint64((n + 1) // 2).view(np.uint32)[:n].astype(np.uint64)

    def _below_masked(self, b: I64Array) -> I64Array:
        """Any int64 bounds: mask to the bit length of bound - 1 and reject values >= bound."""
        # frexp's exponent of float(b - 1) is >= bitlen(b - 1) (rounding never goes below a
        # power of two), so the mask may be one bit wide but never too narrow.
        exps = np.frexp((b - 1).astype(np.float64))[1]
        shift = (64 - np.maximum(exps, 1)).astype(np.uint64)
        ubound = b.astype(np.uint64)
        words = self.uint64(b.size) >> shift
        pending = np.flatnonzero(words >= ubound)
        out = words.view(np.int64)  # values below a bound < 2^63 once accepted
        while pending.size:
            w = self.uint64(pending.size) >> shift[pending]
            ok = w < ubound[pending]
            out[pending[ok]] = w[ok].view(np.int64)
            pending = pending[~ok]
        return out

    def uniform_int_big(self, k: int, n: int) -> ObjArray:
        """``n`` exact uniform draws from ``[0, k)`` for any ``k >= 1`` (Python-int objects)."""
        if k < 1:
            raise LocalProtocolError("uniform_int_big needs k >= 1")
        nbits = (k - 1).bit_length()
        nwords = max(1, (nbits + 63) // 64)
        drop = 64 * nwords - nbits
        out = np.empty(n, dtype=object)
        pending = np.arange(n)
        while pending.size:
            words = self.uint64(pending.size * nwords).reshape(pending.size, nwords)
            vals = np.zeros(pending.size, dtype=object)
            for j in range(nwords):
                vals = (vals << 64) + words[:, j].astype(object)
            vals = vals >> drop
            ok = (vals < k).astype(bool)
            out[pending[ok]] = vals[ok]
            pending = pending[~ok]
        return out

    # -- coins ---------------------------------------------------------------------------
    def bernoulli(self, p: Fraction, n: int) -> BoolArray:
        """``n`` exact Bernoulli(p) coins for a rational ``0 <= p <= 1``."""
        if not 0 <= p <= 1:
            raise LocalProtocolError("bernoulli needs 0 <= p <= 1")
        if p in {0, 1}:
            return np.full(n, p == 1, dtype=bool)
        chunk, rest = divmod(p.numerator * _TWO64, p.denominator)
        words = self.uint64(n)
        out = words < np.uint64(chunk)
        ties = np.flatnonzero(words == np.uint64(chunk))
        den = p.denominator
        while ties.size:  # U's first words equal p's first words: compare the next 64 bits
            if rest == 0:  # p's expansion ended, so U >= p
                break
            chunk, rest = divmod(rest * _TWO64, den)
            words = self.uint64(ties.size)
            out[ties[words < np.uint64(chunk)]] = True
            ties = ties[words == np.uint64(chunk)]
        return out

    def bernoulli_ratio(self, num: npt.NDArray[Any], den: int) -> BoolArray:
        """Exact coins with P(True) = num[i] / den, for integers ``0 <= num[i] <= den``."""
        if num.size == 0:
            return np.zeros(0, dtype=bool)
        if num.dtype != object and den <= _INT64_SAFE:
            return self.uniform_int(den, num.size) < num
        draws = self.uniform_int_big(den, num.size)
        return np.asarray(draws < num.astype(object), dtype=bool)
