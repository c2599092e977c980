"""Private XGBoost training (``binary:logistic``, ``hist``, depthwise) on secret shares.

What it is for: parties holding a data set split **vertically** (every party some columns of
the same rows; one party the labels) or **horizontally** (every party some rows with all
columns and their labels) train gradient-boosted trees together; the model is revealed only to
its designated recipients (as arrays :mod:`protocols.trees.export` turns into an xgboost JSON
model) or stays secret-shared for :func:`protocols.trees.inference.predict`.  Structure after
XORBoost (Deforth et al., PoPETs 2022(4)): quantized features, per-node gradient histograms,
split gains and an argmax on shares, node membership as shared indicator vectors, nothing
revealed in between; XGBoost's algorithm itself: Chen and Guestrin, KDD 2016.

**What is public**: the number of rows N and features F, who owns which columns (vertical) or
how many rows each party has (horizontal), ``max_bin``, the hyper-parameters (trees, depth,
eta, lambda, gamma, min_child_weight, base_score) and the fixed-point scale.  Vertical: each
column's owner computes its cut points locally (:func:`protocols.trees.binning.quantile_cuts`,
XGBoost's sketch) and they never leave it, not even their number (every feature is padded to
``max_bin`` bins; padding candidates can never win); horizontal: the cut values are computed
by secure bisection (:mod:`protocols.trees.cuts`) and become public to the compute parties.
Nothing else is revealed: no histogram, gain, gradient, split, sample path or leaf value;
only the final model to its recipients.

Per tree (d levels, K = F (max_bin - 1) candidates, helper backend):

1. gradients: ``p = sigmoid(margin)`` (:func:`protocols.trees.approx.sigmoid`, 17 rounds;
   the first tree uses the public base margin exactly), ``g = p - y``, ``h = p (1 - p)``;
2. per level l with ``R = 2^l`` nodes: histograms ``M^T [a g, a h]`` of the left children
   (1 round; right = parent - left; :mod:`protocols.trees.privmat`: ``M`` is the N x K
   matrix of bin indicators ``[bin(x_if) <= b]``, plaintext to its owners), the best split per
   node (:func:`protocols.trees.split.level_splits`), the direction of every sample
   ``M s + s_0`` (1 round) and the children's ``(a, a g, a h)`` by one product round;
3. leaves: ``-eta G / (H + lambda)`` (4 rounds) and the margin update (1 round).

Rounds per tree (exact, :func:`tree_rounds`; ``c`` the rounds of one comparison, 8 for the
default tree protocol of :mod:`protocols.compare`, 4 with ``params["comparison"] =
"constant"``): ``s + 1 + (d - 1)(L + 3) + L + 7`` with the sigmoid ``s = c + 9`` (0 for the
first tree) and a level's split finding ``L = 2c + 14 + ceil(log2(K + 1)) (c + 1)``: 478 for
d = 4, K = 450, c = 8 (461 for the first tree).  Bytes are dominated by ``~ 11 N`` comparisons
(sigmoid), ``~ 16 N (3 (2^(d-1) - 1) + 2^(d-1) + 2^d)`` bytes of products per party and peer
(node membership, margins) and ``R (2K + 1)`` reciprocals per level of R nodes; the tests
and the benchmark read exact numbers from the ledger.

The security model is that of the private-matrix backend: ``helper`` (3 parties, honest
majority, semi-honest) or ``beaver`` (any n, dishonest majority, small data), plus the
preprocessing provider's (a trusted dealer, or OT among the parties).

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``protocols.*``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError, LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.compare import rounds as compare_rounds
from protocols.io import share_inputs
from protocols.trees import privmat
from protocols.trees.approx import MAX_SIGMOID_FRAC_BITS, recip_plan, sigmoid
from protocols.trees.batch import mul_many
from protocols.trees.binning import BinCuts, bin_index, quantile_cuts
from protocols.trees.cuts import secure_cuts
from protocols.trees.inference import ModelShares
from protocols.trees.model import KEY_MAX, float32_keys
from protocols.trees.split import Regularization, leaf_weights, level_splits
from protocols.types import Shared, concat, contig, public, stack

SPLITS = ("vertical", "horizontal")


@dataclass(frozen=True)
class TrainParams:
    """Public hyper-parameters (XGBoost's names; ``objective = binary:logistic``)."""

    n_trees: int = 5
    max_depth: int = 4
    eta: float = 0.3
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0
    base_score: float = 0.5
    max_bin: int = 16
    frac_bits: int | None = None
    mode: str = "auto"

    def check(self) -> None:
        ints = (
            ("n_trees", self.n_trees, 1, 1000),
            ("max_depth", self.max_depth, 1, 10),
            ("max_bin", self.max_bin, 2, 256),
        )
        for name, v, lo, hi in ints:
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise LocalProtocolError(f"{name} must be an integer in [{lo}, {hi}]")
        if not 0 < self.eta <= 1 or not 0.25 <= self.reg_lambda <= 1e4:
            raise LocalProtocolError("need 0 < eta <= 1 and 0.25 <= reg_lambda <= 1e4")
        if not 0 <= self.gamma <= 1e4 or not 0 <= self.min_child_weight <= 1e4:
            raise LocalProtocolError("gamma and min_child_weight must lie in [0, 1e4]")
        if not 0 < self.base_score < 1:
            raise LocalProtocolError("base_score must lie in (0, 1)")
        if self.mode not in ("auto", *privmat.MODES):
            raise LocalProtocolError(f"mode must be auto or one of {privmat.MODES}")

    @property
    def base_margin(self) -> float:
        return math.log(self.base_score / (1 - self.base_score))


def default_frac_bits(n_rows: int) -> int:
    """The largest scale <= 16 for which ``G^2 / D`` of N samples stays below 2^62."""
    return max(8, min(MAX_SIGMOID_FRAC_BITS, math.floor((61 - 2 * math.log2(n_rows)) / 2)))


@dataclass(frozen=True)
class Layout:
    """The public shape of the data: who holds which part.

    Vertical: ``feature_owners[f]`` holds column f of all N rows, ``label_owner`` the labels.
    Horizontal: ``row_counts`` lists ``(party, rows)``, the rows in that order.
    """

    split: str
    n_rows: int
    n_features: int
    max_bin: int
    feature_owners: tuple[int, ...] = ()
    row_counts: tuple[tuple[int, int], ...] = ()
    label_owner: int = 0

    def check(self, parties: Sequence[int]) -> None:
        if self.split not in SPLITS:
            raise LocalProtocolError(f"split must be one of {SPLITS}")
        if self.n_rows < 2 or self.n_features < 1:
            raise LocalProtocolError("need at least 2 rows and 1 feature")
        if self.split == "vertical":
            if len(self.feature_owners) != self.n_features or self.label_owner not in parties:
                raise LocalProtocolError("vertical layout: one owner per feature and a label owner")
            if any(p not in parties for p in self.feature_owners):
                raise LocalProtocolError("a feature owner is not a party of this job")
        else:
            if sum(c for _, c in self.row_counts) != self.n_rows:
                raise LocalProtocolError("horizontal layout: row counts must add up to N")
            if any(p not in parties or c < 0 for p, c in self.row_counts):
                raise LocalProtocolError("horizontal layout: bad party or row count")

    @property
    def per_feature(self) -> int:
        return self.max_bin - 1

    @property
    def n_candidates(self) -> int:
        return self.n_features * self.per_feature

    def candidate_features(self) -> npt.NDArray[np.int64]:
        """Feature index of each candidate (column of M)."""
        return np.repeat(np.arange(self.n_features, dtype=np.int64), self.per_feature)

    def row_ranges(self) -> list[tuple[int, int, int]]:
        out, start = [], 0
        for p, c in self.row_counts:
            out.append((p, start, start + c))
            start += c
        return out

    def my_features(self, party: int) -> list[int]:
        return [f for f, p in enumerate(self.feature_owners) if p == party]

    def blocks(self) -> list[privmat.Block]:
        """Blocks of the indicator matrix ``M`` (N x K)."""
        if self.split == "horizontal":
            return [
                privmat.Block(p, a, b, 0, self.n_candidates)
                for p, a, b in self.row_ranges()
                if b > a
            ]
        out: list[privmat.Block] = []
        k = self.per_feature
        for f, p in enumerate(self.feature_owners):
            if out and out[-1].owner == p and out[-1].col1 == f * k:
                last = out.pop()
                out.append(privmat.Block(p, 0, self.n_rows, last.col0, (f + 1) * k))
            else:
                out.append(privmat.Block(p, 0, self.n_rows, f * k, (f + 1) * k))
        return out


def thermometer(bins: npt.NDArray[np.int32], per_feature: int) -> npt.NDArray[np.uint64]:
    """``[bin <= b]`` for ``b = 0 .. per_feature - 1`` per column: ``(rows, cols * per)``."""
    b = np.arange(per_feature, dtype=np.int32)
    return (bins[:, :, None] <= b[None, None, :]).reshape(bins.shape[0], -1).astype(np.uint64)


def padded_cut_keys(cuts: BinCuts, per_feature: int) -> npt.NDArray[np.int64]:
    """Keys of the thresholds of every candidate: ``cut[b]`` for real ones, +inf for padding."""
    out = np.full((cuts.n_features, per_feature), KEY_MAX, dtype=np.int64)
    for f in range(cuts.n_features):
        c = cuts.feature(f)[:-1][:per_feature]  # candidates stop before the last bin
        out[f, : c.size] = float32_keys(c)
    return out.reshape(-1)


@dataclass(eq=False, repr=False)
class TreeShares:
    onehots: list[Shared]  # per level: (2^l, K + 1)
    leaves: Shared  # (2^d,)


@dataclass(eq=False, repr=False)
class TrainState:
    """One party's state during training (shares and its own plaintext blocks)."""

    layout: Layout
    params: TrainParams
    frac_bits: int
    reg: Regularization
    matrix: privmat.PrivateMatrix
    cut_matrix: privmat.PrivateMatrix | None  # vertical: the owners' cut keys (1 x K)
    public_cut_keys: npt.NDArray[np.int64] | None  # horizontal
    y: Shared
    margin: Shared | None = None
    trees: list[TreeShares] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"TrainState({self.layout.split}, trees={len(self.trees)})"


def _mode(params: TrainParams, n: int) -> str:
    if params.mode != "auto":
        return params.mode
    return "helper" if n == 3 else "beaver"


def _local_bins(
    layout: Layout, party: int, X: Any, cuts: BinCuts | None
) -> tuple[dict[int, npt.NDArray[np.uint64]], npt.NDArray[np.int64] | None]:
    """This party's indicator blocks (by block index) and, vertical, its cut keys."""
    blocks = layout.blocks()
    mine = [i for i, b in enumerate(blocks) if b.owner == party]
    if not mine:
        return {}, None
    data = np.asarray(X, dtype=np.float64)
    if not np.all(np.isfinite(data.astype(np.float32))):
        raise InputError("data values must be finite float32 numbers (no missing values)")
    if layout.split == "vertical":
        feats = layout.my_features(party)
        if data.shape != (layout.n_rows, len(feats)):
            raise InputError(f"party {party} must hold a ({layout.n_rows}, {len(feats)}) matrix")
        own_cuts = quantile_cuts(data, layout.max_bin)
        therm = thermometer(bin_index(data, own_cuts), layout.per_feature)
        keys = padded_cut_keys(own_cuts, layout.per_feature)
        out, col = {}, 0
        for i in mine:
            width = blocks[i].col1 - blocks[i].col0
            out[i] = therm[:, col : col + width]
            col += width
        return out, keys
    if cuts is None:  # pragma: no cover - horizontal always has cuts
        raise LocalProtocolError("horizontal training needs cut points")
    (i,) = mine
    rows = blocks[i].row1 - blocks[i].row0
    if data.shape != (rows, layout.n_features):
        raise InputError(f"party {party} must hold a ({rows}, {layout.n_features}) matrix")
    return {i: thermometer(bin_index(data, cuts), layout.per_feature)}, None


async def setup(
    ctx: Context, layout: Layout, params: TrainParams, X: Any = None, y: Any = None
) -> TrainState:
    """Bin the data, set up the private matrices and share the labels (see module docstring).

    ``X``: this party's part of the data (vertical: its columns, horizontal: its rows), ``y``:
    its labels (vertical: the label owner only).  Horizontal adds the 320-round cut search.
    """
    ctx = ctx.scope("train_setup")
    params.check()
    layout.check(ctx.parties)
    f = params.frac_bits if params.frac_bits is not None else default_frac_bits(layout.n_rows)
    mode = _mode(params, ctx.n)
    cuts = None
    if layout.split == "horizontal":
        counts = dict(layout.row_counts)
        mine_rows = X if counts.get(ctx.party_id, 0) else None
        cuts = await secure_cuts(ctx, mine_rows, counts, layout.n_features, layout.max_bin)
    blocks, keys = _local_bins(layout, ctx.party_id, X, cuts)
    matrix = await privmat.setup(
        ctx, (layout.n_rows, layout.n_candidates), layout.blocks(), blocks, mode=mode
    )
    cut_matrix, pub_keys = None, None
    if layout.split == "vertical":
        cblocks = [privmat.Block(b.owner, 0, 1, b.col0, b.col1) for b in layout.blocks()]
        cmine = {}
        if keys is not None:
            col = 0
            for i, b in enumerate(cblocks):
                if b.owner == ctx.party_id:
                    width = b.col1 - b.col0
                    cmine[i] = keys[col : col + width].reshape(1, width)
                    col += width
        cut_matrix = await privmat.setup(
            ctx, (1, layout.n_candidates), cblocks, cmine, bounds=(-KEY_MAX, KEY_MAX), mode=mode
        )
    elif cuts is not None:
        pub_keys = padded_cut_keys(cuts, layout.per_feature)
    labels = await _share_labels(ctx, layout, y)
    reg = Regularization(params.reg_lambda, params.gamma, params.min_child_weight, params.eta, f)
    return TrainState(layout, params, f, reg, matrix, cut_matrix, pub_keys, labels)


def _check_labels(y: Any, rows: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(y)
    if arr.shape != (rows,) or not np.all((arr == 0) | (arr == 1)):
        raise InputError(f"labels must be {rows} values in {{0, 1}}")
    return arr.astype(np.int64)


async def _share_labels(ctx: Context, layout: Layout, y: Any) -> Shared:
    if layout.split == "vertical":
        owner = layout.label_owner
        val = _check_labels(y, layout.n_rows) if ctx.party_id == owner else None
        got = await share_inputs(ctx, val, owners=[owner], shape=(layout.n_rows,), bounds=(0, 1))
        return got[owner]
    parts = []
    for p, a, b in layout.row_ranges():  # one round each is avoidable; row counts are public
        if b == a:
            continue
        val = _check_labels(y, b - a) if ctx.party_id == p else None
        got = await share_inputs(ctx, val, owners=[p], shape=(b - a,), bounds=(0, 1))
        parts.append(got[p])
    return concat(parts)


def tree_rounds(
    depth: int, n_candidates: int, *, first: bool = False, comparison: str = "tree"
) -> int:
    """Online rounds of :func:`grow_tree` (see the module docstring)."""
    c = compare_rounds(comparison)
    split = 2 * c + 14 + n_candidates.bit_length() * (c + 1)  # bit_length = ceil(log2(K + 1))
    sig = 0 if first else c + 9
    return sig + 1 + (depth - 1) * (split + 3) + split + 7


# ---- one tree ---------------------------------------------------------------------------------
async def _gradients(ctx: Context, st: TrainState) -> tuple[Shared, Shared]:
    f, n = st.frac_bits, st.layout.n_rows
    y_scaled = Shared(st.y.mul_public(1 << f).share, f, 0, 1 << f)
    if st.margin is None:  # the public base margin: p = base_score exactly
        b = st.params.base_score
        p = public(np.full(n, round(b * 2**f), dtype=np.int64), ctx.is_first, frac_bits=f)
        h = public(np.full(n, round(b * (1 - b) * 2**f), dtype=np.int64), ctx.is_first, frac_bits=f)
    else:
        p, h = await sigmoid(ctx, st.margin)
    return (p - y_scaled).with_bounds(-(1 << f), 1 << f), h


def _transpose(x: Shared) -> Shared:
    return Shared(contig(x.share.T), x.frac_bits, x.lo, x.hi)


def _interleave(left: Shared, right: Shared) -> Shared:
    """Rows ``l0, r0, l1, r1, ...`` (children in heap order)."""
    both = np.stack([left.share, right.share], axis=1)
    return Shared(
        contig(both.reshape(-1, *left.shape[1:])),
        left.frac_bits,
        min(left.lo, right.lo),
        max(left.hi, right.hi),
    )


async def grow_tree(ctx: Context, st: TrainState) -> TreeShares:
    """Train one tree and update the shared margins (see the module docstring)."""
    ctx = ctx.scope("tree")
    lay, f, d = st.layout, st.frac_bits, st.params.max_depth
    n = lay.n_rows
    g, h = await _gradients(ctx, st)
    h_node_hi = n * h.hi
    plan = recip_plan(st.params.reg_lambda, (h_node_hi + st.reg.enc(st.reg.reg_lambda)) / 2**f, f)
    a = public(np.ones((1, n), dtype=np.int64), ctx.is_first)
    ag = Shared(contig(g.share.reshape(1, n)), f, g.lo, g.hi)
    ah = Shared(contig(h.share.reshape(1, n)), f, h.lo, h.hi)
    hist = await privmat.t_times(ctx, st.matrix, _transpose(concat([ag, ah])))
    gl, hl = _transpose(hist[:, :1]), _transpose(hist[:, 1:])
    onehots: list[Shared] = []
    for level in range(d):
        r = 1 << level
        splits = await level_splits(ctx, ag.sum(axis=1), ah.sum(axis=1), gl, hl, st.reg, plan)
        onehots.append(splits.onehot)
        dirs = await _directions(ctx, st, splits.onehot)  # (R, N)
        if level == d - 1:
            (left,) = await mul_many(ctx, [(a, dirs, 0)])
            members = _interleave(left, a - left).with_bounds(0, 1)
            w = await leaf_weights(ctx, splits, st.reg)
            await _update_margin(ctx, st, members, w)
            return TreeShares(onehots, w)
        la, lg, lh = await mul_many(ctx, [(a, dirs, 0), (ag, dirs, 0), (ah, dirs, 0)])
        lg, lh = lg.with_bounds(g.lo, g.hi), lh.with_bounds(h.lo, h.hi)
        new_hist = await privmat.t_times(ctx, st.matrix, _transpose(concat([lg, lh])))
        lgl, lhl = _transpose(new_hist[:, :r]), _transpose(new_hist[:, r:])
        gl = _interleave(lgl, (gl - lgl).with_bounds(gl.lo, gl.hi))
        hl = _interleave(lhl, (hl - lhl).with_bounds(hl.lo, hl.hi))
        a = _interleave(la.with_bounds(0, 1), (a - la).with_bounds(0, 1))
        ag = _interleave(lg, (ag - lg).with_bounds(g.lo, g.hi))
        ah = _interleave(lh, (ah - lh).with_bounds(h.lo, h.hi))
    raise LocalProtocolError("max_depth must be at least 1")  # pragma: no cover


async def _directions(ctx: Context, st: TrainState, onehot: Shared) -> Shared:
    """``[sample goes left]`` for every node: ``M s + s_0`` as ``(R, N)`` 0/1 shares."""
    r, k1 = onehot.shape
    sel = Shared(contig(onehot.share[:, 1:].T), 0, 0, 1)  # (K, R)
    moved = await privmat.times(ctx, st.matrix, sel)  # (N, R)
    total = moved.share.T + onehot.share[:, :1]
    return Shared(contig(total), 0, 0, 1)


async def _update_margin(ctx: Context, st: TrainState, members: Shared, w: Shared) -> None:
    n = st.layout.n_rows
    wide = Shared(contig(np.broadcast_to(w.share[:, None], members.shape)), w.frac_bits, w.lo, w.hi)
    (contrib,) = await mul_many(ctx, [(members, wide, 0)])
    lo, hi = min(w.lo, 0), max(w.hi, 0)  # every sample is in exactly one leaf
    delta = Shared(contig(contrib.share.sum(axis=0, dtype=np.uint64)), w.frac_bits, lo, hi)
    base = st.margin
    if base is None:
        enc = round(st.params.base_margin * 2**st.frac_bits)
        base = public(np.full(n, enc, dtype=np.int64), ctx.is_first, frac_bits=st.frac_bits)
    st.margin = base + delta


async def train(ctx: Context, st: TrainState) -> list[TreeShares]:
    """Grow ``n_trees`` trees (the state keeps them and the margins)."""
    for _ in range(st.params.n_trees):
        st.trees.append(await grow_tree(ctx, st))
    return st.trees


# ---- the model --------------------------------------------------------------------------------
def _all_onehots(st: TrainState) -> Shared:
    """Every internal node of every tree, in heap order: ``(T * (2^d - 1), K + 1)``."""
    rows = [oh for t in st.trees for oh in t.onehots]
    return concat(rows, axis=0).with_bounds(0, 1)


async def model_arrays(ctx: Context, st: TrainState) -> tuple[Shared, Shared, Shared]:
    """``(features, threshold keys, leaves)`` as shares ``(T, 2^d - 1)``, ``(T, 2^d - 1)``,
    ``(T, 2^d)``; 1 round (vertical: the owners' cut keys by a private product)."""
    ctx = ctx.scope("model_arrays")
    lay, t = st.layout, len(st.trees)
    nodes = (1 << st.params.max_depth) - 1
    oh = _all_onehots(st)
    feats = np.concatenate([[0], lay.candidate_features()])
    feat = oh.share @ feats.view(np.uint64)
    features = Shared(contig(feat.reshape(t, nodes)), 0, 0, lay.n_features - 1)
    inf = oh.share[:, 0] * np.uint64(KEY_MAX)
    if st.cut_matrix is not None:
        moved = await privmat.times(ctx, st.cut_matrix, Shared(contig(oh.share[:, 1:].T), 0, 0, 1))
        keys = moved.share[0] + inf
    else:
        if st.public_cut_keys is None:  # pragma: no cover
            raise LocalProtocolError("no cut keys")
        keys = oh.share[:, 1:] @ st.public_cut_keys.view(np.uint64) + inf
    thresholds = Shared(contig(keys.reshape(t, nodes)), 0, -KEY_MAX, KEY_MAX)
    leaves = stack([tr.leaves for tr in st.trees])
    return features, thresholds, leaves


def model_shares(ctx: Context, st: TrainState, thresholds: Shared, leaves: Shared) -> ModelShares:
    """The trained model kept secret-shared, ready for :func:`~protocols.trees.inference.predict`
    with ``public_features=False`` (the one-hot feature selection is shared)."""
    lay, t = st.layout, len(st.trees)
    nodes = (1 << st.params.max_depth) - 1
    oh = _all_onehots(st).share
    sel = oh[:, 1:].reshape(-1, lay.n_features, lay.per_feature).sum(axis=2, dtype=np.uint64)
    sel[:, 0] += oh[:, 0]
    selection = Shared(contig(sel.reshape(t, nodes, lay.n_features)), 0, 0, 1)
    enc = round(st.params.base_margin * 2**st.frac_bits)
    base = public(np.array([enc], dtype=np.int64), ctx.is_first, frac_bits=st.frac_bits)
    return ModelShares(
        thresholds, leaves, base, None, selection, lay.n_features, st.params.max_depth
    )


__all__ = [
    "SPLITS",
    "Layout",
    "TrainParams",
    "TrainState",
    "TreeShares",
    "default_frac_bits",
    "grow_tree",
    "model_arrays",
    "model_shares",
    "padded_cut_keys",
    "setup",
    "thermometer",
    "train",
    "tree_rounds",
]
