"""protocols.trees.binning against XGBoost's own cut points (QuantileDMatrix.get_quantile_cut)."""

from __future__ import annotations

import numpy as np
import pytest

from mpc_runtime.errors import InputError
from protocols.trees.binning import (
    BinCuts,
    bin_index,
    cuts_from_xgboost,
    quantile_cuts,
    sketch_is_exact,
    xgboost_version,
)

pytest.importorskip("xgboost")
datasets = pytest.importorskip("sklearn.datasets")


def _same(a: BinCuts, b: BinCuts) -> None:
    np.testing.assert_array_equal(a.ptr, b.ptr)
    np.testing.assert_array_equal(a.values, b.values)  # bit for bit (float32)
    np.testing.assert_array_equal(a.min_values, b.min_values)


def _cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    X, _ = datasets.load_breast_cancer(return_X_y=True)
    with_nan = rng.normal(size=(800, 3))
    with_nan[rng.random(with_nan.shape) < 0.2] = np.nan
    return [
        ("breast_cancer", X),
        ("normal_3000", rng.normal(size=(3000, 4))),
        ("few_values", rng.integers(0, 40, size=(2500, 3)).astype(float)),
        ("with_nan", with_nan),
        ("tiny", rng.normal(size=(7, 2))),
        ("binary", rng.integers(0, 2, size=(5000, 2)).astype(float)),
        ("ten_values", rng.integers(-5, 5, size=(5000, 2)) * 0.5),
    ]


@pytest.mark.parametrize("max_bin", [2, 16, 64, 256])
def test_cuts_equal_xgboost_where_its_sketch_is_exact(max_bin: int) -> None:
    if xgboost_version() >= (3, 3):
        pytest.skip("xgboost >= 3.3 changed its cut algorithm; 2.x-3.2 are matched exactly")
    checked = 0
    for _name, X in _cases():
        n_distinct = max(np.unique(c[~np.isnan(c)]).size for c in X.T)
        n = int(np.max(np.sum(~np.isnan(X), axis=0)))
        if not (sketch_is_exact(n, max_bin) or n_distinct <= max_bin):
            continue
        ours, ref = quantile_cuts(X, max_bin), cuts_from_xgboost(X, max_bin)
        _same(ours, ref)
        np.testing.assert_array_equal(bin_index(X, ours), bin_index(X, ref))
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("max_bin", [4, 16, 64])
def test_cuts_stay_within_the_sketch_rank_error_elsewhere(max_bin: int) -> None:
    rng = np.random.default_rng(max_bin)
    X = np.concatenate([rng.normal(size=(20000, 2)), rng.exponential(size=(20000, 1))], axis=1)
    assert not sketch_is_exact(X.shape[0], max_bin)
    ours, ref = quantile_cuts(X, max_bin), cuts_from_xgboost(X, max_bin)
    np.testing.assert_array_equal(ours.n_bins(), ref.n_bins())
    for f in range(X.shape[1]):
        col = np.sort(X[:, f].astype(np.float32))
        ra = np.searchsorted(col, ours.feature(f)[:-1])
        rb = np.searchsorted(col, ref.feature(f)[:-1])
        assert np.max(np.abs(ra - rb)) <= 0.25 * X.shape[0] / max_bin


def test_bin_index_semantics() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    cuts = quantile_cuts(X, 8)
    assert np.all(cuts.n_bins() <= 8)
    b = bin_index(X, cuts)
    for f in range(3):
        c = cuts.feature(f)
        lower = np.concatenate([[-np.inf], c])[b[:, f]]
        upper = c[b[:, f]]
        x = X[:, f].astype(np.float32)
        assert np.all(lower <= x) and np.all(x < upper)  # bin i: cut[i-1] <= x < cut[i]
    assert np.all(np.bincount(b[:, 0]) > 0)
    # out-of-range values clamp to the first/last bin; missing values get -1
    probe = np.array([[-1e9, np.nan, 1e9]])
    got = bin_index(probe, cuts)[0]
    assert got[0] == 0 and got[1] == -1 and got[2] == cuts.n_bins()[2] - 1
    indptr, data = cuts.xgboost_layout()  # the <= 3.2 layout: lower bound first
    assert indptr[-1] == data.size == cuts.values.size + 3


def test_bad_input() -> None:
    with pytest.raises(InputError, match="max_bin"):
        quantile_cuts(np.zeros((3, 2)), 1)
    with pytest.raises(InputError, match="infinite"):
        quantile_cuts(np.array([[1.0], [np.inf]]))
    with pytest.raises(InputError, match="2-D"):
        quantile_cuts(np.zeros(5))
    with pytest.raises(InputError, match="columns"):
        bin_index(np.zeros((2, 3)), quantile_cuts(np.zeros((4, 2))))
