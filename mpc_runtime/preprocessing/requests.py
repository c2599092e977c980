"""Typed preprocessing requests: the kinds of correlated randomness protocols ask for.

A request is a list of :class:`Component` s; every provider (the ``dealer`` and the ``ot``
provider) answers it with one :data:`Material` dict per component, holding this party's shares of
the arrays below.  Protocols never know which provider served them.

=========  =========================================================  ===========================
kind       arrays (dtype, sharing)                                    relation (reconstructed)
=========  =========================================================  ===========================
triple     ``a``, ``b``, ``c``: u64 additive                          ``c = a * b mod 2^64``
and        ``a``, ``b``, ``c``: u64 words, XOR (bitwise per word)     ``c = a & b``
rbits      ``rb``: u64 word XOR-shared; ``r``: u64 additive           ``r = rb`` (edaBit: a uniform
                                                                      64-bit value, both ways)
bit        ``tb``: u8 0/1 XOR-shared; ``t``: u64 additive             ``t = tb`` (daBit)
trunc      ``r``, ``r_hi``, ``r_msb``: u64 additive                   ``r`` uniform,
                                                                      ``r_hi = (r mod 2^63) >> f``,
                                                                      ``r_msb = r >> 63``
=========  =========================================================  ===========================

``trunc`` serves exact truncation (see :func:`protocols.arith.truncate`): with the top bit of
the mask shared separately, the wrap of the opened value is a linear function of public data and
shares, so no probabilistic error remains beyond the last bit.

May import: numpy, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.sharing.prg import normalize_shape

__all__ = [
    "ARRAYS",
    "KINDS",
    "Component",
    "Material",
    "components_from_wire",
    "components_to_wire",
    "material_elements",
]

Material = dict[str, npt.NDArray[Any]]

ARRAYS: dict[str, tuple[tuple[str, str], ...]] = {
    "triple": (("a", "u64"), ("b", "u64"), ("c", "u64")),
    "and": (("a", "u64"), ("b", "u64"), ("c", "u64")),
    "rbits": (("rb", "u64"), ("r", "u64")),
    "bit": (("tb", "bit"), ("t", "u64")),
    "trunc": (("r", "u64"), ("r_hi", "u64"), ("r_msb", "u64")),
}
"""The arrays of each kind, in order, with dtype ("u64" or "bit": uint8 0/1)."""
KINDS = frozenset(ARRAYS)
MAX_COMPONENTS = 256


@dataclass(frozen=True, slots=True)
class Component:
    """One piece of a preprocessing request: ``kind`` (see the module table) and ``shape``.

    ``frac_bits`` is required for ``"trunc"`` (``0 < frac_bits < 63``) and must be ``None``
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
            if isinstance(f, bool) or not isinstance(f, int) or not 0 < f < 63:
                raise LocalProtocolError("a trunc component needs frac_bits in [1, 62]")
        elif f is not None:
            raise LocalProtocolError(f"frac_bits applies only to trunc, not to {self.kind!r}")

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))


def material_elements(components: Sequence[Component]) -> int:
    """Elements a request asks for (what budgets count)."""
    return sum(c.size for c in components)


def check_components(components: Sequence[Any]) -> None:
    for c in components:
        if not isinstance(c, Component):
            raise LocalProtocolError("a preprocessing request is a list of Component")


def components_to_wire(components: Sequence[Component]) -> list[list[object]]:
    return [[c.kind, list(c.shape), c.frac_bits] for c in components]


def components_from_wire(raw: object, peer: str | None = None) -> list[Component]:
    """Parse ``[[kind, shape, frac_bits|None], ...]`` from a peer; RemoteProtocolError if bad."""
    if not isinstance(raw, list) or not raw or len(raw) > MAX_COMPONENTS:
        raise RemoteProtocolError("bad material request: components must be a list", peer=peer)
    out = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 3:
            raise RemoteProtocolError("bad material request: a component is [kind, shape, f]")
        kind, shape, f = item
        if not isinstance(kind, str) or not isinstance(shape, list) or len(shape) > 8:
            raise RemoteProtocolError("bad material request: bad kind or shape", peer=peer)
        if not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in shape
        ):
            raise RemoteProtocolError("bad material request: bad shape", peer=peer)
        try:
            out.append(Component(kind, tuple(shape), f if isinstance(f, int) else None))
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"bad material request: {exc.message}", peer=peer) from None
    return out


def check_material(components: Sequence[Component], mats: Sequence[Any], peer: str | None) -> None:
    """Every array of every component present with the right dtype and shape, else an error
    naming ``peer`` (the provider that sent it)."""
    if len(mats) != len(components):
        raise RemoteProtocolError("material does not match the request", peer=peer)
    for comp, mat in zip(components, mats, strict=True):
        if not isinstance(mat, dict) or set(mat) != {n for n, _ in ARRAYS[comp.kind]}:
            raise RemoteProtocolError(f"{comp.kind} material has the wrong arrays", peer=peer)
        for name, dt in ARRAYS[comp.kind]:
            arr = mat[name]
            want = np.uint8 if dt == "bit" else np.uint64
            if not isinstance(arr, np.ndarray) or arr.dtype != want or arr.shape != comp.shape:
                raise RemoteProtocolError(
                    f"{comp.kind} material array {name!r} has the wrong dtype or shape", peer=peer
                )
