"""protocols.trees.model: loading xgboost JSON, flattening, exact float keys, plaintext margins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.errors import InputError
from protocols.trees.model import (
    KEY_MAX,
    error_bound,
    float32_keys,
    load_model,
    query_keys,
    sigmoid,
)

xgb = pytest.importorskip("xgboost")
datasets = pytest.importorskip("sklearn.datasets")


def _data() -> tuple[np.ndarray, np.ndarray]:
    return datasets.load_breast_cancer(return_X_y=True)


def _train(objective: str, depth: int, rounds: int, seed: int = 0):  # type: ignore[no-untyped-def]
    X, y = _data()
    params = {"objective": objective, "max_depth": depth, "tree_method": "hist", "seed": seed}
    return xgb.train(params, xgb.DMatrix(X, label=y), rounds)


f32 = st.floats(width=32, allow_nan=False, allow_infinity=True, allow_subnormal=True)


@given(st.lists(f32, min_size=2, max_size=50))
@settings(max_examples=200, deadline=None)
def test_keys_preserve_float32_order(values: list[float]) -> None:
    x = np.array(values, dtype=np.float32)
    k = float32_keys(x)
    assert k.dtype == np.int64
    assert np.all(np.abs(k) <= KEY_MAX)
    np.testing.assert_array_equal(x[:, None] < x[None, :], k[:, None] < k[None, :])
    np.testing.assert_array_equal(x[:, None] == x[None, :], k[:, None] == k[None, :])


def test_key_edge_values() -> None:
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    big = np.finfo(np.float32).max
    x = np.array([-np.inf, -big, -1.0, -tiny, -0.0, 0.0, tiny, 1.0, big, np.inf], np.float32)
    k = float32_keys(x)
    assert k[4] == k[5] == 0  # -0.0 == 0.0 as floats, so they must share a key
    assert np.all(np.diff(k[[0, 1, 2, 3, 5, 6, 7, 8, 9]]) > 0)
    assert k[-1] == KEY_MAX and k[0] == -KEY_MAX
    with pytest.raises(InputError, match="NaN"):
        float32_keys(np.array([1.0, np.nan]))


def test_query_keys_refuses_missing_and_infinite_without_values() -> None:
    secret = 123.456
    for bad in (np.nan, np.inf, 1e39):
        with pytest.raises(InputError) as err:
            query_keys(np.array([[secret, bad]]), 2)
        assert "123" not in str(err.value)
    with pytest.raises(InputError, match="shape"):
        query_keys(np.zeros((2, 3)), 2)
    np.testing.assert_array_equal(query_keys([1.0, 2.0], 2), float32_keys([[1.0, 2.0]]))


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
@pytest.mark.parametrize("depth", [1, 3, 6])
def test_flattened_trees_equal_booster_exactly(objective: str, depth: int) -> None:
    booster = _train(objective, depth, 40 if depth < 6 else 100)
    X, _ = _data()
    model = load_model(booster)
    assert model.max_depth() <= depth and model.n_features == 30
    flat = model.flatten(depth + 1 if depth < 6 else depth)  # deeper than needed: padding
    ref = booster.predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_array_equal(flat.predict_margin(X), ref)  # bit for bit
    prob = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(flat.predict(X), prob, rtol=0, atol=1e-6)
    # what the MPC computes: exact fixed-point sum, within the documented bound of the real sum
    leaves = flat.leaf_values(X).astype(np.float64).sum(axis=1) + flat.base_margin
    fixed = flat.fixed_margin(X, 24)
    assert np.max(np.abs(fixed - leaves)) <= error_bound(flat.n_trees, 24)
    assert np.max(np.abs(fixed - ref)) < 1e-3


def test_every_source_form_loads_the_same(tmp_path: Path) -> None:
    booster = _train("binary:logistic", 3, 5)
    path = tmp_path / "m.json"
    booster.save_model(str(path))
    raw = path.read_bytes()
    forms = [booster, str(path), path, raw, json.loads(raw)]
    flats = [load_model(f).flatten(3) for f in forms]
    for f in flats[1:]:
        np.testing.assert_array_equal(f.feature, flats[0].feature)
        np.testing.assert_array_equal(f.threshold, flats[0].threshold)
        np.testing.assert_array_equal(f.leaf, flats[0].leaf)
        assert f.base_margin == flats[0].base_margin


def test_padding_routes_one_way_and_copies_leaves() -> None:
    booster = _train("reg:squarederror", 1, 3)
    flat = load_model(booster).flatten(3)
    assert flat.feature.shape == (3, 7) and flat.leaf.shape == (3, 8)
    # depth-1 trees: only the root is real; every other node is a dummy (+inf, feature 0)
    assert np.all(np.isinf(flat.threshold[:, 1:])) and np.all(flat.feature[:, 1:] == 0)
    np.testing.assert_array_equal(flat.leaf[:, :4], np.repeat(flat.leaf[:, :1], 4, axis=1))
    np.testing.assert_array_equal(flat.leaf[:, 4:], np.repeat(flat.leaf[:, 4:5], 4, axis=1))
    with pytest.raises(InputError, match="deeper"):
        load_model(_train("reg:squarederror", 3, 2)).flatten(2)


def test_reprs_show_sizes_only() -> None:
    booster = _train("binary:logistic", 2, 2)
    model = load_model(booster)
    flat = model.flatten(2)
    for text in (repr(model), repr(flat)):
        assert "trees=2" in text
        for v in flat.threshold.reshape(-1)[:3]:
            assert f"{float(v):.3f}" not in text


def test_unsupported_models_are_refused() -> None:
    X, y = _data()
    multi = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
        xgb.DMatrix(X[:60], label=np.arange(60) % 3),
        1,
    )
    with pytest.raises(InputError, match="objective"):
        load_model(multi)
    dart = xgb.train({"booster": "dart", "objective": "binary:logistic"}, xgb.DMatrix(X, y), 2)
    with pytest.raises(InputError, match="gbtree"):
        load_model(dart)
    with pytest.raises(InputError, match="JSON"):
        load_model(b"not json")
    with pytest.raises(InputError):
        load_model(42)
    doc = json.loads(_train("binary:logistic", 2, 1).save_raw("json"))
    doc["learner"]["gradient_booster"]["model"]["trees"][0]["split_indices"][0] = 99
    with pytest.raises(InputError, match="feature index"):
        load_model(doc)


def test_sigmoid_matches_xgboost_transform() -> None:
    m = np.array([-30.0, -2.5, 0.0, 1e-3, 4.0, 30.0], dtype=np.float32)
    np.testing.assert_allclose(sigmoid(m), 1.0 / (1.0 + np.exp(-m.astype(np.float64))), atol=1e-7)
