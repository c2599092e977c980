"""Seeded preprocessing material from a dealer (CrypTen-style seed compression).

The dealer draws one fresh 16-byte seed per party.  Parties ``1 .. n-1`` receive only their
seed; party ``0`` receives its seed plus one *correction* array for each dependent array of the
request.  Every party expands its seed with :func:`expand`; the dealer, knowing all seeds,
computed party 0's corrections so that the shares reconstruct to the material of
:mod:`mpc_runtime.preprocessing.requests`.

Dependent arrays (party 0 takes them from its corrections instead of its seed):
``triple.c``, ``and.c``, ``rbits.r``, ``bit.t``, ``trunc.r_hi`` and ``trunc.r_msb``.

PRG consumption order (the wire contract between dealer and parties): one
:class:`~mpc_runtime.sharing.prg.PRG` per party keyed by its seed; components in list order;
within a component the arrays in the order of the requests table, each with the component's
shape: u64 arrays by ``PRG.uint64(shape)``, bit arrays by ``PRG.bits(shape)``.  Party 0 draws
nothing for a dependent array; parties ``1 .. n-1`` draw every array.  The true values are: for
triple and trunc, ``a``/``b``/``r`` are sums of all parties' shares; for and, XORs; for rbits,
``r := xor of all rb words``; for bit, ``t := xor of all tb bits``.

Cost: the dealer sends ``16`` bytes to each of parties 1..n-1 and ``16 + 8 * (dependent
elements)`` to party 0, whatever the number of parties.

Security model: the dealer sees every value of the material (never an input or a share of one);
it must not collude with any party.  Seeds come from ``os.urandom``.

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg` and
:mod:`mpc_runtime.preprocessing.requests`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.preprocessing.requests import ARRAYS, Component, Material, check_components
from mpc_runtime.sharing.prg import PRG, SEED_BYTES, new_seed

__all__ = ["DEPENDENT", "correction_nbytes", "expand", "generate", "material_nbytes"]

DEPENDENT: dict[str, tuple[str, ...]] = {
    "triple": ("c",),
    "and": ("c",),
    "rbits": ("r",),
    "bit": ("t",),
    "trunc": ("r_hi", "r_msb"),
}
"""The dependent arrays of each kind: party 0 gets them as corrections, not from its seed."""

U64 = npt.NDArray[np.uint64]


def _draw(prg: PRG, dtype: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    return prg.bits(shape) if dtype == "bit" else prg.uint64(shape)


def _draw_component(prg: PRG, comp: Component, party_index: int) -> Material:
    """Draw this party's seed-derived arrays for one component, in the documented order."""
    deps = DEPENDENT[comp.kind]
    out: Material = {}
    for name, dtype in ARRAYS[comp.kind]:
        if party_index == 0 and name in deps:
            continue
        out[name] = _draw(prg, dtype, comp.shape)
    return out


def _sum(arrays: Sequence[U64], shape: tuple[int, ...]) -> U64:
    acc = np.zeros(shape, dtype=np.uint64)
    for a in arrays:
        np.add(acc, a, out=acc)
    return acc


def _xor(arrays: Sequence[npt.NDArray[Any]], shape: tuple[int, ...], dtype: Any) -> Any:
    acc = np.zeros(shape, dtype=dtype)
    for a in arrays:
        np.bitwise_xor(acc, a, out=acc)
    return acc


def _true_values(comp: Component, drawn: list[Material]) -> Material:
    """The reconstructed values of the dependent arrays, from every party's drawn arrays."""
    shape, kind = comp.shape, comp.kind
    if kind == "triple":
        a, b = _sum([m["a"] for m in drawn], shape), _sum([m["b"] for m in drawn], shape)
        return {"c": np.multiply(a, b, out=a)}
    if kind == "and":
        a = _xor([m["a"] for m in drawn], shape, np.uint64)
        b = _xor([m["b"] for m in drawn], shape, np.uint64)
        return {"c": np.bitwise_and(a, b, out=a)}
    if kind == "rbits":
        return {"r": _xor([m["rb"] for m in drawn], shape, np.uint64)}
    if kind == "bit":
        return {"t": _xor([m["tb"] for m in drawn], shape, np.uint8).astype(np.uint64)}
    if kind == "trunc":
        if comp.frac_bits is None:  # enforced by Component; keeps the type checker honest
            raise LocalProtocolError("a trunc component needs frac_bits")
        r = _sum([m["r"] for m in drawn], shape)
        low = np.bitwise_and(r, np.uint64(2**63 - 1))
        return {
            "r_hi": np.right_shift(low, np.uint64(comp.frac_bits)),
            "r_msb": np.right_shift(r, np.uint64(63)),
        }
    raise LocalProtocolError(f"unknown preprocessing kind {kind!r}")


def _corrections(comp: Component, drawn: list[Material]) -> Material:
    """Party 0's dependent arrays: the true value minus the other parties' seed-derived shares."""
    others = drawn[1:]
    out: Material = {}
    for name, value in _true_values(comp, drawn).items():
        true = np.array(value, dtype=np.uint64)  # 0-d results of ufuncs come back as scalars
        if comp.kind == "and":  # XOR-shared: party 0's share is the true value xor the others'
            rest = _xor([m[name] for m in others], comp.shape, np.uint64)
            out[name] = np.bitwise_xor(true, rest, out=true)
        else:
            out[name] = np.subtract(true, _sum([m[name] for m in others], comp.shape), out=true)
    return out


def generate(components: Sequence[Component], n: int) -> tuple[list[bytes], list[Material]]:
    """The dealer: return ``n`` fresh seeds and party 0's corrections (one dict per component).

    Send ``seeds[i]`` to party ``i``, and the corrections to party 0 only.
    """
    check_components(components)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LocalProtocolError("the dealer needs n >= 2 parties")
    seeds = [new_seed() for _ in range(n)]
    prgs = [PRG(s) for s in seeds]
    corrections: list[Material] = []
    for comp in components:
        drawn = [_draw_component(prg, comp, i) for i, prg in enumerate(prgs)]
        corrections.append(_corrections(comp, drawn))
    return seeds, corrections


def _check_corrections(
    components: Sequence[Component], corrections: Sequence[Any], peer: str | None
) -> None:
    if len(corrections) != len(components):
        raise RemoteProtocolError(
            f"dealer sent corrections for {len(corrections)} components, expected"
            f" {len(components)}",
            peer=peer,
        )
    for k, (comp, corr) in enumerate(zip(components, corrections, strict=True)):
        deps = DEPENDENT[comp.kind]
        if not isinstance(corr, dict) or set(corr) != set(deps):
            raise RemoteProtocolError(
                f"component {k} ({comp.kind}): corrections must hold {', '.join(deps)}", peer=peer
            )
        for dep in deps:
            arr = corr[dep]
            if not isinstance(arr, np.ndarray) or arr.dtype != np.uint64:
                raise RemoteProtocolError(
                    f"component {k} ({comp.kind}): correction {dep!r} must be uint64", peer=peer
                )
            if arr.size != comp.size:
                raise RemoteProtocolError(
                    f"component {k} ({comp.kind}): correction {dep!r} has the wrong size",
                    peer=peer,
                )


def expand(
    components: Sequence[Component],
    seed: bytes,
    party_index: int,
    corrections: Sequence[Material] | None,
    *,
    peer: str | None = None,
) -> list[Material]:
    """This party's material: one dict of arrays per component (names as in the requests table).

    Party 0 must pass the corrections it received; every other party must pass ``None``
    (:class:`LocalProtocolError` otherwise).  Corrections that do not match the request (count,
    names, dtype, size) raise :class:`RemoteProtocolError` naming ``peer`` (the dealer).
    """
    check_components(components)
    if isinstance(party_index, bool) or not isinstance(party_index, int) or party_index < 0:
        raise LocalProtocolError("party_index must be a non-negative integer")
    if party_index == 0:
        if corrections is None:
            raise LocalProtocolError("party 0 needs the dealer's corrections to expand material")
        _check_corrections(components, corrections, peer)
    elif corrections is not None:
        raise LocalProtocolError("only party 0 receives corrections; pass None")
    prg = PRG(seed)
    out: list[Material] = []
    for k, comp in enumerate(components):
        mat = _draw_component(prg, comp, party_index)
        if party_index == 0 and corrections is not None:
            for dep in DEPENDENT[comp.kind]:
                arr = corrections[k][dep].reshape(comp.shape)
                mat[dep] = np.array(arr, dtype=np.uint64, order="C", copy=True)
        out.append({name: mat[name] for name, _ in ARRAYS[comp.kind]})
    return out


def correction_nbytes(corrections: Sequence[Material] | None) -> int:
    if not corrections:
        return 0
    return sum(int(a.nbytes) for m in corrections for a in m.values())


def material_nbytes(components: Sequence[Component], n: int) -> dict[str, int]:
    """What a request costs to distribute (for reporting preprocessing cost).

    Keys: ``seed_bytes`` (per party), ``party0_correction_bytes``, ``party0_bytes`` (seed +
    corrections), ``other_party_bytes`` (each of parties 1..n-1: the seed only),
    ``total_bytes`` (everything the dealer sends), ``expanded_bytes_per_party``.
    """
    check_components(components)
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise LocalProtocolError("n must be an integer >= 2")
    corr = 0
    expanded = 0
    for comp in components:
        corr += 8 * comp.size * len(DEPENDENT[comp.kind])
        for _name, dtype in ARRAYS[comp.kind]:
            expanded += comp.size * (1 if dtype == "bit" else 8)
    return {
        "seed_bytes": SEED_BYTES,
        "party0_correction_bytes": corr,
        "party0_bytes": SEED_BYTES + corr,
        "other_party_bytes": SEED_BYTES,
        "total_bytes": n * SEED_BYTES + corr,
        "expanded_bytes_per_party": expanded,
    }
