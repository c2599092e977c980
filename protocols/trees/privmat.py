"""Products of a privately owned matrix with a secret-shared vector: ``M x`` and ``M^T z``.

What it is for: in histogram-based tree training the bin indicators of a feature are plaintext
to the party that owns the feature (vertical split) or the rows (horizontal split).  Training
needs ``M^T z`` (a histogram: the indicator matrix times node-masked gradients) and ``M s``
(the samples a shared one-hot split sends left) for shared ``z`` and ``s``, without revealing
``M``, ``z``, ``s`` or the results.  ``M`` is public only in layout: a list of :class:`Block`\\ s
``(owner, rows, cols)``; every block is known in plaintext to its owner alone.

Two backends, chosen per job (the same on every party):

``"helper"`` - **three parties, honest majority** (semi-honest, at most one party corrupted:
the two parties other than a block's owner must not collude).  After the fixed-matrix Beaver
idea of SecureML (Mohassel and Zhang, S&P 2017, the data matrix masked once and the mask
reused), with one party acting as dealer for each block.  For block ``b`` with owner ``o``,
helper ``h`` (the smaller other id) and ``j`` (the larger): once, ``o`` draws a seed shared
with ``j`` that expands to a uniform ``A``, and sends ``W = M + A`` to ``h``; ``h`` draws a seed
shared with ``j``.  For each product ``h`` and ``j`` draw fresh uniform ``alpha, beta`` from
their seed (``r = alpha + beta``) and send ``x_h + alpha`` and ``x_j + beta`` to ``o``, who
learns ``u = x + r`` (uniform: it knows neither mask).  Output shares: ``o``: ``M u``, ``h``:
``-W r``, ``j``: ``A r``; they sum to ``M x``.  ``h`` sees only ``W`` (uniform), ``j`` only
seeds, ``o`` only ``u``.  Costs: setup 1 round (more if ``W`` exceeds :data:`CHUNK_WORDS`),
``8 * rows * cols`` bytes per block to its helper; each product **1 round**, the two non-owners
each send ``8 * len(x)`` bytes per block (``len(x) = cols * c`` for ``M x``, ``rows * c`` for
``M^T z``); no preprocessing.  Local work: one dense ``uint64`` product per party and block.

``"beaver"`` - **any n, dishonest majority**, existing material only: the block is treated
as shared (the owner holds ``M``, the others zero) and multiplied elementwise with the broadcast
vector by Beaver triples (Beaver, CRYPTO 1991), then summed.  **1 round**, ``16 (n - 1) rows
cols c`` bytes per party and ``rows cols c`` triples per block: only for small matrices
(tests, 2-party jobs).  A dedicated preprocessing kind (a matrix triple ``A`` to the owner,
``[b]``, ``[A b]`` with ``A`` reused, as in SecureML) would make this backend as cheap as the
helper one for any n; see the package report.

Bounds: an output's public bounds are ``cols`` (or ``rows``) times the products of the entry
bounds and the vector's bounds; callers that know better (a one-hot ``x``) narrow them.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``protocols.*``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mpc_runtime.errors import InputError, LocalProtocolError, RemoteProtocolError
from mpc_runtime.runtime import ArraySpec, Context
from mpc_runtime.sharing.prg import PRG, new_seed
from protocols.trees.batch import mul_many
from protocols.types import U64, Shared, check_bounds, contig, product_bounds

MODES = ("helper", "beaver")
CHUNK_WORDS = 8 * 1024 * 1024
"""Setup messages larger than this many 64-bit words (64 MiB) are split over several rounds."""
_SEED_WORDS = 2


@dataclass(frozen=True)
class Block:
    """Rows ``[row0, row1)`` and columns ``[col0, col1)`` of the matrix, known to ``owner``."""

    owner: int
    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.row1 - self.row0, self.col1 - self.col0

    @property
    def size(self) -> int:
        return (self.row1 - self.row0) * (self.col1 - self.col0)


@dataclass(eq=False, repr=False)
class PrivateMatrix:
    """One party's handle on a privately owned matrix (public layout + its own role's arrays)."""

    shape: tuple[int, int]
    blocks: tuple[Block, ...]
    mode: str
    lo: int
    hi: int
    plain: dict[int, U64] = field(default_factory=dict)  # owner: its blocks (ring values)
    masks: dict[int, U64] = field(default_factory=dict)  # helper: W; other: A
    prgs: dict[int, PRG] = field(default_factory=dict)  # helper and other: the r stream
    _t: dict[tuple[str, int], U64] = field(default_factory=dict)

    def transposed(self, kind: str, b: int) -> U64:
        """A cached C-contiguous transpose of ``plain[b]`` or ``masks[b]``."""
        key = (kind, b)
        if key not in self._t:
            src = self.plain[b] if kind == "plain" else self.masks[b]
            self._t[key] = np.ascontiguousarray(src.T)
        return self._t[key]

    def __repr__(self) -> str:
        return f"PrivateMatrix(shape={self.shape}, blocks={len(self.blocks)}, mode={self.mode})"


def roles(block: Block, parties: Sequence[int]) -> tuple[int, int]:
    """``(helper, other)`` of a block in helper mode: the two non-owners, smaller id first."""
    others = sorted(p for p in parties if p != block.owner)
    if len(others) != 2:
        raise LocalProtocolError("the helper backend needs exactly three parties")
    return others[0], others[1]


def _check_layout(shape: tuple[int, int], blocks: Sequence[Block], parties: Sequence[int]) -> None:
    rows, cols = shape
    cover = np.zeros(shape, dtype=np.int8) if rows * cols <= 1 << 24 else None
    for b in blocks:
        if b.owner not in parties:
            raise LocalProtocolError(f"block owner {b.owner} is not a party of this job")
        if not (0 <= b.row0 < b.row1 <= rows and 0 <= b.col0 < b.col1 <= cols):
            raise LocalProtocolError("a block lies outside the matrix or is empty")
        if cover is not None:
            cover[b.row0 : b.row1, b.col0 : b.col1] += 1
    if cover is not None and np.any(cover > 1):
        raise LocalProtocolError("matrix blocks overlap")


def _owner_block(value: Any, block: Block, lo: int, hi: int) -> U64:
    arr = np.asarray(value)
    if arr.shape != block.shape or arr.dtype.kind not in "iub":
        raise InputError(f"a private matrix block must be an integer array of shape {block.shape}")
    signed = arr.astype(np.int64)
    if signed.size and (int(signed.min()) < lo or int(signed.max()) > hi):
        raise InputError(f"private matrix entries must lie in [{lo}, {hi}]")
    return contig(signed.view(np.uint64))


async def setup(
    ctx: Context,
    shape: tuple[int, int],
    blocks: Sequence[Block],
    mine: Mapping[int, Any],
    *,
    bounds: tuple[int, int] = (0, 1),
    mode: str = "helper",
) -> PrivateMatrix:
    """Every owner brings its blocks (``mine``: block index -> array); others pass ``{}``.

    ``helper``: 1 round (or more, chunked) moving masks and seeds; ``beaver``: no rounds.
    """
    ctx = ctx.scope("privmat_setup")
    if mode not in MODES:
        raise LocalProtocolError(f"unknown private matrix mode {mode!r}; expected {MODES}")
    _check_layout(shape, blocks, ctx.parties)
    lo, hi = bounds
    own = [i for i, b in enumerate(blocks) if b.owner == ctx.party_id]
    if sorted(mine) != own:
        raise LocalProtocolError("pass exactly this party's blocks to the private matrix")
    pm = PrivateMatrix(shape, tuple(blocks), mode, lo, hi)
    for i in own:
        pm.plain[i] = _owner_block(mine[i], blocks[i], lo, hi)
    if mode == "helper":
        await _helper_setup(ctx, pm)
    return pm


async def _helper_setup(ctx: Context, pm: PrivateMatrix) -> None:
    me = ctx.party_id
    out: dict[int, list[U64]] = {p: [] for p in ctx.peers}
    pending: list[tuple[int, str]] = []  # (block, what) we receive, in layout order
    for i, b in enumerate(pm.blocks):
        h, j = roles(b, ctx.parties)
        if me == b.owner:
            seed = new_seed()
            a = PRG(seed).uint64(b.shape)
            out[h].append(contig((pm.plain[i] + a).reshape(-1)))
            out[j].append(np.frombuffer(seed, dtype="<u8").astype(np.uint64))
        elif me == h:
            seed = new_seed()
            pm.prgs[i] = PRG(seed)
            out[j].append(np.frombuffer(seed, dtype="<u8").astype(np.uint64))
            pending.append((i, "W"))
        else:
            pending.append((i, "A"))
            pending.append((i, "r"))
    flat = {p: contig(np.concatenate(v)) if v else np.zeros(0, np.uint64) for p, v in out.items()}
    got = await _send_chunked(ctx, flat, setup_words(pm.blocks, ctx.parties))
    pos = {p: 0 for p in ctx.peers}
    for i, what in pending:
        b = pm.blocks[i]
        h, j = roles(b, ctx.parties)
        src = {"W": b.owner, "A": b.owner, "r": h}[what]
        n = b.size if what == "W" else _SEED_WORDS
        piece = got[src][pos[src] : pos[src] + n]
        pos[src] += n
        if what == "W":
            pm.masks[i] = contig(np.array(piece, dtype=np.uint64).reshape(b.shape))
        else:
            seed = np.ascontiguousarray(piece, dtype="<u8").tobytes()
            if what == "A":
                pm.masks[i] = PRG(seed).uint64(b.shape)
            else:
                pm.prgs[i] = PRG(seed)


def setup_words(blocks: Sequence[Block], parties: Sequence[int]) -> dict[tuple[int, int], int]:
    """Words each ordered pair ``(sender, receiver)`` exchanges in the helper setup (public)."""
    words: dict[tuple[int, int], int] = {(a, b): 0 for a in parties for b in parties if a != b}
    for b in blocks:
        h, j = roles(b, parties)
        words[(b.owner, h)] += b.size
        words[(b.owner, j)] += _SEED_WORDS
        words[(h, j)] += _SEED_WORDS
    return words


async def _send_chunked(
    ctx: Context, out: Mapping[int, U64], words: Mapping[tuple[int, int], int]
) -> dict[int, U64]:
    """Send ``out[p]`` to each peer and receive what the public layout says, in as many rounds
    as the largest message of any pair needs (the same count on every party)."""
    me = ctx.party_id
    rounds = max(1, -(-max(words.values(), default=0) // CHUNK_WORDS))
    parts: dict[int, list[U64]] = {p: [] for p in ctx.peers}
    for k in range(rounds):
        lo, hi = k * CHUNK_WORDS, (k + 1) * CHUNK_WORDS
        outgoing = {p: contig(a[lo:hi]) for p, a in out.items()}
        specs = {
            p: ArraySpec(np.uint64, (max(0, min(hi, words[(p, me)]) - lo),)) for p in ctx.peers
        }
        got = await ctx.exchange(outgoing, expect=specs)
        for p in ctx.peers:
            parts[p].append(got[p])
    return {p: contig(np.concatenate(v)) for p, v in parts.items()}


# ---- products ----------------------------------------------------------------------------------
def _io(b: Block, transpose: bool) -> tuple[slice, slice]:
    """(input slice, output slice) of a block for ``M x`` or ``M^T z``."""
    rows, cols = slice(b.row0, b.row1), slice(b.col0, b.col1)
    return (rows, cols) if transpose else (cols, rows)


def out_bounds(pm: PrivateMatrix, v: Shared, transpose: bool) -> tuple[int, int]:
    """Public bounds of ``M x`` (or ``M^T z``): the inner dimension times the entry products."""
    inner = pm.shape[0] if transpose else pm.shape[1]
    plo, phi = product_bounds((pm.lo, pm.hi), v.bounds)
    return check_bounds(plo * inner, phi * inner, v.frac_bits, "a private matrix product")


async def times(ctx: Context, pm: PrivateMatrix, x: Shared) -> Shared:
    """Shares of ``M x`` for a shared ``x`` of shape ``(cols, c)``: 1 round."""
    ctx = ctx.scope("privmat_times")
    return await _product(ctx, pm, x, transpose=False)


async def t_times(ctx: Context, pm: PrivateMatrix, z: Shared) -> Shared:
    """Shares of ``M^T z`` for a shared ``z`` of shape ``(rows, c)``: 1 round."""
    ctx = ctx.scope("privmat_t_times")
    return await _product(ctx, pm, z, transpose=True)


async def _product(ctx: Context, pm: PrivateMatrix, v: Shared, transpose: bool) -> Shared:
    rows, cols = pm.shape
    inner, outer = (rows, cols) if transpose else (cols, rows)
    if len(v.shape) != 2 or v.shape[0] != inner:
        raise LocalProtocolError(f"private matrix product needs an operand of shape ({inner}, c)")
    c = v.shape[1]
    lo, hi = out_bounds(pm, v, transpose)
    if pm.mode == "helper":
        out = await _helper_product(ctx, pm, v.share, transpose)
    else:
        out = await _beaver_product(ctx, pm, v, transpose)
    if out.shape != (outer, c):  # pragma: no cover - internal consistency
        raise LocalProtocolError("private matrix product has the wrong shape")
    return Shared(out, v.frac_bits, lo, hi)


def _matmul(pm: PrivateMatrix, kind: str, b: int, u: U64, transpose: bool) -> U64:
    if transpose:
        mat = pm.transposed(kind, b)
    else:
        mat = pm.plain[b] if kind == "plain" else pm.masks[b]
    return np.matmul(mat, u)


async def _helper_product(ctx: Context, pm: PrivateMatrix, v: U64, transpose: bool) -> U64:
    me, c = ctx.party_id, v.shape[1]
    rows, cols = pm.shape
    outer = cols if transpose else rows
    out = np.zeros((outer, c), dtype=np.uint64)
    sends: dict[int, list[U64]] = {p: [] for p in ctx.peers}
    expect: dict[int, int] = {p: 0 for p in ctx.peers}
    local: list[tuple[int, U64]] = []
    for i, b in enumerate(pm.blocks):
        src, dst = _io(b, transpose)
        part = v[src]
        h, j = roles(b, ctx.parties)
        if me == b.owner:
            for p in (h, j):
                expect[p] += part.size
            local.append((i, part))
            continue
        prg = pm.prgs[i]
        alpha, beta = prg.uint64(part.shape), prg.uint64(part.shape)
        r = alpha + beta
        mask = alpha if me == h else beta
        sends[b.owner].append(contig((part + mask).reshape(-1)))
        prod = _matmul(pm, "masks", i, r, transpose)
        out[dst] += (0 - prod) if me == h else prod
    flat = {p: contig(np.concatenate(a)) if a else np.zeros(0, np.uint64) for p, a in sends.items()}
    specs = {p: ArraySpec(np.uint64, (expect[p],)) for p in ctx.peers}
    got = await ctx.exchange(flat, expect=specs)
    pos = {p: 0 for p in ctx.peers}
    for i, part in local:
        b = pm.blocks[i]
        _, dst = _io(b, transpose)
        u = np.array(part, dtype=np.uint64, copy=True)
        for p in roles(b, ctx.parties):
            piece = got[p][pos[p] : pos[p] + part.size]
            pos[p] += part.size
            u += piece.reshape(part.shape)
        out[dst] += _matmul(pm, "plain", i, u, transpose)
    for p in ctx.peers:
        if pos[p] != got[p].size:  # pragma: no cover - specs checked the size
            raise RemoteProtocolError("private matrix message has the wrong size", peer=str(p))
    return out


async def _beaver_product(ctx: Context, pm: PrivateMatrix, v: Shared, transpose: bool) -> U64:
    me, c = ctx.party_id, v.shape[1]
    rows, cols = pm.shape
    outer = cols if transpose else rows
    items = []
    for i, b in enumerate(pm.blocks):
        src, _ = _io(b, transpose)
        mat = pm.plain[i] if me == b.owner else np.zeros(b.shape, dtype=np.uint64)
        if transpose:  # (rows, cols, c): M[r, k] * z[r, c], summed over r
            left = np.broadcast_to(mat[:, :, None], (*b.shape, c))
            right = np.broadcast_to(v.share[src][:, None, :], (*b.shape, c))
        else:  # M[r, k] * x[k, c], summed over k
            left = np.broadcast_to(mat[:, :, None], (*b.shape, c))
            right = np.broadcast_to(v.share[src][None, :, :], (*b.shape, c))
        items.append(
            (
                Shared(contig(left), 0, pm.lo, pm.hi),
                Shared(contig(right), v.frac_bits, v.lo, v.hi),
                0,
            )
        )
    prods = await mul_many(ctx, items)
    out = np.zeros((outer, c), dtype=np.uint64)
    for b, p in zip(pm.blocks, prods, strict=True):
        _, dst = _io(b, transpose)
        out[dst] += p.share.sum(axis=0 if transpose else 1, dtype=np.uint64)
    return out


__all__ = [
    "CHUNK_WORDS",
    "MODES",
    "Block",
    "PrivateMatrix",
    "out_bounds",
    "roles",
    "setup",
    "setup_words",
    "t_times",
    "times",
]
