"""protocols.trees.cuts and .export: secure quantiles, keys, and the revealed model as xgboost.

The secure bisection returns exactly the global order statistics that :func:`plaintext_cuts`
computes from all rows in one place (ties and negative values included, 2 and 3 parties);
every opened bit is a bit of a public cut.  Float keys invert exactly.  A model revealed as
arrays becomes an xgboost JSON model that ``xgboost.Booster`` loads and that predicts exactly
what the flattened arrays predict, with dummy subtrees pruned.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mpc_runtime.runtime.memory import run_memory
from protocols.trees.cuts import keys_to_float32, plaintext_cuts, secure_cuts, targets
from protocols.trees.export import flat_model, xgboost_bytes, xgboost_json
from protocols.trees.model import KEY_MAX, float32_keys, load_model

xgb = pytest.importorskip("xgboost")


def test_keys_invert() -> None:
    vals = np.array([0.0, -0.0, 1.5, -1.5, 3.4e38, -3.4e38, 1e-45, -1e-45, np.inf], np.float32)
    back = keys_to_float32(float32_keys(vals))
    assert np.array_equal(back, np.where(vals == 0, 0.0, vals).astype(np.float32))
    assert keys_to_float32(np.array([KEY_MAX]))[0] == np.inf


@pytest.mark.parametrize("n", [2, 3])
async def test_secure_cuts_are_the_global_order_statistics(n: int) -> None:
    rng = np.random.default_rng(n)
    X = np.column_stack(
        [rng.normal(size=30), rng.integers(-2, 3, size=30), -rng.exponential(size=30)]
    )
    counts = {p: len(range(p - 1, 30, n)) for p in range(1, n + 1)}
    rows = {p: X[p - 1 :: n] for p in range(1, n + 1)}

    async def prog(ctx: Any) -> Any:
        return await secure_cuts(ctx, rows[ctx.party_id], counts, 3, 5)

    runs = await run_memory(n, prog)
    want = plaintext_cuts(X, 5)
    for run in runs:
        got = run.result
        assert np.array_equal(got.ptr, want.ptr) and np.array_equal(got.values, want.values)
    srt = np.sort(X[:, 0].astype(np.float32))
    assert np.array_equal(want.feature(0)[:-1], srt[targets(30, 5)])
    assert want.feature(1)[:-1].tolist() == sorted(
        set(want.feature(1)[:-1].tolist())
    )  # ties merged


def _booster(depth: int = 3, rounds: int = 4) -> Any:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    params = {
        "objective": "binary:logistic",
        "max_depth": depth,
        "tree_method": "hist",
        "seed": 1,
        "min_child_weight": 30,
        "base_score": 0.5,
    }
    return xgb.train(params, xgb.DMatrix(X, label=y), rounds), X


def test_revealed_arrays_become_an_xgboost_model() -> None:
    booster, X = _booster()
    ref = load_model(booster).flatten(3)
    assert not np.all(np.isfinite(ref.threshold)), "want dummy nodes to prune"
    flat = flat_model(ref.feature, ref.threshold_keys(), ref.leaf, base_score=0.5, n_features=30)
    model = xgboost_json(flat, 0.5)
    b2 = xgb.Booster()
    b2.load_model(bytearray(xgboost_bytes(flat, 0.5)))
    got = b2.predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_array_equal(got, flat.predict_margin(X))
    np.testing.assert_array_equal(got, booster.predict(xgb.DMatrix(X), output_margin=True))
    again = load_model(json.loads(json.dumps(model))).flatten(3)
    np.testing.assert_array_equal(again.predict_margin(X), flat.predict_margin(X))
    sizes = [
        int(t["tree_param"]["num_nodes"])
        for t in model["learner"]["gradient_booster"]["model"]["trees"]
    ]
    assert max(sizes) <= 15 and min(sizes) < 15  # pruned where a node did not split
