"""Private XGBoost inference: secret-shared trees evaluated obliviously on secret-shared queries.

What it is for: a model owner secret-shares its flattened trees (:func:`share_model`), a client
secret-shares its queries (:func:`share_queries`), and :func:`predict` computes a shared margin
per query without any party learning a path, a comparison bit or a score; the margin is then
revealed to the client only (``ctx.reveal(name, margin.share, frac_bits=margin.frac_bits)``
with an output policy naming the client), who applies the link function itself
(:func:`protocols.trees.model.sigmoid` for ``binary:logistic``).  :func:`predict` works on
shares alone: whoever shared the inputs (a party, or later an external contributor who shares
``float32_keys`` of its features) makes no difference.

Notation: Q queries, T trees, depth d, N = 2^d - 1 nodes and L = 2^d leaves per tree, F
features, n parties, m = Q*T*N comparisons, M = Q*T*L leaves, W = ceil(m / 64).  Encoding:
query values and thresholds as order-preserving integer keys of their float32 values (exact,
no fixed-point rounding, see :mod:`protocols.trees.model`); leaves and base margin as fixed
point with f fractional bits.

Protocol (all queries of a batch in the same rounds; dealer material for everything is fetched
in one ``ctx.material`` call):

0. (hidden features only, 1 round) node value ``x_node = sum_f S[t, j, f] * key[q, f]`` for
   the owner's one-hot selection S: elementwise Beaver products, local sum (Beaver, CRYPTO
   1991).  With public features the node value is a local gather ``key[q, feature[t, j]]``.
1. (1 round) open ``c = (x_node - threshold + 2^32 + r) mod 2^33`` for a dealer mask r shared
   both additively and bitwise (edaBits-style, Escudero et al., CRYPTO 2020); since
   ``|x_node - threshold| < 2^32``, ``[x < t] = NOT(c_32 XOR r_32 XOR [c mod 2^32 < r mod
   2^32])`` (the masked-opening comparison of Catrina and de Hoogh, SCN 2010, on 33 bits).
   Each party sends its share mod 2^33 (32 + 1 bits).  The same round opens the Beaver masks
   of ``[t_l] * [v_l]``: a dealer random bit t (shared both ways) times each leaf value.
2. (5 rounds) ``[c' < r']`` over 32 bits by the log-depth carry circuit
   ``G = G_hi ^ (E_hi & G_lo), E = E_hi & E_lo``, bit-sliced: bit i of all m comparisons
   is one row of uint64 words, so a level is a handful of whole-array XOR/AND operations
   (Beaver AND triples on words).  The result stays XOR-shared.
3. (ceil(log2 d) rounds) leaf indicators by a balanced product tree over the path: the
   indicator of a path segment of length l1 + l2 from a node is the AND of the segment of
   length l1 and the segment of length l2 below it; segments of length 1 are
   ``(b, NOT b)`` for free.  All products of one tree height share a round.  Level by level
   would need d - 1 rounds and fewer ANDs; the ANDs are 2 bits each, so rounds win.
4. (1 round) open ``w = z XOR t`` for each leaf indicator z (1 bit per leaf); then locally
   ``z * v = w * v + (1 - 2w) * [t v]`` (the B2A identity with the product from round 1),
   and the margin is ``base + sum over trees and leaves``.  Exactly one leaf per tree has
   z = 1, and only integer x fixed-point products occur: no truncation, no rounding error.

Cost per party, online (exact, ``predict_cost``; 8-byte words, packed bits padded to words):

* rounds: ``7 + ceil(log2 d)`` (10 for d = 6), plus 1 for hidden features;
* bytes sent: ``(n - 1) * 8 * (2M + ceil(m/2) + W + 2*61*W + sum_h 2*ceil(A_h*Q*T/64)
  + ceil(M/64))`` plus ``(n - 1) * 16 * Q*T*N*F`` for hidden features, where ``A_h`` is the
  number of path ANDs per tree at height h (``path_and_gates``: 4 + 32, 8 + 64, 64 for
  d = 6, i.e. 172 in all).  Per query asymptotically
  ``(n - 1) * (16 T 2^d + 19.375 T (2^d - 1) + T A / 4 + T 2^d / 8)`` bytes: for T = 100,
  d = 6: ``229,562.5 * (n - 1)`` bytes (0.46 MB for n = 3), and ``+ 16 T N F = 3.02 MB *
  (n - 1)`` with hidden features for F = 30.

Security (semi-honest, trusted dealer): every opened value is masked by fresh dealer
randomness (``c`` by a uniform r, AND openings by uniform triple shares, ``w`` by a uniform
bit t, Beaver openings by uniform a, b), so transcripts are independent of the query, the
path and the model except for the public sizes (Q, T, d, F).  With ``public_features=True``
the feature index of every node is public to the compute parties (padding nodes show feature
0, so the tree shapes are partly visible); hidden feature indices hide both, for
``16 * T * N * F * (n - 1)`` more bytes per query.  Shares from an external contributor are
trusted to encode keys in range (semi-honest model); the public bounds of the Shared inputs
are checked.

Path products follow the usual oblivious decision-tree evaluation (a leaf's indicator is the
product of the comparison results along its path, e.g. Bost et al., "Machine Learning
Classification over Encrypted Data", NDSS 2015; Kiss et al., "SoK: Modular and Efficient
Private Decision Tree Evaluation", PoPETs 2019); the Boolean-domain product tree and the
bit-sliced comparison are this module's choices.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``protocols.*``, and ``mpc_runtime.preprocessing.requests`` for the ``Component`` type of a
``ctx.material`` request (as :mod:`protocols.compare` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError, LocalProtocolError, RemoteProtocolError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import ArraySpec, Context
from mpc_runtime.sharing import additive, beaver
from protocols.trees.model import (
    DEFAULT_FRAC_BITS,
    KEY_MAX,
    FlatModel,
    XGBModel,
    float32_keys,
    load_model,
    query_keys,
)
from protocols.types import U64, Shared, require_range

KEY_BITS = 32
"""Keys are below 2^31 in magnitude, so a key difference plus 2^32 fits in 33 bits."""
CMP_AND_PLANES = (32, 16, 8, 4, 1)
"""Word rows (bit planes) ANDed at each level of the 32-bit carry circuit."""
MIN_FRAC_BITS = 8
MARGIN_BOUND = 1 << 61
"""Public bound on the encoded margin: the owner refuses models whose leaves could exceed it."""
_MASK32 = np.uint64(0xFFFFFFFF)
_MASK33 = np.uint64((1 << 33) - 1)
Bits = npt.NDArray[np.uint8]


# ---- the public shape of a sharing -------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class ModelShares:
    """This party's shares of a flattened model (and the public feature indices, if public)."""

    thresholds: Shared  # (T, N) keys of float32 thresholds, frac 0
    leaves: Shared  # (T, L) fixed point
    base: Shared  # (1,) fixed point base margin
    features: npt.NDArray[np.int64] | None  # (T, N) public feature indices
    selection: Shared | None  # (T, N, F) one-hot selection (hidden features)
    n_features: int
    depth: int

    @property
    def n_trees(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def frac_bits(self) -> int:
        return self.leaves.frac_bits

    def __repr__(self) -> str:
        mode = "public" if self.features is not None else "hidden"
        return (
            f"ModelShares(trees={self.n_trees}, depth={self.depth}, features={self.n_features}, "
            f"{mode} feature indices, frac_bits={self.frac_bits})"
        )


def _check_dims(n_trees: int, depth: int, n_features: int, frac_bits: int) -> None:
    for name, v, lo, hi in (
        ("n_trees", n_trees, 1, 1 << 20),
        ("depth", depth, 1, 16),
        ("n_features", n_features, 1, 1 << 20),
        ("frac_bits", frac_bits, MIN_FRAC_BITS, 40),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise LocalProtocolError(f"{name} must be an integer in [{lo}, {hi}]")


def _owner_flat(model: Any, depth: int, n_trees: int, n_features: int) -> FlatModel:
    if not isinstance(model, (FlatModel, XGBModel)):
        model = load_model(model)
    flat = model.flatten(depth) if isinstance(model, XGBModel) else model
    if flat.depth != depth or flat.n_trees != n_trees or flat.n_features != n_features:
        raise InputError(
            f"the model has {flat.n_trees} trees of depth {flat.depth} on {flat.n_features} "
            f"features; the job expects {n_trees}, {depth}, {n_features}"
        )
    return flat


def _owner_payload(
    flat: FlatModel, frac_bits: int, public_features: bool
) -> tuple[U64, U64 | None]:
    """(secret ints to share, public ints) in the wire layout of :func:`share_model`."""
    leaf = flat.leaf_fixed(frac_bits)
    base = flat.base_fixed(frac_bits)
    top = np.abs(leaf).max(axis=1).astype(np.float64).sum() + abs(float(base[0]))
    if top >= float(MARGIN_BOUND):
        raise InputError("the sum of the largest leaves overflows the fixed-point range")
    parts = [flat.threshold_keys().reshape(-1), leaf.reshape(-1), base]
    if not public_features:
        onehot = flat.feature[:, :, None] == np.arange(flat.n_features)[None, None, :]
        parts.append(onehot.astype(np.int64).reshape(-1))
    secret = np.concatenate(parts).astype(np.int64).view(np.uint64)
    public = flat.feature.reshape(-1).astype(np.uint64) if public_features else None
    return secret, public


async def share_model(
    ctx: Context,
    owner: int,
    model: Any,
    depth: int,
    *,
    n_trees: int,
    n_features: int,
    frac_bits: int = DEFAULT_FRAC_BITS,
    public_features: bool = True,
) -> ModelShares:
    """The owner secret-shares its model (others pass ``None``): 1 round.

    ``model`` (owner only): a :class:`FlatModel` of this depth, an :class:`XGBModel`, or
    anything :func:`load_model` reads.  Everyone passes the public shape (``n_trees``,
    ``depth``, ``n_features``).  With ``public_features`` the feature indices go to every
    party in the clear; otherwise a one-hot selection matrix is shared instead.  The owner
    sends ``8 * (n - 1) * (T*N + T*L + 1 + (T*N if public else T*N*F))`` bytes.
    """
    ctx = ctx.scope("share_model")
    _check_dims(n_trees, depth, n_features, frac_bits)
    if owner not in ctx.parties:
        raise LocalProtocolError(f"owner {owner} is not a party of this job")
    n_nodes, n_leaves = (1 << depth) - 1, 1 << depth
    t_n = n_trees * n_nodes
    n_secret = t_n + n_trees * n_leaves + 1 + (0 if public_features else t_n * n_features)
    n_public = t_n if public_features else 0
    if ctx.party_id == owner:
        flat = _owner_flat(model, depth, n_trees, n_features)
        secret, public = _owner_payload(flat, frac_bits, public_features)
        shares = additive.share(secret, ctx.n)
        mine = shares[ctx.index]
        out = {
            p: np.concatenate([s, public]) if public is not None else s
            for p, s in zip(ctx.parties, shares, strict=True)
            if p != owner
        }
        await ctx.exchange(out, expect_from=())
        feats = flat.feature.astype(np.int64) if public_features else None
    else:
        got = await ctx.exchange(
            {}, expect_from=(owner,), expect=ArraySpec(np.uint64, (n_secret + n_public,))
        )
        mine = np.array(got[owner][:n_secret], dtype=np.uint64)
        feats = None
        if public_features:
            raw = got[owner][n_secret:]
            if np.any(raw >= np.uint64(n_features)):
                raise RemoteProtocolError(
                    "feature index out of range in the shared model", peer=f"party:{owner}"
                )
            feats = raw.astype(np.int64).reshape(n_trees, n_nodes)
    return _split_model(mine, feats, n_trees, depth, n_features, frac_bits)


def _split_model(
    share: U64,
    feats: npt.NDArray[np.int64] | None,
    n_trees: int,
    depth: int,
    n_features: int,
    frac_bits: int,
) -> ModelShares:
    n_nodes, n_leaves = (1 << depth) - 1, 1 << depth
    a = n_trees * n_nodes
    b = a + n_trees * n_leaves
    thr = Shared(np.ascontiguousarray(share[:a].reshape(n_trees, n_nodes)), 0, -KEY_MAX, KEY_MAX)
    leaves = Shared(np.ascontiguousarray(share[a:b].reshape(n_trees, n_leaves)), frac_bits)
    base = Shared(np.ascontiguousarray(share[b : b + 1]), frac_bits)
    sel = None
    if feats is None:
        onehot = np.ascontiguousarray(share[b + 1 :].reshape(n_trees, n_nodes, n_features))
        sel = Shared(onehot, 0, 0, 1)
    return ModelShares(thr, leaves, base, feats, sel, n_features, depth)


async def share_queries(
    ctx: Context,
    client: int,
    X: Any,
    n_features: int,
    *,
    n_queries: int | None = None,
) -> Shared:
    """The client secret-shares the keys of its ``(Q, n_features)`` queries: 1 round.

    Others pass ``X = None``; they learn Q from the message size unless ``n_queries`` fixes
    it.  The client refuses missing or infinite values (InputError) before sending anything.
    The client sends ``8 * (n - 1) * Q * F`` bytes.
    """
    ctx = ctx.scope("share_queries")
    if client not in ctx.parties:
        raise LocalProtocolError(f"client {client} is not a party of this job")
    if ctx.party_id == client:
        keys = query_keys(X, n_features)
        if n_queries is not None and keys.shape[0] != n_queries:
            raise InputError(f"{keys.shape[0]} queries given, the job expects {n_queries}")
        shares = additive.share(keys.view(np.uint64).reshape(-1), ctx.n)
        out = {p: s for p, s in zip(ctx.parties, shares, strict=True) if p != client}
        await ctx.exchange(out, expect_from=())
        mine = np.ascontiguousarray(shares[ctx.index].reshape(-1, n_features))
        return Shared(mine, 0, -KEY_MAX, KEY_MAX)
    spec = None if n_queries is None else ArraySpec(np.uint64, (n_queries * n_features,))
    got = (await ctx.exchange({}, expect_from=(client,), expect=spec))[client]
    ok = isinstance(got, np.ndarray) and got.dtype == np.uint64 and got.ndim == 1
    if not ok or got.size == 0 or got.size % n_features:
        raise RemoteProtocolError(
            f"query shares must be a non-empty uint64 vector of a multiple of {n_features}",
            peer=f"party:{client}",
        )
    return Shared(np.array(got, dtype=np.uint64).reshape(-1, n_features), 0, -KEY_MAX, KEY_MAX)


# ---- costs -------------------------------------------------------------------------------------
def _path_plan(depth: int) -> list[list[tuple[int, int, int]]]:
    """Rounds of segment products ``(start, l1, l2)``: balanced split, ``ceil(log2 d)`` rounds."""
    rounds: dict[int, list[tuple[int, int, int]]] = {}

    def build(start: int, length: int) -> int:
        if length == 1:
            return 0
        l1 = (length + 1) // 2
        h = 1 + max(build(start, l1), build(start + l1, length - l1))
        rounds.setdefault(h, []).append((start, l1, length - l1))
        return h

    build(0, depth)
    return [rounds[h] for h in sorted(rounds)]


def path_and_gates(depth: int) -> list[int]:
    """AND gates per tree in each path round (e.g. ``[36, 72, 64]`` for depth 6)."""
    return [sum(1 << (s + a + b) for s, a, b in r) for r in _path_plan(depth)]


class Cost(NamedTuple):
    rounds: int
    payload_bytes: int


def _words(nbits: int) -> int:
    return -(-nbits // 64)


def predict_cost(
    n_queries: int,
    n_trees: int,
    depth: int,
    n_features: int,
    n_parties: int,
    *,
    public_features: bool = True,
) -> Cost:
    """Online rounds and payload bytes one party sends in :func:`predict` (exact)."""
    qt = n_queries * n_trees
    m, big_m = qt * ((1 << depth) - 1), qt * (1 << depth)
    w = _words(m)
    gates = path_and_gates(depth)
    words = 2 * big_m + -(-m // 2) + w  # round 1: Beaver masks, c mod 2^32, c bit 32
    words += 2 * w * sum(CMP_AND_PLANES) + sum(2 * _words(g * qt) for g in gates) + _words(big_m)
    rounds = 2 + len(CMP_AND_PLANES) + len(gates)
    if not public_features:
        words += 2 * m * n_features
        rounds += 1
    return Cost(rounds, 8 * (n_parties - 1) * words)


# ---- bit helpers -------------------------------------------------------------------------------
def _pack(bits: Bits) -> U64:
    """Flat 0/1 bits -> uint64 words (bit i of word k is element 64k + i), zero padded."""
    raw = np.packbits(bits.reshape(-1), bitorder="little")
    pad = (-raw.size) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros(pad, dtype=np.uint8)])
    return raw.view("<u8").astype(np.uint64, copy=False)


def _unpack(words: U64, count: int) -> Bits:
    raw = np.ascontiguousarray(words).astype("<u8", copy=False).view(np.uint8)
    return np.unpackbits(raw, count=count, bitorder="little")


def _planes(v: U64, nbits: int) -> U64:
    """Bit-transpose: row i holds bit i of every element, packed 64 elements per word."""
    m = v.size
    nbytes = -(-m // 8)
    out = np.zeros((nbits, _words(m) * 8), dtype=np.uint8)
    low = (v & _MASK32).astype(np.uint32)
    bit = np.empty(m, dtype=np.uint32)
    for i in range(nbits):  # a loop over bit positions; each is one pass over all elements
        np.right_shift(low, np.uint32(i), out=bit)
        np.bitwise_and(bit, np.uint32(1), out=bit)
        out[i, :nbytes] = np.packbits(bit.astype(np.uint8), bitorder="little")
    return out.view("<u8").astype(np.uint64, copy=False)


# ---- rounds ------------------------------------------------------------------------------------
async def _broadcast(ctx: Context, payload: U64) -> dict[int, U64]:
    """One round: every party sends ``payload`` to every peer; returns the peers' payloads."""
    spec = ArraySpec(np.uint64, payload.shape)
    return await ctx.exchange({p: payload for p in ctx.peers}, expect=spec)


async def _open_xor(ctx: Context, words: U64) -> U64:
    total = np.array(words, dtype=np.uint64, copy=True)
    for v in (await _broadcast(ctx, words)).values():
        np.bitwise_xor(total, v, out=total)
    return total


async def _open_add(ctx: Context, x: U64) -> U64:
    flat = np.ascontiguousarray(x.reshape(-1))
    total = flat.copy()
    for v in (await _broadcast(ctx, flat)).values():
        np.add(total, v, out=total)
    return total


async def _open_first(ctx: Context, add64: Sequence[U64], add33: U64) -> tuple[U64, U64]:
    """One round: open the ``add64`` arrays mod 2^64 (concatenated) and ``add33`` mod 2^33.

    ``add33`` travels as 32 + 1 bits per element: the low halves are summed, the bits 32 are
    XORed (the parity of their sum), and the carry of the low sum completes bit 32.
    """
    k, m = sum(a.size for a in add64), add33.size
    n_lo, n_hi = -(-m // 2), _words(m)
    payload = np.zeros(k + n_lo + n_hi, dtype=np.uint64)
    pos = 0
    for a in add64:
        payload[pos : pos + a.size] = a.reshape(-1)
        pos += a.size
    payload[k : k + n_lo].view(np.uint32)[:m] = add33  # setitem truncates mod 2^32
    hi = payload[k + n_lo :].view(np.uint8)
    top = np.right_shift(add33, np.uint64(32)).astype(np.uint8) & np.uint8(1)
    hi[: -(-m // 8)] = np.packbits(top, bitorder="little")
    got = await _broadcast(ctx, payload)
    total64 = payload[:k].copy()
    low = (add33 & _MASK32).astype(np.uint64)
    parity = payload[k + n_lo :].copy()
    for v in got.values():
        np.add(total64, v[:k], out=total64)
        np.add(low, v[k : k + n_lo].view(np.uint32)[:m], out=low)
        np.bitwise_xor(parity, v[k + n_lo :], out=parity)
    low += _unpack(parity, m).astype(np.uint64) << np.uint64(32)
    return total64, low & _MASK33


async def _and_words(ctx: Context, x: U64, y: U64, trip: Mapping[str, U64]) -> U64:
    """One round: XOR shares of ``x & y`` on whole words (Beaver AND triples)."""
    if x.shape != trip["a"].shape:
        raise LocalProtocolError("AND material does not match the circuit size")
    d, e = beaver.mask_pair_xor(x, y, trip["a"], trip["b"])
    opened = await _open_xor(ctx, np.concatenate([d, e]))
    w = x.size
    return beaver.finish_and(opened[:w], opened[w:], trip["a"], trip["b"], trip["c"], ctx.is_first)


async def _less_than(ctx: Context, c33: U64, rb: U64, trips: Sequence[Mapping[str, U64]]) -> Bits:
    """XOR shares of ``[x < t]`` from the opened ``c`` and the mask bits (5 rounds)."""
    m, first = c33.size, ctx.is_first
    notc = ~c33
    g = _planes(rb & notc, KEY_BITS)  # generate: r_i = 1, c_i = 0
    e = _planes(rb ^ notc if first else rb, KEY_BITS)  # propagate: r_i == c_i
    for level, trip in enumerate(trips):
        g_lo, g_hi, e_lo, e_hi = g[0::2], g[1::2], e[0::2], e[1::2]
        if level == len(trips) - 1:
            t = await _and_words(ctx, e_hi.reshape(-1), g_lo.reshape(-1), trip)
            g = g_hi ^ t.reshape(g_hi.shape)
        else:
            both = await _and_words(
                ctx,
                np.concatenate([e_hi, e_hi]).reshape(-1),
                np.concatenate([g_lo, e_lo]).reshape(-1),
                trip,
            )
            t = both.reshape(2 * g_hi.shape[0], -1)
            g, e = g_hi ^ t[: g_hi.shape[0]], t[g_hi.shape[0] :]
    top = (rb >> np.uint64(KEY_BITS)) & np.uint64(1)
    if first:  # [x < t] = NOT bit32(x - t + 2^32) = 1 ^ c_32 ^ r_32 ^ borrow
        top = top ^ ((c33 >> np.uint64(KEY_BITS)) & np.uint64(1)) ^ np.uint64(1)
    return _unpack(g[0], m) ^ top.astype(np.uint8)


async def _leaf_indicators(
    ctx: Context, left: Bits, depth: int, trips: Sequence[Mapping[str, U64]]
) -> Bits:
    """XOR shares of the one-hot leaf indicators ``(Q, T, L)`` from the left bits (Q, T, N)."""
    q, t = left.shape[:2]
    one = np.uint8(1 if ctx.is_first else 0)
    seg: dict[tuple[int, int], Bits] = {}

    def get(start: int, length: int) -> Bits:
        if length == 1 and (start, 1) not in seg:
            b = left[:, :, (1 << start) - 1 : (1 << (start + 1)) - 1]
            seg[(start, 1)] = np.stack([b, b ^ one], axis=-1)
        return seg[(start, length)]

    for rnd, trip in zip(_path_plan(depth), trips, strict=True):
        lefts, rights, shapes = [], [], []
        for s, l1, l2 in rnd:
            a = get(s, l1)[..., None]  # (Q, T, 2^s, 2^l1, 1)
            b = get(s + l1, l2).reshape(q, t, 1 << s, 1 << l1, 1 << l2)
            lefts.append(np.broadcast_to(a, b.shape).reshape(-1))
            rights.append(b.reshape(-1))
            shapes.append((s, l1 + l2, b.size))
        z = await _and_words(ctx, _pack(np.concatenate(lefts)), _pack(np.concatenate(rights)), trip)
        flat = _unpack(z, sum(n for _, _, n in shapes))
        pos = 0
        for s, length, n in shapes:
            seg[(s, length)] = flat[pos : pos + n].reshape(q, t, 1 << s, 1 << length)
            pos += n
    return get(0, depth).reshape(q, t, 1 << depth)


# ---- prediction --------------------------------------------------------------------------------
def _components(q: int, model: ModelShares, public: bool) -> list[Component]:
    t, d, f = model.n_trees, model.depth, model.n_features
    m, big_m = q * t * ((1 << d) - 1), q * t * (1 << d)
    comps = [Component("rbits", (m,))]
    comps += [Component("and", (p * _words(m),)) for p in CMP_AND_PLANES]
    comps += [Component("and", (_words(g * q * t),)) for g in path_and_gates(d)]
    comps += [Component("bit", (big_m,)), Component("triple", (big_m,))]
    if not public:
        comps.append(Component("triple", (m * f,)))
    return comps


def _check_predict(model: ModelShares, queries: Shared, depth: int, public: bool) -> None:
    if not isinstance(model, ModelShares) or not isinstance(queries, Shared):
        raise LocalProtocolError("predict takes ModelShares and a Shared query matrix")
    if model.depth != depth:
        raise LocalProtocolError(f"the model was shared with depth {model.depth}, not {depth}")
    if public and model.features is None:
        raise LocalProtocolError("public_features=True but the model was shared with hidden ones")
    if not public and model.selection is None:
        raise LocalProtocolError("public_features=False but the model has no selection shares")
    shape = queries.shape
    if len(shape) != 2 or shape[0] < 1 or shape[1] != model.n_features or queries.frac_bits:
        raise LocalProtocolError(
            f"queries must be integer key shares of shape (Q >= 1, {model.n_features})"
        )
    require_range(queries, -KEY_MAX, KEY_MAX, "tree inference (query keys)")
    require_range(model.thresholds, -KEY_MAX, KEY_MAX, "tree inference (threshold keys)")


async def _node_values(
    ctx: Context, model: ModelShares, keys: U64, public: bool, trip: Mapping[str, U64] | None
) -> U64:
    """Shares of the compared feature value at every node: ``(Q, T, N)``."""
    if public:
        feats = model.features
        if feats is None:  # pragma: no cover - checked by _check_predict
            raise LocalProtocolError("missing feature indices")
        return np.ascontiguousarray(keys[:, feats])
    sel = model.selection
    if sel is None or trip is None:  # pragma: no cover - checked by _check_predict
        raise LocalProtocolError("missing selection shares")
    q = keys.shape[0]
    shape = (q, *sel.shape)
    x = np.broadcast_to(keys[:, None, None, :], shape).reshape(-1)
    y = np.broadcast_to(sel.share[None], shape).reshape(-1)
    d, e = beaver.mask_pair(np.ascontiguousarray(x), np.ascontiguousarray(y), trip["a"], trip["b"])
    opened = await _open_add(ctx.scope("select"), np.concatenate([d, e]))
    n = x.size
    z = beaver.finish_mul(opened[:n], opened[n:], trip["a"], trip["b"], trip["c"], ctx.is_first)
    return np.ascontiguousarray(z.reshape(shape).sum(axis=-1, dtype=np.uint64))


async def predict(
    ctx: Context,
    model: ModelShares,
    queries: Shared,
    *,
    depth: int,
    public_features: bool = True,
) -> Shared:
    """Shared margins ``(Q,)`` (frac_bits of the leaves) of every query: see the module cost.

    ``queries`` are shares of :func:`~protocols.trees.model.float32_keys` of the features,
    ``(Q, F)``, frac_bits 0.  Reveal the result to the client only; the client applies the
    link (sigmoid for ``binary:logistic``).  Rounds ``7 + ceil(log2 depth)`` (+1 hidden).
    """
    ctx = ctx.scope("trees_predict")
    _check_predict(model, queries, depth, public_features)
    q, t, leaves = queries.shape[0], model.n_trees, 1 << depth
    mats = await ctx.material(_components(q, model, public_features))
    rb, cmp_trips = mats[0], mats[1 : 1 + len(CMP_AND_PLANES)]
    path_trips = mats[1 + len(CMP_AND_PLANES) : -2 if public_features else -3]
    bitmat, leaf_trip = mats[-2:] if public_features else mats[-3:-1]
    sel_trip = None if public_features else mats[-1]
    xs = await _node_values(ctx, model, queries.share, public_features, sel_trip)
    diff = np.subtract(xs, model.thresholds.share[None], dtype=np.uint64).reshape(-1)
    if ctx.is_first:
        diff += np.uint64(1 << KEY_BITS)
    masked = np.add(diff, rb["r"], dtype=np.uint64)
    v = np.ascontiguousarray(np.broadcast_to(model.leaves.share[None], (q, t, leaves)))
    v = v.reshape(-1)
    d, e = beaver.mask_pair(bitmat["t"], v, leaf_trip["a"], leaf_trip["b"])
    opened, c33 = await _open_first(ctx.scope("open"), [d, e], masked)
    big_m = v.size
    tv = beaver.finish_mul(
        opened[:big_m],
        opened[big_m:],
        leaf_trip["a"],
        leaf_trip["b"],
        leaf_trip["c"],
        ctx.is_first,
    )
    left = await _less_than(ctx.scope("compare"), c33, rb["rb"], cmp_trips)
    ind = await _leaf_indicators(ctx.scope("paths"), left.reshape(q, t, -1), depth, path_trips)
    w_share = ind.reshape(-1) ^ np.asarray(bitmat["tb"], dtype=np.uint8)
    w = _unpack(await _open_xor(ctx.scope("leaf"), _pack(w_share)), big_m).astype(np.uint64)
    coef = np.uint64(1) - (w << np.uint64(1))  # 1 - 2w mod 2^64
    z = np.multiply(w, v, out=w)
    z += np.multiply(coef, tv, out=coef)
    margin = z.reshape(q, t * leaves).sum(axis=1, dtype=np.uint64) + model.base.share
    out = np.ascontiguousarray(margin, dtype=np.uint64)
    return Shared(out, model.frac_bits, -MARGIN_BOUND, MARGIN_BOUND)


__all__ = [
    "CMP_AND_PLANES",
    "KEY_BITS",
    "Cost",
    "ModelShares",
    "float32_keys",
    "path_and_gates",
    "predict",
    "predict_cost",
    "share_model",
    "share_queries",
]
