"""The value protocols compute on: one party's additive share of a ring array, with public bounds.

:class:`Shared` holds this party's share (``np.uint64``, Z_2^64), the number of fractional bits of
the fixed-point encoding (0 for integers), and public bounds ``lo <= value <= hi`` on the *encoded*
integer (the real value times ``2^frac_bits``).  Bounds come from the inputs' declared ranges and
are carried through every operation by interval arithmetic, identically on every party (they are
public: they depend on the job spec, never on a secret).  An operation whose result could leave the
ring's no-wrap range ``[-2^63, 2^63 - 1]`` raises :class:`~mpc_runtime.errors.BoundsError` before
anything is computed or sent, so a result is never silently wrapped modulo 2^64.  Protocols with a
tighter precondition (comparison needs ``x - y`` not to wrap, exact truncation ``|x| < 2^62``)
check it with :func:`require_range`.

The local operations here cost no rounds and no bytes: addition and subtraction of two shared
values, negation, multiplication by a public integer, addition of a public constant (only the first
party adds it).  The repr shows shape, ``frac_bits`` and bounds, never a share.

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`.ring`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import BoundsError, LocalProtocolError
from mpc_runtime.sharing import ring

__all__ = [
    "DEFAULT_BOUND",
    "RING_MAX",
    "RING_MIN",
    "Shared",
    "check_bounds",
    "concat",
    "contig",
    "describe",
    "floor_shift",
    "product_bounds",
    "public",
    "require_range",
    "stack",
    "zeros",
]

U64 = npt.NDArray[np.uint64]

RING_MIN = -(2**63)
RING_MAX = 2**63 - 1
DEFAULT_BOUND = 2**31 - 1
"""Bound on an input's encoded magnitude when its declaration gives none (32-bit values)."""


def contig(a: Any) -> Any:
    """A C-contiguous array of ``a`` that keeps 0-d shapes (``np.ascontiguousarray`` does not)."""
    return np.asarray(a, order="C")


def describe(value: int, frac_bits: int) -> str:
    """An encoded bound as a readable number (a real for fixed point)."""
    if frac_bits:
        return f"{value / 2**frac_bits:.6g}"
    return f"{value:.4g}" if abs(value) >= 10**6 else str(value)


def check_bounds(lo: int, hi: int, frac_bits: int, what: str) -> tuple[int, int]:
    """``(lo, hi)`` if inside the ring's no-wrap range, else a BoundsError naming ``what``."""
    if lo < RING_MIN or hi > RING_MAX:
        raise BoundsError(
            f"{what} could reach [{describe(lo, frac_bits)}, {describe(hi, frac_bits)}],"
            f" beyond the ring's safe range ±2^63 (encoded); narrow the inputs' declared bounds"
        )
    return lo, hi


def require_range(x: Shared, lo: int, hi: int, what: str) -> None:
    """A protocol's precondition: ``x``'s bounds lie in ``[lo, hi]`` (encoded), else BoundsError."""
    if x.lo < lo or x.hi > hi:
        f = x.frac_bits
        raise BoundsError(
            f"{what} needs values in [{describe(lo, f)}, {describe(hi, f)}], but its operand"
            f" could reach [{describe(x.lo, f)}, {describe(x.hi, f)}]; narrow the inputs'"
            " declared bounds"
        )


@dataclass(frozen=True, eq=False, repr=False)
class Shared:
    """This party's additive share of a secret ring array, with public bounds (encoded units)."""

    share: U64
    frac_bits: int = 0
    lo: int = ring.INT_MIN
    hi: int = ring.INT_MAX

    def __post_init__(self) -> None:
        s = self.share
        if not isinstance(s, np.ndarray) or s.dtype != np.uint64:
            raise LocalProtocolError("a Shared value needs a numpy uint64 share array")
        f = self.frac_bits
        if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < 64:
            raise LocalProtocolError("frac_bits must be an integer in [0, 63]")
        if not (isinstance(self.lo, int) and isinstance(self.hi, int)) or self.lo > self.hi:
            raise LocalProtocolError("Shared bounds must be integers with lo <= hi")
        check_bounds(self.lo, self.hi, f, "a shared value")

    # ---- description (never the share) -----------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.share.shape)

    @property
    def size(self) -> int:
        return int(self.share.size)

    @property
    def bounds(self) -> tuple[int, int]:
        return self.lo, self.hi

    def __repr__(self) -> str:
        f = self.frac_bits
        return (
            f"Shared(shape={self.shape}, frac_bits={f},"
            f" bounds=[{describe(self.lo, f)}, {describe(self.hi, f)}])"
        )

    __str__ = __repr__

    def with_bounds(self, lo: int, hi: int) -> Shared:
        """The same share with other (e.g. narrower, protocol-proven) bounds."""
        return Shared(self.share, self.frac_bits, lo, hi)

    # ---- local arithmetic (0 rounds) -------------------------------------------------------
    def _same(self, other: Any) -> Shared:
        if not isinstance(other, Shared):
            raise LocalProtocolError(
                f"expected a Shared operand, got {type(other).__name__} "
                "(use add_public / mul_public for public values)"
            )
        if other.frac_bits != self.frac_bits:
            raise LocalProtocolError(
                f"fixed-point mismatch: frac_bits {self.frac_bits} vs {other.frac_bits}"
            )
        return other

    def _new(self, share: U64, lo: int, hi: int, what: str) -> Shared:
        check_bounds(lo, hi, self.frac_bits, what)
        return Shared(share, self.frac_bits, lo, hi)

    def __add__(self, other: Shared) -> Shared:
        o = self._same(other)
        lo, hi = self.lo + o.lo, self.hi + o.hi
        check_bounds(lo, hi, self.frac_bits, "a sum")
        return self._new(ring.add(self.share, o.share), lo, hi, "a sum")

    def __sub__(self, other: Shared) -> Shared:
        o = self._same(other)
        lo, hi = self.lo - o.hi, self.hi - o.lo
        check_bounds(lo, hi, self.frac_bits, "a difference")
        return self._new(ring.sub(self.share, o.share), lo, hi, "a difference")

    def __neg__(self) -> Shared:
        return self._new(ring.neg(self.share), -self.hi, -self.lo, "a negation")

    def mul_public(self, k: int) -> Shared:
        """``self * k`` for a public integer ``k`` (frac_bits unchanged)."""
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise LocalProtocolError("public multiplier must be an integer")
        k = int(k)
        lo, hi = sorted((self.lo * k, self.hi * k))
        check_bounds(lo, hi, self.frac_bits, "a product with a public integer")
        return self._new(ring.mul_public(self.share, k), lo, hi, "a public product")

    def add_public(self, value: Any, is_first: bool) -> Shared:
        """``self + value`` for a public ring array or int (already scaled by ``frac_bits``).

        Only the first party adds ``value``; pass ``ctx.is_first``.
        """
        pub_lo, pub_hi = _public_range(value)
        lo, hi = self.lo + pub_lo, self.hi + pub_hi
        check_bounds(lo, hi, self.frac_bits, "a sum with a public value")
        if not is_first:
            return Shared(self.share.copy(), self.frac_bits, lo, hi)
        pub = _public_ring(value)
        return Shared(ring.add(self.share, pub), self.frac_bits, lo, hi)

    def sum(self, axis: int | None = None) -> Shared:
        """Local sum over ``axis`` (all elements if None): bounds grow by the count."""
        count = self.size if axis is None else self.shape[axis]
        lo, hi = self.lo * count, self.hi * count
        check_bounds(lo, hi, self.frac_bits, "a sum over an axis")
        total = contig(np.sum(self.share, axis=axis, dtype=np.uint64))
        return Shared(total, self.frac_bits, lo, hi)

    def reshape(self, *shape: Any) -> Shared:
        return Shared(contig(self.share.reshape(*shape)), self.frac_bits, self.lo, self.hi)

    def __getitem__(self, key: Any) -> Shared:
        return Shared(contig(self.share[key]), self.frac_bits, self.lo, self.hi)


def _public_ring(value: Any) -> U64:
    if isinstance(value, np.ndarray) and value.dtype == np.uint64:
        return value
    arr = np.asarray(value)
    if arr.dtype.kind == "u":
        return arr.astype(np.uint64)
    if arr.dtype.kind == "i":
        return arr.astype(np.int64).view(np.uint64)
    if arr.dtype == object:  # Python ints beyond int64: reduce mod 2^64 one by one (rare)
        return (arr % (1 << 64)).astype(np.uint64)
    raise LocalProtocolError("public constants must be integers (encode fixed point first)")


def _public_range(value: Any) -> tuple[int, int]:
    """Signed range of a public constant (uint64 arrays are read as two's complement)."""
    arr = np.asarray(value)
    if arr.size == 0:
        return 0, 0
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)
    if arr.dtype.kind not in "iu" and arr.dtype != object:
        raise LocalProtocolError("public constants must be integers (encode fixed point first)")
    return int(arr.min()), int(arr.max())


def public(
    value: Any, is_first: bool, *, shape: Sequence[int] | None = None, frac_bits: int = 0
) -> Shared:
    """A sharing of a public integer ring value: the first party holds it, the others zero."""
    pub = _public_ring(value)
    lo, hi = _public_range(value)
    if shape is not None:
        pub = np.broadcast_to(pub, tuple(shape))
    share = (
        np.array(pub, dtype=np.uint64, copy=True)
        if is_first
        else np.zeros(pub.shape, dtype=np.uint64)
    )
    return Shared(share, frac_bits, lo, hi)


def zeros(shape: Sequence[int], frac_bits: int = 0) -> Shared:
    """A sharing of zeros (every party holds zeros)."""
    return Shared(np.zeros(tuple(shape), dtype=np.uint64), frac_bits, 0, 0)


def _hull(values: Sequence[Shared]) -> tuple[int, int]:
    return min(v.lo for v in values), max(v.hi for v in values)


def concat(values: Sequence[Shared], axis: int = 0) -> Shared:
    """Concatenate shared arrays along ``axis`` (same frac_bits; bounds: their hull)."""
    if not values:
        raise LocalProtocolError("concat needs at least one value")
    for v in values:
        values[0]._same(v)
    lo, hi = _hull(values)
    share = contig(np.concatenate([v.share for v in values], axis=axis))
    return Shared(share, values[0].frac_bits, lo, hi)


def stack(values: Sequence[Shared], axis: int = 0) -> Shared:
    """Stack shared arrays along a new ``axis`` (same shape and frac_bits; bounds: their hull)."""
    if not values:
        raise LocalProtocolError("stack needs at least one value")
    for v in values:
        values[0]._same(v)
    lo, hi = _hull(values)
    return Shared(
        contig(np.stack([v.share for v in values], axis=axis)), values[0].frac_bits, lo, hi
    )


def product_bounds(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """Interval product of two (lo, hi) ranges."""
    corners = (a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1])
    return min(corners), max(corners)


def floor_shift(value: int, bits: int) -> int:
    """``floor(value / 2^bits)`` for any Python int (``>>`` floors, also for negatives)."""
    return value >> bits
