"""The value protocols compute on: one party's additive share of a ring array.

:class:`Shared` holds this party's share (``np.uint64``, Z_2^64) and the number of fractional
bits of the fixed-point encoding (0 for integers).  The local operations here cost no rounds and
no bytes: addition and subtraction of two shared values, negation, multiplication by a public
integer, and addition of a public constant (which only the first party adds to its share, so
that the shares still sum to the right value).  The repr shows shape and ``frac_bits``, never
a share.

May import: numpy, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing import ring

U64 = npt.NDArray[np.uint64]


def contig(a: Any) -> Any:
    """A C-contiguous array of ``a`` that keeps 0-d shapes (``np.ascontiguousarray`` does not)."""
    return np.asarray(a, order="C")


@dataclass(frozen=True, eq=False, repr=False)
class Shared:
    """This party's additive share of a secret ring array (``frac_bits`` > 0: fixed point)."""

    share: U64
    frac_bits: int = 0

    def __post_init__(self) -> None:
        s = self.share
        if not isinstance(s, np.ndarray) or s.dtype != np.uint64:
            raise LocalProtocolError("a Shared value needs a numpy uint64 share array")
        f = self.frac_bits
        if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < 64:
            raise LocalProtocolError("frac_bits must be an integer in [0, 63]")

    # ---- description (never the share) -----------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.share.shape)

    @property
    def size(self) -> int:
        return int(self.share.size)

    def __repr__(self) -> str:
        return f"Shared(shape={self.shape}, frac_bits={self.frac_bits})"

    __str__ = __repr__

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

    def __add__(self, other: Shared) -> Shared:
        o = self._same(other)
        return Shared(ring.add(self.share, o.share), self.frac_bits)

    def __sub__(self, other: Shared) -> Shared:
        o = self._same(other)
        return Shared(ring.sub(self.share, o.share), self.frac_bits)

    def __neg__(self) -> Shared:
        return Shared(ring.neg(self.share), self.frac_bits)

    def mul_public(self, k: int) -> Shared:
        """``self * k`` for a public integer ``k`` (frac_bits unchanged)."""
        return Shared(ring.mul_public(self.share, k), self.frac_bits)

    def add_public(self, value: Any, is_first: bool) -> Shared:
        """``self + value`` for a public ring array or int (already scaled by ``frac_bits``).

        Only the first party adds ``value``; pass ``ctx.is_first``.
        """
        if not is_first:
            return Shared(self.share.copy(), self.frac_bits)
        pub = _public_ring(value)
        return Shared(ring.add(self.share, pub), self.frac_bits)

    def reshape(self, *shape: Any) -> Shared:
        return Shared(contig(self.share.reshape(*shape)), self.frac_bits)

    def __getitem__(self, key: Any) -> Shared:
        return Shared(contig(self.share[key]), self.frac_bits)


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


def public(
    value: Any, is_first: bool, *, shape: Sequence[int] | None = None, frac_bits: int = 0
) -> Shared:
    """A sharing of a public integer ring value: the first party holds it, the others zero."""
    pub = _public_ring(value)
    if shape is not None:
        pub = np.broadcast_to(pub, tuple(shape))
    share = (
        np.array(pub, dtype=np.uint64, copy=True)
        if is_first
        else np.zeros(pub.shape, dtype=np.uint64)
    )
    return Shared(share, frac_bits)


def zeros(shape: Sequence[int], frac_bits: int = 0) -> Shared:
    """A sharing of zeros (every party holds zeros)."""
    return Shared(np.zeros(tuple(shape), dtype=np.uint64), frac_bits)


def concat(values: Sequence[Shared], axis: int = 0) -> Shared:
    """Concatenate shared arrays along ``axis`` (same frac_bits)."""
    if not values:
        raise LocalProtocolError("concat needs at least one value")
    f = values[0].frac_bits
    for v in values:
        values[0]._same(v)
    return Shared(contig(np.concatenate([v.share for v in values], axis=axis)), f)


def stack(values: Sequence[Shared], axis: int = 0) -> Shared:
    """Stack shared arrays along a new ``axis`` (same shape and frac_bits)."""
    if not values:
        raise LocalProtocolError("stack needs at least one value")
    for v in values:
        values[0]._same(v)
    return Shared(contig(np.stack([v.share for v in values], axis=axis)), values[0].frac_bits)
