"""Typed preprocessing requests: the kinds of correlated randomness protocols ask for.

A request is a list of :class:`Component` s; every provider (the ``dealer`` and the ``ot``
provider) answers it with one :data:`Material` dict per component, holding this party's shares of
the arrays below.  Protocols never know which provider served them.

=========  =========================================================  ===========================
kind       arrays (layout, sharing)                                   relation (reconstructed)
=========  =========================================================  ===========================
triple     ``a``, ``b``, ``c``: u64 additive                          ``c = a * b mod 2^64``
and        ``a``, ``b``, ``c``: u64 words, XOR (bitwise per word)     ``c = a & b``
rbits      ``rb``: u64 word XOR-shared; ``r``: u64 additive           ``r = rb`` (edaBit: a uniform
                                                                      64-bit value, both ways)
bit        ``tb``: u8 0/1 XOR-shared; ``t``: u64 additive             ``t = tb`` (daBit)
pbit       ``tb``: packed bits XOR-shared; ``t``: u64 additive        ``t = tb`` (daBits, ``tb``
                                                                      64 per word)
trunc      ``r``, ``r_hi``, ``r_msb``: u64 additive                   ``r`` uniform,
                                                                      ``r_hi = (r mod 2^63) >> f``,
                                                                      ``r_msb = r >> 63``
ltt        ``r``, ``t``: u64 additive; ``t1`` (8 words), ``t2`` (12),  one-time truth tables of a
           ``t3`` (2): XOR-shared                                     4-round comparison (below)
eqt        ``r``, ``t``: u64 additive; ``e1`` (4 words), ``e2`` (2):  the same for equality
           XOR-shared
dcf        ``r``, ``w``: u64 additive; ``s``: 2 words, each party's   a distributed comparison
           own; ``cs``, ``cv``, ``ct``, ``cf``: public (both parties) function key pair (below)
dpf        ``r``: u64 additive; ``s``: own; ``cs``, ``ct``, ``cf``:    a distributed point
           public                                                     function key pair (below)
=========  =========================================================  ===========================

Layouts (:func:`array_shape`): ``u64`` and ``bit`` have the component's shape; ``pk`` is
``ceil(size / 64)`` uint64 words, bit ``k`` of word ``w`` being element ``64 w + k`` of the
flattened component (padding bits unspecified); ``u64[K]`` appends an axis of K words per element;
``[L]u64[K]`` also prepends one of L.

``trunc`` serves exact truncation (see :func:`protocols.arith.truncate`): with the top bit of
the mask shared separately, the wrap of the opened value is a linear function of public data and
shares, so no probabilistic error remains beyond the last bit.

``ltt`` / ``eqt`` (function-dependent preprocessing; one-time truth tables in the sense of Ishai,
Kushilevitz, Meldgaard, Orlandi and Paskin-Cherniavsky, TCC 2013) serve the constant-round
comparison of :mod:`protocols.compare_const`, which documents the table contents; the dealer
makes them from the true mask ``r``.  ``dcf`` is a key pair of the distributed comparison
function of Boyle, Chandran, Gilboa, Gupta, Ishai, Kumar and Rathee (Eurocrypt 2021, Fig. 1)
for ``f(x) = beta * [x < alpha]`` on 63-bit inputs with ``alpha = r mod 2^63`` and
``beta = 1 - 2 * (r >> 63)``, plus additive shares ``w`` of ``r >> 63``: party ``b`` (0 or 1)
evaluates :func:`dcf_eval` with its root seed ``s`` and the public correction words, and the
two results add up to ``f(x)``.  ``dpf`` is a key pair of the distributed point function of
Boyle, Gilboa and Ishai (CCS 2016, Fig. 1) for ``f(x) = [x == r]`` on 64-bit inputs, evaluated
with :func:`dpf_eval`.  The PRG of both key trees is :func:`dcf_prg`.  These four kinds are
dealer-only (:data:`DEALER_ONLY`); ``dcf`` and ``dpf`` need exactly two parties.

May import: numpy, ``cryptography``, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.sharing.prg import normalize_shape

__all__ = [
    "ARRAYS",
    "DCF_BITS",
    "DEALER_ONLY",
    "DPF_BITS",
    "KINDS",
    "SHARING",
    "Component",
    "Material",
    "array_shape",
    "components_from_wire",
    "components_to_wire",
    "dcf_eval",
    "dcf_prg",
    "dpf_eval",
    "material_elements",
]

Material = dict[str, npt.NDArray[Any]]
U64 = npt.NDArray[np.uint64]

DCF_BITS = 63
"""Input bits of a ``dcf`` key (the comparison runs on ``x mod 2^63``)."""
DPF_BITS = 64
"""Input bits of a ``dpf`` key."""

ARRAYS: dict[str, tuple[tuple[str, str], ...]] = {
    "triple": (("a", "u64"), ("b", "u64"), ("c", "u64")),
    "and": (("a", "u64"), ("b", "u64"), ("c", "u64")),
    "rbits": (("rb", "u64"), ("r", "u64")),
    "bit": (("tb", "bit"), ("t", "u64")),
    "pbit": (("tb", "pk"), ("t", "u64")),
    "trunc": (("r", "u64"), ("r_hi", "u64"), ("r_msb", "u64")),
    "ltt": (("r", "u64"), ("t1", "u64[8]"), ("t2", "u64[12]"), ("t3", "u64[2]"), ("t", "u64")),
    "eqt": (("r", "u64"), ("e1", "u64[4]"), ("e2", "u64[2]"), ("t", "u64")),
    "dcf": (
        ("r", "u64"),
        ("w", "u64"),
        ("s", "[2]u64"),
        ("cs", f"[{2 * DCF_BITS}]u64"),
        ("cv", f"[{DCF_BITS}]u64"),
        ("ct", "[2]u64"),
        ("cf", "u64"),
    ),
    "dpf": (
        ("r", "u64"),
        ("s", "[2]u64"),
        ("cs", f"[{2 * DPF_BITS}]u64"),
        ("ct", "[2]u64"),
        ("cf", "u64"),
    ),
}
"""The arrays of each kind, in order, with their layout (see the module docstring)."""

SHARING: dict[str, dict[str, str]] = {
    "triple": {"a": "add", "b": "add", "c": "add"},
    "and": {"a": "xor", "b": "xor", "c": "xor"},
    "rbits": {"rb": "xor", "r": "add"},
    "bit": {"tb": "xor", "t": "add"},
    "pbit": {"tb": "xor", "t": "add"},
    "trunc": {"r": "add", "r_hi": "add", "r_msb": "add"},
    "ltt": {"r": "add", "t1": "xor", "t2": "xor", "t3": "xor", "t": "add"},
    "eqt": {"r": "add", "e1": "xor", "e2": "xor", "t": "add"},
    "dcf": {
        "r": "add",
        "w": "add",
        "s": "own",
        "cs": "public",
        "cv": "public",
        "ct": "public",
        "cf": "public",
    },
    "dpf": {"r": "add", "s": "own", "cs": "public", "ct": "public", "cf": "public"},
}
"""How each array is shared: ``add`` (sum mod 2^64), ``xor``, ``own`` (each party's private
random value, no joint secret), ``public`` (the same value on every party)."""

KINDS = frozenset(ARRAYS)
DEALER_ONLY = frozenset({"ltt", "eqt", "dcf", "dpf"})
"""Kinds only the dealer makes (function-dependent preprocessing)."""
MAX_COMPONENTS = 256

_LAYOUT = re.compile(r"^(?:\[(\d+)\])?(u64|bit|pk)(?:\[(\d+)\])?$")


def array_shape(layout: str, shape: tuple[int, ...]) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """The dtype and shape of an array of ``layout`` for a component of ``shape``."""
    m = _LAYOUT.match(layout)
    if m is None:  # pragma: no cover - the table above is fixed
        raise LocalProtocolError(f"unknown array layout {layout!r}")
    lead, base, trail = m.groups()
    if base == "bit":
        return np.dtype(np.uint8), shape
    size = int(np.prod(shape, dtype=np.int64))
    core = (-(-size // 64),) if base == "pk" else shape
    dims = ((int(lead),) if lead else ()) + core + ((int(trail),) if trail else ())
    return np.dtype(np.uint64), dims


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
        for name, layout in ARRAYS[comp.kind]:
            arr = mat[name]
            dtype, shape = array_shape(layout, comp.shape)
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != shape:
                raise RemoteProtocolError(
                    f"{comp.kind} material array {name!r} has the wrong dtype or shape", peer=peer
                )


# ---- the dcf kind: PRG and evaluation ------------------------------------------------------
_DCF_KEY = hashlib.sha256(b"mpc-runtime/dcf-prg/v1").digest()[:16]
"""The fixed, public AES-128 key of the tree PRG (a fixed-key block cipher used as a
correlation-robust hash: Guo, Katz, Wang, Yu, IEEE S&P 2020)."""
_TWEAK = (np.uint64(1 << 56), np.uint64(2 << 56))
"""Xored into a seed's high word for output block 0 (the child seed and control bit) and block 1
(the output word); the child (0 left, 1 right) is xored in at bit 58."""
_CHILD_SHIFT = np.uint64(58)
_LSB = np.uint64(1)
_NOT_LSB = np.uint64(0xFFFFFFFFFFFFFFFE)
EVAL_CHUNK = 1 << 14
"""Elements evaluated together (keeps a chunk's working set in cache)."""


def _encryptor() -> Any:
    return Cipher(algorithms.AES(_DCF_KEY), modes.ECB()).encryptor()


def _fill_blocks(blocks: U64, lo: U64, hi: U64, child: U64, tmp: U64) -> None:
    """The two AES inputs of each seed's child ``child``: (m, 2, 2) words."""
    np.copyto(blocks[:, 0, 0], lo)
    np.copyto(blocks[:, 1, 0], lo)
    np.left_shift(child, _CHILD_SHIFT, out=tmp)
    tmp ^= hi
    np.bitwise_xor(tmp, _TWEAK[0], out=blocks[:, 0, 1])
    np.bitwise_xor(tmp, _TWEAK[1], out=blocks[:, 1, 1])


def _mmo(enc: Any, blocks: U64, raw: npt.NDArray[np.uint8]) -> U64:
    """``AES_K(b) xor b`` for every 128-bit block (rows of two little-endian words), written to
    ``raw`` (at least ``blocks.nbytes + 15`` bytes); returns a view of ``raw``."""
    flat = blocks.view(np.uint8).reshape(-1)
    if enc.update_into(flat.data, raw.data) != flat.size:  # pragma: no cover - whole blocks
        raise LocalProtocolError("AES produced a short output")
    out = raw[: flat.size].view("<u8").astype(np.uint64, copy=False).reshape(blocks.shape)
    np.bitwise_xor(out, blocks, out=out)
    return out


def dcf_prg(lo: U64, hi: U64, child: U64) -> tuple[U64, U64, U64, U64]:
    """One step down the key tree: the child ``child`` (0 = left, 1 = right; per element) of
    each 128-bit seed ``hi:lo`` (lowest bit clear).  Returns the child seeds' low words (lowest
    bit cleared) and high words, the control bits ``t`` and the output words ``v``: two
    fixed-key AES blocks per seed, ``AES_K(B) xor B`` with ``B`` the seed with a tweak in its
    high word (block 0 gives the child seed and ``t`` = its lowest bit, block 1's low word is
    ``v``)."""
    m = lo.shape[0]
    blocks = np.empty((m, 2, 2), dtype=np.uint64)
    _fill_blocks(blocks, lo, hi, child, np.empty(m, dtype=np.uint64))
    out = _mmo(_encryptor(), blocks, np.empty(blocks.nbytes + 15, dtype=np.uint8))
    t = out[:, 0, 0] & _LSB
    return out[:, 0, 0] & _NOT_LSB, np.array(out[:, 0, 1]), t, np.array(out[:, 1, 0])


def dcf_eval(party: int, x: U64, key: Material) -> U64:
    """Party ``party``'s (0 or 1) additive share of ``beta * [x < alpha]`` for 63-bit inputs
    ``x`` (m,), from its ``dcf`` material (``s``, ``cs``, ``cv``, ``ct``, ``cf``): Eval of
    BCG+21, Fig. 1, one tree level per input bit from the most significant, one AES call per
    level and chunk."""
    return _fss_eval(party, x, key, DCF_BITS, point=False)


def dpf_eval(party: int, x: U64, key: Material) -> U64:
    """Party ``party``'s additive share of ``[x == alpha]`` for 64-bit inputs ``x``, from its
    ``dpf`` material: Eval of the distributed point function of Boyle, Gilboa, Ishai
    (CCS 2016, Fig. 1)."""
    return _fss_eval(party, x, key, DPF_BITS, point=True)


def _fss_eval(party: int, x: U64, key: Material, bits: int, point: bool) -> U64:
    if party not in (0, 1):
        raise LocalProtocolError("an FSS key belongs to party 0 or 1")
    m = x.shape[0]
    out = np.empty(m, dtype=np.uint64)
    enc = _encryptor()
    for a in range(0, m, EVAL_CHUNK):
        b = min(m, a + EVAL_CHUNK)
        part = {k: (v[a:b] if v.ndim == 1 else v[:, a:b]) for k, v in key.items()}
        out[a:b] = _eval_chunk(party, x[a:b], part, enc, bits, point)
    return out


def _eval_chunk(party: int, x: U64, key: Material, enc: Any, bits: int, point: bool) -> U64:
    k = x.shape[0]
    lo, hi = key["s"][0] & _NOT_LSB, np.array(key["s"][1], dtype=np.uint64)
    t, tn = np.full(k, party, dtype=np.uint64), np.empty(k, dtype=np.uint64)
    acc = np.zeros(k, dtype=np.uint64)
    tmp, mask = np.empty(k, dtype=np.uint64), np.empty(k, dtype=np.uint64)
    blocks = np.empty((k, 2, 2), dtype=np.uint64)
    raw = np.empty(blocks.nbytes + 15, dtype=np.uint8)
    cs = key["cs"]
    ct0, ctx = key["ct"][0], key["ct"][0] ^ key["ct"][1]
    xb = np.empty(k, dtype=np.uint64)
    for i in range(bits):
        np.right_shift(x, np.uint64(bits - 1 - i), out=xb)
        xb &= _LSB
        _fill_blocks(blocks, lo, hi, xb, tmp)
        o = _mmo(enc, blocks, raw)
        np.negative(t, out=mask)  # all ones where t = 1
        np.bitwise_and(o[:, 0, 0], _LSB, out=tn)
        np.multiply(xb, ctx, out=tmp)  # the chosen child's t correction word
        tmp ^= ct0
        tmp >>= np.uint64(i)
        tmp &= t
        tn ^= tmp
        np.bitwise_and(cs[2 * i], mask, out=lo)
        lo ^= o[:, 0, 0]
        lo &= _NOT_LSB
        np.bitwise_and(cs[2 * i + 1], mask, out=hi)
        hi ^= o[:, 0, 1]
        if not point:
            acc += o[:, 1, 0]
            np.bitwise_and(key["cv"][i], mask, out=tmp)
            acc += tmp
        t, tn = tn, t
    acc += hi
    acc += key["cf"] & np.negative(t)
    return np.negative(acc) if party == 1 else acc
