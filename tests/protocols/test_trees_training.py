"""protocols.trees.training: private XGBoost training against plaintext xgboost.

The reference is the real ``xgboost`` package trained with the same hyper-parameters on the
same bins (the bin indices as its features, so its own cuts are exactly ours), its trees
flattened like ours.  On small data sets with clear splits the private trees must have the
same structure (features and bins at every node, the same nodes left unsplit), leaves within
``1e-3`` and margins within ``1e-3``; vertical and horizontal, 2 and 3 parties (the helper and
the Beaver private-matrix backends), under both preprocessing providers.  The model goes only
to its recipient, and the model kept shared predicts what the revealed one does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value
from protocols.trees import training
from protocols.trees.binning import BinCuts, bin_index, quantile_cuts
from protocols.trees.cuts import plaintext_cuts
from protocols.trees.export import flat_model
from protocols.trees.inference import predict, share_queries
from protocols.trees.jobs import train_job
from protocols.trees.model import FlatModel, float32_keys, load_model

xgb = pytest.importorskip("xgboost")

OUTS = ("model_features", "model_thresholds", "model_leaves")


def _data(rows: int = 60, features: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clear splits: y depends on thresholds of features 0 and 2 (with a little label noise)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(rows, features))
    y = ((X[:, 0] > 0.2) ^ (X[:, features - 1] < -0.4)).astype(np.int64)
    flip = rng.random(rows) < 0.05
    return X, np.where(flip, 1 - y, y)


def _spec(split: str, n: int, X: np.ndarray, y: np.ndarray) -> tuple[list[Any], list[Any]]:
    """Declarations and per-party inputs (vertical: columns in party order, party 1 labels)."""
    rows, f = X.shape
    decls, inputs = [], []
    for p in range(1, n + 1):
        if split == "vertical":
            cols = [c for c in range(f) if (c * n) // f + 1 == p]
            part: dict[str, Any] = {"X": X[:, cols]}
            decls.append(InputDecl(p, "X", "fixed", (rows, len(cols)), 16, -(2**20), 2**20))
            if p == 1:
                part["y"] = y
                decls.append(InputDecl(1, "y", "int", (rows,), 0, 0, 1))
        else:
            a, b = (p - 1) * rows // n, p * rows // n
            part = {"X": X[a:b], "y": y[a:b]}
            decls.append(InputDecl(p, "X", "fixed", (b - a, f), 16, -(2**20), 2**20))
            decls.append(InputDecl(p, "y", "int", (b - a,), 0, 0, 1))
        inputs.append(part)
    return decls, inputs


def _params(**kw: Any) -> dict[str, Any]:
    base = {"trees": 3, "depth": 2, "max_bin": 6, "eta": 0.3, "lambda": 1.0}
    return {**base, **kw}


async def _train(split: str, n: int, X: np.ndarray, y: np.ndarray, **kw: Any) -> Any:
    decls, inputs = _spec(split, n, X, y)
    return await run_memory(
        n,
        train_job,
        inputs=inputs,
        params=_params(split=split, **kw),
        outputs={o: ["party:1"] for o in OUTS},
        declared=decls,
        round_timeout=60,
    )


def _revealed(run: Any, features: int) -> FlatModel:
    out = run.outputs
    return flat_model(
        out["model_features"],
        out["model_thresholds"],
        out["model_leaves"],
        base_score=0.5,
        n_features=features,
    )


def _reference(X: np.ndarray, y: np.ndarray, cuts: BinCuts, **kw: Any) -> FlatModel:
    p = _params(**kw)
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_bin": 256,
        "max_depth": p["depth"],
        "eta": p["eta"],
        "lambda": p["lambda"],
        "min_child_weight": kw.get("min_child_weight", 1.0),
        "base_score": 0.5,
    }
    booster = xgb.train(params, xgb.DMatrix(bin_index(X, cuts).astype(float), label=y), p["trees"])
    return load_model(booster).flatten(p["depth"])


def _bins_of(flat: FlatModel, cuts: BinCuts) -> np.ndarray:
    """Our thresholds as bins b ("bin <= b" goes left), -1 where a node did not split."""
    out = np.full(flat.feature.shape, -1)
    for idx in zip(*np.nonzero(np.isfinite(flat.threshold)), strict=True):
        c = cuts.feature(int(flat.feature[idx]))
        (pos,) = np.nonzero(float32_keys(c) == float32_keys(flat.threshold[idx]))
        out[idx] = int(pos[0])
    return out


def _assert_same_trees(ours: FlatModel, ref: FlatModel, cuts: BinCuts, X: np.ndarray) -> None:
    split = np.isfinite(ref.threshold)
    assert np.array_equal(np.isfinite(ours.threshold), split), "different nodes left unsplit"
    assert np.array_equal(ours.feature[split], ref.feature[split])
    ref_bins = np.where(split, ref.threshold - 1, -1).astype(int)  # xgboost: bin < b + 1
    assert np.array_equal(_bins_of(ours, cuts), ref_bins)
    margin_ours = ours.predict_margin(X)
    margin_ref = ref.predict_margin(bin_index(X, cuts).astype(np.float64))
    np.testing.assert_allclose(margin_ours, margin_ref, atol=1e-3)
    reached = ref.leaf_paths(bin_index(X, cuts).astype(np.float64))
    t = np.arange(ref.n_trees)[None, :]
    np.testing.assert_allclose(ours.leaf[t, reached], ref.leaf[t, reached], atol=1e-3)


@pytest.mark.parametrize(
    ("split", "n"),
    [
        ("vertical", 2),
        pytest.param("vertical", 3, marks=pytest.mark.dealer_only),
        pytest.param("horizontal", 2, marks=pytest.mark.dealer_only),
        ("horizontal", 3),
    ],
)
async def test_same_trees_as_xgboost(split: str, n: int) -> None:
    X, y = _data()
    runs = await _train(split, n, X, y)
    cuts = quantile_cuts(X, 6) if split == "vertical" else plaintext_cuts(X, 6)
    ours = _revealed(runs[0], X.shape[1])
    _assert_same_trees(ours, _reference(X, y, cuts), cuts, X)
    assert all(not r.outputs for r in runs[1:]), "only the recipient may learn the model"


@pytest.mark.dealer_only
async def test_beaver_backend_with_three_parties_and_deeper_trees() -> None:
    X, y = _data(rows=80, features=4, seed=3)
    runs = await _train("vertical", 3, X, y, mode="beaver", depth=3, min_child_weight=2.0)
    cuts = quantile_cuts(X, 6)
    ref = _reference(X, y, cuts, depth=3, min_child_weight=2.0)
    _assert_same_trees(_revealed(runs[0], 4), ref, cuts, X)


@pytest.mark.dealer_only
async def test_a_pure_node_is_not_split_and_min_child_weight_is_respected() -> None:
    X, y = _data(rows=40, seed=5)
    y = (X[:, 0] > 0.0).astype(np.int64)  # one split separates the classes perfectly
    runs = await _train("vertical", 3, X, y, trees=2, depth=3, min_child_weight=3.0)
    cuts = quantile_cuts(X, 6)
    ours = _revealed(runs[0], 3)
    ref = _reference(X, y, cuts, trees=2, depth=3, min_child_weight=3.0)
    assert not np.all(np.isfinite(ref.threshold)), "the reference has leaves above max depth"
    _assert_same_trees(ours, ref, cuts, X)


@pytest.mark.dealer_only
async def test_model_kept_shared_predicts_like_the_revealed_model() -> None:
    X, y = _data(rows=50, seed=2)
    decls, inputs = _spec("vertical", 3, X, y)
    layout = training.Layout("vertical", 50, 3, 6, feature_owners=(1, 2, 3), label_owner=1)
    params = training.TrainParams(n_trees=2, max_depth=2, max_bin=6)
    queries = np.random.default_rng(9).uniform(-1, 1, size=(7, 3))

    async def prog(ctx: Any) -> Any:
        st = await training.setup(ctx, layout, params, ctx.inputs.get("X"), ctx.inputs.get("y"))
        await training.train(ctx, st)
        feats, thr, leaves = await training.model_arrays(ctx, st)
        model = training.model_shares(ctx, st, thr, leaves)
        qs = await share_queries(ctx, 3, queries if ctx.party_id == 3 else None, 3)
        margin = await predict(ctx, model, qs, depth=2, public_features=False)
        opened = [(await open_value(ctx, v)).view(np.int64) for v in (feats, thr, leaves, margin)]
        return opened, st.frac_bits

    runs = await run_memory(3, prog, inputs=inputs, declared=decls, round_timeout=60)
    (feats, thr, leaves, margin), f = runs[0].result
    flat = flat_model(feats, thr, leaves / 2.0**f, base_score=0.5, n_features=3)
    np.testing.assert_allclose(margin / 2.0**f, flat.predict_margin(queries), atol=1e-4)


def test_layout_and_indicator_helpers() -> None:
    lay = training.Layout("vertical", 5, 4, 4, feature_owners=(1, 1, 3, 1), label_owner=3)
    blocks = lay.blocks()
    assert [(b.owner, b.col0, b.col1) for b in blocks] == [(1, 0, 6), (3, 6, 9), (1, 9, 12)]
    bins = np.array([[0, 3], [2, 1]], dtype=np.int32)
    therm = training.thermometer(bins, 3)
    assert therm.tolist() == [[1, 1, 1, 0, 0, 0], [0, 0, 1, 0, 1, 1]]
    hor = training.Layout("horizontal", 7, 2, 4, row_counts=((2, 3), (1, 4)))
    assert [(b.owner, b.row0, b.row1) for b in hor.blocks()] == [(2, 0, 3), (1, 3, 7)]
    assert training.default_frac_bits(10_000) == 16
    assert training.default_frac_bits(100_000) == 13


@pytest.mark.dealer_only
@pytest.mark.parametrize("comparison", ["tree", "constant"])
async def test_rounds_per_tree_match_the_formula(comparison: str) -> None:
    X, y = _data(rows=40, seed=7)
    runs = await _train("vertical", 3, X, y, trees=2, comparison=comparison)
    k = 3 * 5  # features * (max_bin - 1)
    for run in runs:
        led = run.ledger
        first = led.total(prefix="main/tree#0").rounds
        second = led.total(prefix="main/tree#1").rounds
        assert first == training.tree_rounds(2, k, first=True, comparison=comparison)
        assert second == training.tree_rounds(2, k, comparison=comparison)
    cuts = quantile_cuts(X, 6)
    _assert_same_trees(_revealed(runs[0], 3), _reference(X, y, cuts, trees=2), cuts, X)
