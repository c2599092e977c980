"""Seeded preprocessing material from a trusted dealer (CrypTen-style seed compression).

What it is for: the offline phase.  The dealer draws one fresh 16-byte seed per party.
Parties ``1 .. n-1`` receive only their seed; party ``0`` receives its seed plus one
*correction* array for each dependent array in the request.  Every party expands its seed
with :func:`expand`; the dealer, knowing all seeds, computed party 0's corrections so that
the shares reconstruct to correlated material (Beaver triples, random bits, ...).

A request is a list of :class:`Component` s.  Kinds and their arrays, *in PRG order*
(``*`` marks the dependent array, which party 0 takes from its corrections instead):

=========  ==========================================================  ====================
kind       arrays (dtype) in stream order                              relation (reconstructed)
=========  ==========================================================  ====================
triple     ``a`` u64, ``b`` u64, ``c*`` u64 (additive)                 ``c = a * b mod 2^64``
and        ``a`` u64, ``b`` u64, ``c*`` u64 (XOR, bitwise per word)    ``c = a & b``
rbits      ``rb`` u64 (XOR), ``r*`` u64 (additive)                     ``r = rb`` (same value)
bit        ``tb`` u8 0/1 (XOR), ``t*`` u64 (additive)                  ``t = tb`` in {0, 1}
trunc      ``r`` u64 (additive), ``r_hi*`` u64 (additive)              ``r_hi = r >> f``
=========  ==========================================================  ====================

PRG consumption order (the wire contract between dealer and parties): one
:class:`~mpc_runtime.sharing.prg.PRG` per party keyed by its seed; components are processed
in list order; within a component the arrays are drawn in the order of the table, each with
the component's shape: u64 arrays by ``PRG.uint64(shape)`` (8 bytes/element), bit arrays by
``PRG.bits(shape)`` (``ceil(size/8)`` bytes).  **Party 0 draws nothing for a dependent array**
(its stream skips it); parties ``1 .. n-1`` draw every array.  The true values are: for triple
and trunc, ``a``/``b``/``r`` are sums of all parties' shares; for and, XORs; for rbits,
``r := xor of all rb words``; for bit, ``t := xor of all tb bits``.

Security model: the dealer is trusted (it sees every value), as in CrypTen's
``TrustedThirdParty`` provider.  Seeds come from ``os.urandom``.

May import: numpy, ``mpc_runtime.errors`` and the sibling modules ``prg`` and ``ring``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.sharing.prg import PRG, SEED_BYTES, new_seed, normalize_shape

__all__ = [
    "ARRAYS",
    "DEPENDENT",
    "KINDS",
    "Component",
    "Material",
    "expand",
    "generate",
    "material_nbytes",
]

Material = dict[str, npt.NDArray[Any]]

#: The arrays of each kind in PRG order, with dtype ("u64" or "bit").
ARRAYS: dict[str, tuple[tuple[str, str], ...]] = {
    "triple": (("a", "u64"), ("b", "u64"), ("c", "u64")),
    "and": (("a", "u64"), ("b", "u64"), ("c", "u64")),
    "rbits": (("rb", "u64"), ("r", "u64")),
    "bit": (("tb", "bit"), ("t", "u64")),
    "trunc": (("r", "u64"), ("r_hi", "u64")),
}
#: The dependent array of each kind: party 0 gets it as a correction, not from its seed.
DEPENDENT: dict[str, str] = {"triple": "c", "and": "c", "rbits": "r", "bit": "t", "trunc": "r_hi"}
KINDS = frozenset(ARRAYS)

_DTYPES: dict[str, np.dtype[Any]] = {"u64": np.dtype(np.uint64), "bit": np.dtype(np.uint8)}


@dataclass(frozen=True, slots=True)
class Component:
    """One piece of a preprocessing request: ``kind`` (see the module table) and ``shape``.

    ``frac_bits`` is required for ``"trunc"`` (``0 <= frac_bits < 64``) and must be ``None``
    for every other kind.
    """

    kind: str
    shape: tuple[int, ...]
    frac_bits: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LocalProtocolError(
                f"unknown preprocessing kind {self.kind!r}; expected one of {sorted(KINDS)}"
            )
        object.__setattr__(self, "shape", normalize_shape(self.shape))
        f = self.frac_bits
        if self.kind == "trunc":
            if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < 64:
                raise LocalProtocolError("a trunc component needs frac_bits in [0, 63]")
        elif f is not None:
            raise LocalProtocolError(f"frac_bits applies only to trunc, not to {self.kind!r}")

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))


def _draw(prg: PRG, dtype: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    return prg.bits(shape) if dtype == "bit" else prg.uint64(shape)


def _draw_component(prg: PRG, comp: Component, party_index: int) -> Material:
    """Draw this party's seed-derived arrays for one component, in the documented order."""
    dep = DEPENDENT[comp.kind]
    out: Material = {}
    for name, dtype in ARRAYS[comp.kind]:
        if party_index == 0 and name == dep:
            continue
        out[name] = _draw(prg, dtype, comp.shape)
    return out


def _check_components(components: Sequence[Component]) -> None:
    for c in components:
        if not isinstance(c, Component):
            raise LocalProtocolError("a preprocessing request is a list of Component")


def _sum(
    arrays: Sequence[npt.NDArray[np.uint64]], shape: tuple[int, ...]
) -> npt.NDArray[np.uint64]:
    acc = np.zeros(shape, dtype=np.uint64)
    for a in arrays:
        np.add(acc, a, out=acc)
    return acc


def _xor(
    arrays: Sequence[npt.NDArray[Any]], shape: tuple[int, ...], dtype: Any
) -> npt.NDArray[Any]:
    acc = np.zeros(shape, dtype=dtype)
    for a in arrays:
        np.bitwise_xor(acc, a, out=acc)
    return acc


def _correction(comp: Component, drawn: list[Material]) -> npt.NDArray[Any]:
    """Party 0's dependent array, given every party's seed-derived arrays for ``comp``."""
    shape, kind = comp.shape, comp.kind
    others = drawn[1:]
    if kind == "triple":
        a = _sum([m["a"] for m in drawn], shape)
        b = _sum([m["b"] for m in drawn], shape)
        true = np.multiply(a, b, out=a)
        return np.subtract(true, _sum([m["c"] for m in others], shape), out=true)
    if kind == "and":
        a = _xor([m["a"] for m in drawn], shape, np.uint64)
        b = _xor([m["b"] for m in drawn], shape, np.uint64)
        true = np.bitwise_and(a, b, out=a)
        return np.bitwise_xor(true, _xor([m["c"] for m in others], shape, np.uint64), out=true)
    if kind == "rbits":
        r = _xor([m["rb"] for m in drawn], shape, np.uint64)
        return np.subtract(r, _sum([m["r"] for m in others], shape), out=r)
    if kind == "bit":
        t = _xor([m["tb"] for m in drawn], shape, np.uint8).astype(np.uint64)
        return np.subtract(t, _sum([m["t"] for m in others], shape), out=t)
    if kind == "trunc":
        if comp.frac_bits is None:  # enforced by Component; keeps the type checker honest
            raise LocalProtocolError("a trunc component needs frac_bits")
        r = _sum([m["r"] for m in drawn], shape)
        r_hi = np.right_shift(r, np.uint64(comp.frac_bits), out=r)
        return np.subtract(r_hi, _sum([m["r_hi"] for m in others], shape), out=r_hi)
    raise LocalProtocolError(f"unknown preprocessing kind {kind!r}")


def generate(components: Sequence[Component], n: int) -> tuple[list[bytes], list[Material]]:
    """The dealer: return ``n`` fresh seeds and party 0's corrections (one dict per component).

    Send ``seeds[i]`` to party ``i``, and the corrections to party 0 only.
    """
    _check_components(components)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LocalProtocolError("the dealer needs n >= 2 parties")
    seeds = [new_seed() for _ in range(n)]
    prgs = [PRG(s) for s in seeds]
    corrections: list[Material] = []
    for comp in components:
        drawn = [_draw_component(prg, comp, i) for i, prg in enumerate(prgs)]
        corrections.append({DEPENDENT[comp.kind]: _correction(comp, drawn)})
    return seeds, corrections


def _check_corrections(components: Sequence[Component], corrections: Sequence[Any]) -> None:
    if len(corrections) != len(components):
        raise RemoteProtocolError(
            f"dealer sent corrections for {len(corrections)} components, expected {len(components)}"
        )
    for k, (comp, corr) in enumerate(zip(components, corrections, strict=True)):
        dep = DEPENDENT[comp.kind]
        if not isinstance(corr, dict) or set(corr) != {dep}:
            raise RemoteProtocolError(f"component {k} ({comp.kind}): correction must hold {dep!r}")
        arr = corr[dep]
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint64 or arr.shape != comp.shape:
            raise RemoteProtocolError(
                f"component {k} ({comp.kind}): correction {dep!r} must be uint64 of shape "
                f"{comp.shape}"
            )


def expand(
    components: Sequence[Component],
    seed: bytes,
    party_index: int,
    corrections: Sequence[Material] | None,
) -> list[Material]:
    """This party's material: one dict of arrays per component (names as in the module table).

    Party 0 must pass the corrections it received; every other party must pass ``None``
    (:class:`LocalProtocolError` otherwise).  Corrections that do not match the request
    (count, names, dtype, shape) raise :class:`RemoteProtocolError`: they came from the dealer.
    """
    _check_components(components)
    if isinstance(party_index, bool) or not isinstance(party_index, int) or party_index < 0:
        raise LocalProtocolError("party_index must be a non-negative integer")
    if party_index == 0:
        if corrections is None:
            raise LocalProtocolError("party 0 needs the dealer's corrections to expand material")
        _check_corrections(components, corrections)
    elif corrections is not None:
        raise LocalProtocolError("only party 0 receives corrections; pass None")
    prg = PRG(seed)
    out: list[Material] = []
    for k, comp in enumerate(components):
        mat = _draw_component(prg, comp, party_index)
        if party_index == 0 and corrections is not None:
            dep = DEPENDENT[comp.kind]
            mat[dep] = np.array(corrections[k][dep], dtype=np.uint64, order="C", copy=True)
        # Present the arrays in the documented order for every party.
        out.append({name: mat[name] for name, _ in ARRAYS[comp.kind]})
    return out


def material_nbytes(components: Sequence[Component], n: int) -> dict[str, int]:
    """What a request costs to distribute (for reporting preprocessing cost).

    Keys: ``seed_bytes`` (per party), ``party0_correction_bytes``, ``party0_bytes`` (seed +
    corrections), ``other_party_bytes`` (each of parties 1..n-1: the seed only),
    ``total_bytes`` (everything the dealer sends), ``expanded_bytes_per_party`` (the size of
    one party's material after :func:`expand`).
    """
    _check_components(components)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LocalProtocolError("n must be an integer >= 2")
    corr = 0
    expanded = 0
    for comp in components:
        corr += 8 * comp.size  # every dependent array is uint64
        for _name, dtype in ARRAYS[comp.kind]:
            expanded += comp.size * _DTYPES[dtype].itemsize
    return {
        "seed_bytes": SEED_BYTES,
        "party0_correction_bytes": corr,
        "party0_bytes": SEED_BYTES + corr,
        "other_party_bytes": SEED_BYTES,
        "total_bytes": n * SEED_BYTES + corr,
        "expanded_bytes_per_party": expanded,
    }
