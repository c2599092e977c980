"""Split finding on shares: XGBoost's gain for every candidate, the best split per node, leaves.

What it is for: one level of histogram-based tree growth (Chen and Guestrin, "XGBoost: A
Scalable Tree Boosting System", KDD 2016, eq. 7) on secret shares, following the structure of
XORBoost (Deforth, Desgroseilliers, Gama, Georgieva, Jetchev, Vuille, "XORBoost: Tree Boosting
in the Multiparty Computation Setting", PoPETs 2022(4), section 4: gains from shared gradient
histograms, a secure argmax over all (feature, threshold) candidates, nothing revealed).

Input per node (R nodes of one level): the node's gradient and hessian sums ``G, H`` and the
cumulative histograms ``GL[k], HL[k]`` of the K candidates (candidate ``k`` sends the samples
with ``bin <= b`` left).  Candidate scores, as XGBoost's ``hist`` evaluator computes them
(``CalcSplitGain`` with ``alpha = 0``, no ``max_delta_step``)::

    score_k = GL^2 / (HL + lambda) + GR^2 / (HR + lambda),     GR = G - GL, HR = H - HL,

valid iff ``HL >= min_child_weight`` and ``HR >= min_child_weight``.  Candidate 0 is "no split"
(every sample goes left) with score ``G^2 / (H + lambda) + gamma``; an invalid candidate scores
0 (never above candidate 0, as ``G^2 / (H + lambda) >= 0``).  The argmax keeps the lowest index
among equal maxima, so a split wins only with ``gain = score - G^2 / (H + lambda) > gamma``
(XGBoost: ``> 1e-6`` and ``>= gamma``), and ties go to the lower feature, then the lower bin,
as in XGBoost's forward enumeration.  A node that does not split sends all its samples to its
left child, which then has the same statistics and again does not split: the flattened tree
of :mod:`protocols.trees.model` (dummy nodes with threshold ``+inf``).

Protocol per level (all nodes and candidates at once; ``S = 2K + 1`` sides per node: the
parent, K left and K right):

1. (8 rounds) one comparison batch: ``D = H_side + lambda`` against the powers of 4 between
   its public bounds (normalization, :mod:`protocols.trees.approx`) and the
   ``2K`` validity tests.
2. (14 rounds) ``y = D 4^-J`` and ``a = G_side 2^-J`` together, then ``y x0`` and ``a^2`` and
   ``valid = vL vR``, then 4 Goldschmidt steps (the first also zeroes ``a^2`` of invalid
   candidates), then ``score = a^2 x`` and ``u = a x`` (``G/D = u 2^-J``, kept for leaves).
3. (``9 ceil(log2(K + 1))`` rounds) a tournament argmax per node (comparisons, then one
   batched selection of the score and the candidate index), as in :mod:`protocols.select`.
4. (8 rounds) the one-hot of the winner by equality tests against ``0..K``.

Leaves (:func:`leaf_weights`, 4 rounds): the chosen candidate's ``u`` and ``2^-J`` of both sides
by one-hot inner products, ``w = -eta u 2^-J``.

Comparison rounds above are those of the default tree protocol of :mod:`protocols.compare`
(8); a job's ``params["comparison"] = "constant"`` (dealer only) makes every comparison and
equality here 4 rounds: ``L = 2c + 14 + ceil(log2(K + 1)) (c + 1)`` rounds per level in general
(:func:`protocols.trees.training.tree_rounds`).

Costs per level with R nodes (comparisons ``C`` and products ``P``; bytes ~ ``39.4 (n - 1)``
per comparison and ``16 (n - 1)`` per product plus ``8 (n - 1)`` per truncation):
``C = R ((2K + 1) nJ + 2K + K + (K + 1))``, ``P ~ R (2K + 1) 12 + 2 R K``, where ``nJ`` is the
number of powers of 4 between ``lambda`` and ``N / 4 + lambda`` (5 for ``N = 10^4``,
``lambda = 1``).  Rounds: ``30 + 9 ceil(log2(K + 1))``.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``protocols.*``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.trees.approx import Recip, RecipPlan, scales, threshold_pairs
from protocols.trees.batch import eq_public, ge_public, lt_many, mul_many, truncate_many
from protocols.types import Shared, concat, contig, public

ETA_BITS = 20
"""Fractional bits of the learning rate when it scales the leaf weights."""


@dataclass(frozen=True)
class Regularization:
    """XGBoost's public split and leaf parameters, encoded at the working scale ``frac_bits``."""

    reg_lambda: float
    gamma: float
    min_child_weight: float
    eta: float
    frac_bits: int

    def enc(self, v: float) -> int:
        return round(v * 2**self.frac_bits)


@dataclass(eq=False, repr=False)
class LevelSplits:
    """The outcome of one level: the winners' one-hots and what the leaves need."""

    onehot: Shared  # (R, K + 1) 0/1, column 0 = no split
    u_left: Shared  # (R, K + 1) G/D * 2^J of the left side (column 0: the whole node)
    u_right: Shared  # (R, K + 1) (column 0: 0)
    hs_left: Shared  # (R, K + 1) 2^-J of the left side
    hs_right: Shared  # (R, K + 1)

    def __repr__(self) -> str:
        return f"LevelSplits(nodes={self.onehot.shape[0]}, candidates={self.onehot.shape[1]})"


def _sides(g: Shared, gl: Shared) -> Shared:
    """``[G, GL, G - GL]`` per node: ``(R, 2K + 1)`` with G's bounds (a subset sum of G's)."""
    r, k = gl.shape
    gcol = Shared(contig(g.share.reshape(r, 1)), g.frac_bits, g.lo, g.hi)
    right = Shared(contig(np.broadcast_to(gcol.share, (r, k))), g.frac_bits, g.lo, g.hi) - gl
    lo, hi = min(g.lo, gl.lo), max(g.hi, gl.hi)
    out = concat([gcol, gl.with_bounds(lo, hi), right.with_bounds(lo, hi)], axis=1)
    return out.with_bounds(lo, hi)


async def level_splits(
    ctx: Context,
    g: Shared,
    h: Shared,
    gl: Shared,
    hl: Shared,
    reg: Regularization,
    plan: RecipPlan,
) -> LevelSplits:
    """The best candidate of every node of a level; see the module docstring (rounds, bytes)."""
    ctx = ctx.scope("level_splits")
    f = reg.frac_bits
    if gl.shape != hl.shape or len(gl.shape) != 2 or g.shape != (gl.shape[0],):
        raise LocalProtocolError("level_splits: shapes of the statistics do not match")
    r, k = gl.shape
    gs, hs_raw = _sides(g, gl), _sides(h, hl)
    d = hs_raw.add_public(reg.enc(reg.reg_lambda), ctx.is_first)
    d = d.with_bounds(max(d.lo, reg.enc(reg.reg_lambda)), d.hi)
    mcw = reg.enc(reg.min_child_weight)
    checks = threshold_pairs(d, plan)
    if mcw > 0:
        checks.append((Shared(contig(hs_raw.share[:, 1:]), f, hs_raw.lo, hs_raw.hi), mcw))
    bits = await ge_public(ctx, checks)
    s, hs = scales(ctx, bits[: len(plan.thresholds)], plan, d.shape)
    rec = Recip(ctx, d, s, f)
    extra: list[tuple[Shared, Shared, int]] = [(gs, hs, plan.h_bits)]
    valid: Shared | None = None
    if mcw > 0:
        ok = bits[-1]
        extra.append(
            (Shared(contig(ok.share[:, :k]), 0, 0, 1), Shared(contig(ok.share[:, k:]), 0, 0, 1), 0)
        )
    res = rec.take(await mul_many(ctx, [*rec.items(), *extra]))
    a = res[0]
    if mcw > 0:
        v = res[1]
        one = public(np.ones((r, 1), dtype=np.int64), ctx.is_first)
        valid = concat([one, v, v], axis=1).with_bounds(0, 1)
    (a2,) = rec.take(await mul_many(ctx, [*rec.items(), (a, a, f)]))
    if valid is not None:
        (a2,) = rec.take(await mul_many(ctx, [*rec.items(), (a2, valid, 0)]))
    while not rec.done:
        rec.take(await mul_many(ctx, rec.items()))
    x = rec.x
    if x is None:  # pragma: no cover
        raise LocalProtocolError("reciprocal did not finish")
    score, u = await mul_many(ctx, [(a2, x, f), (a, x, f)])
    cand = _candidates(ctx, score, reg, k)
    best = await argmax_rows(ctx, cand)
    onehot = await eq_public(
        ctx,
        Shared(contig(np.broadcast_to(best.share[:, None], (r, k + 1))), 0, 0, k),
        np.broadcast_to(np.arange(k + 1, dtype=np.int64), (r, k + 1)),
    )
    zero = Shared(np.zeros((r, 1), dtype=np.uint64), f, 0, 0)
    u_right = concat([zero, u[:, k + 1 :]], axis=1)
    hz = Shared(np.zeros((r, 1), dtype=np.uint64), hs.frac_bits, 0, 0)
    hs_right = concat([hz, hs[:, k + 1 :]], axis=1)
    return LevelSplits(onehot, u[:, : k + 1], u_right, hs[:, : k + 1], hs_right)


def _candidates(ctx: Context, score: Shared, reg: Regularization, k: int) -> Shared:
    """``[parent + gamma, score_L + score_R for every candidate]``: ``(R, K + 1)``."""
    r = score.shape[0]
    parent = Shared(contig(score.share[:, :1]), score.frac_bits, score.lo, score.hi)
    parent = parent.add_public(reg.enc(reg.gamma), ctx.is_first)
    pair = score[:, 1 : k + 1] + score[:, k + 1 :]
    lo, hi = min(parent.lo, pair.lo), max(parent.hi, pair.hi)
    out = concat([parent.with_bounds(lo, hi), pair.with_bounds(lo, hi)], axis=1)
    if out.shape != (r, k + 1):  # pragma: no cover
        raise LocalProtocolError("candidate table has the wrong shape")
    return out


async def argmax_rows(ctx: Context, v: Shared) -> Shared:
    """The index of the maximum of every row of ``v`` (lowest index on ties): 9 rounds per
    tournament level, ``ceil(log2 m)`` levels for m columns."""
    ctx = ctx.scope("argmax_rows")
    r, m = v.shape
    vals = v.share
    ids = public(np.broadcast_to(np.arange(m, dtype=np.int64), (r, m)), ctx.is_first).share
    lo, hi = v.bounds
    while vals.shape[1] > 1:
        width = vals.shape[1]
        p = width // 2
        a, b = contig(vals[:, 0 : 2 * p : 2]), contig(vals[:, 1 : 2 * p : 2])
        ia, ib = contig(ids[:, 0 : 2 * p : 2]), contig(ids[:, 1 : 2 * p : 2])
        av, bv = Shared(a, 0, lo, hi), Shared(b, 0, lo, hi)
        (sel,) = await lt_many(ctx, [(av, bv)])
        dv = Shared(contig(b - a), 0, lo - hi, hi - lo)
        di = Shared(contig(ib - ia), 0, -m, m)
        pv, pi = await mul_many(ctx, [(sel, dv, 0), (sel, di, 0)])
        new_v, new_i = a + pv.share, ia + pi.share
        if width % 2:
            new_v = np.concatenate([new_v, vals[:, width - 1 :]], axis=1)
            new_i = np.concatenate([new_i, ids[:, width - 1 :]], axis=1)
        vals, ids = contig(new_v), contig(new_i)
    return Shared(contig(ids[:, 0]), 0, 0, m - 1)


async def leaf_weights(ctx: Context, level: LevelSplits, reg: Regularization) -> Shared:
    """Leaf weights ``-eta G / (H + lambda)`` of both children of every node: ``(2R,)`` in
    leaf order (left child of node i at ``2i``): 4 rounds."""
    ctx = ctx.scope("leaf_weights")
    oh = level.onehot
    picks = await mul_many(
        ctx,
        [
            (oh, level.u_left, 0),
            (oh, level.hs_left, 0),
            (oh, level.u_right, 0),
            (oh, level.hs_right, 0),
        ],
    )
    ul, sl, ur, sr = (_row_pick(p) for p in picks)
    hb = level.hs_left.frac_bits
    wl, wr = await mul_many(ctx, [(ul, sl, hb), (ur, sr, hb)])
    r = ul.shape[0]
    w = Shared(
        contig(np.stack([wl.share, wr.share], axis=1).reshape(2 * r)),
        reg.frac_bits,
        min(wl.lo, wr.lo),
        max(wl.hi, wr.hi),
    )
    eta = round(reg.eta * 2**ETA_BITS)
    (scaled,) = await truncate_many(
        ctx,
        [
            (
                Shared(w.mul_public(eta).share, reg.frac_bits + ETA_BITS, w.lo * eta, w.hi * eta),
                ETA_BITS,
            )
        ],
    )
    return -scaled


def _row_pick(p: Shared) -> Shared:
    """Sum of a one-hot-masked row: the selected entry (its bounds are the entries' bounds)."""
    lo, hi = min(p.lo, 0), max(p.hi, 0)
    return Shared(contig(p.share.sum(axis=1, dtype=np.uint64)), p.frac_bits, lo, hi)


__all__ = [
    "ETA_BITS",
    "LevelSplits",
    "Regularization",
    "argmax_rows",
    "leaf_weights",
    "level_splits",
]
