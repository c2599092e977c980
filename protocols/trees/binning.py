"""Quantile bin edges per feature, as XGBoost's ``hist`` tree method builds them, and binning.

What it is for: the later private-training step works on bin indices instead of raw feature
values (as XGBoost ``hist`` does): every feature is cut into at most ``max_bin`` bins by
quantile cut points, a data matrix becomes a matrix of small integers, and a split "bin <= i"
is the split "x < cut[i]" on raw values.  This module is plaintext (no MPC): the data owner
runs it locally, or the parties agree on public cuts.

How the cuts are chosen (XGBoost 2.x-3.2 ``HostSketchContainer``, ``src/common/quantile.{h,cc}``;
the weighted quantile summary is from T. Chen and C. Guestrin, "XGBoost: A Scalable Tree
Boosting System", KDD 2016, appendix): per feature, on the float32 values with NaN dropped,

1. the exact weighted summary of the sorted unique values ``v_i`` with ranks
   ``rmin_i = #{x < v_i}``, ``rmax_i = #{x <= v_i}``, ``wmin_i = #{x = v_i}``;
2. three prunes with XGBoost's ``WQSummary::SetPrune`` (float32 rank arithmetic): to the
   sketch's ``limit_size`` (only if larger), to ``min(n, 8 * max_bin)`` entries, then to
   ``min(n, max_bin) + 1`` entries (the first and last entries are always kept);
3. cut values: summary entries ``1 .. min(size, max_bin) - 1`` (strictly increasing), then
   a sentinel ``last + (|last| + 1e-5)`` above every value; the lower bound is
   ``min - |min| - 1e-5`` (both computed in double and rounded to float32, as the C++ does).

A value ``x`` falls in bin ``i`` of its feature where ``i`` is the number of cuts ``<= x``
(``upper_bound``), clamped to the last bin; a missing value (NaN) gets bin ``-1``.

Agreement with XGBoost (versions 2.x to 3.2, which share this algorithm; 3.3 replaced the last
steps by rank queries, ``QueryCutValues``, not reproduced here): exact (bit for bit, tested)
whenever XGBoost's streaming sketch holds the whole column, i.e.
``n <= 2 * limit_size(n, max_bin)`` (:func:`sketch_is_exact`; e.g. up to 4098 rows for
``max_bin = 256``, 1026 rows for ``max_bin = 64``), and for any column with at most
``max_bin`` distinct values.  Beyond that XGBoost merges partial sketches of the row
stream, so its cuts move by up to about ``0.17 * n / max_bin`` ranks (measured); ours come
from the exact summary, and the tests check the same number of cuts per feature with every
cut within ``0.25 * n / max_bin`` ranks of XGBoost's.

May import: numpy, ``mpc_runtime.errors``.  ``xgboost`` only lazily, in
:func:`cuts_from_xgboost` (a test/inspection helper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError

F32 = np.float32
SKETCH_FACTOR = 8
"""XGBoost's ``WQSketch::kFactor``: intermediate summaries keep ``8 * max_bin`` entries."""
_EPS32 = float(np.float32(1e-5))


@dataclass(frozen=True, eq=False)
class BinCuts:
    """Cut points of every feature: feature ``f`` has bins ``0 .. ptr[f+1] - ptr[f] - 1``.

    ``values[ptr[f]:ptr[f+1]]`` are the increasing upper bounds of the bins of feature ``f``
    (float32; the last is a sentinel above every training value); ``min_values[f]`` is the
    lower bound XGBoost stores separately.
    """

    ptr: npt.NDArray[np.int64]
    values: npt.NDArray[np.float32]
    min_values: npt.NDArray[np.float32]
    max_bin: int

    @property
    def n_features(self) -> int:
        return int(self.ptr.size - 1)

    def n_bins(self) -> npt.NDArray[np.int64]:
        """Number of bins of each feature."""
        return np.diff(self.ptr)

    def feature(self, f: int) -> npt.NDArray[np.float32]:
        """The cut values (bin upper bounds) of feature ``f``."""
        return self.values[self.ptr[f] : self.ptr[f + 1]]

    def xgboost_layout(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """``(indptr, data)`` as ``DMatrix.get_quantile_cut()`` returns it (min first)."""
        parts = []
        for f in range(self.n_features):
            parts.append(self.min_values[f : f + 1])
            parts.append(self.feature(f))
        data = np.concatenate(parts).astype(np.float32)
        indptr = (self.ptr + np.arange(self.n_features + 1)).astype(np.uint64)
        return indptr, data

    def __repr__(self) -> str:
        return f"BinCuts(n_features={self.n_features}, max_bin={self.max_bin})"


def _as_matrix(X: Any) -> npt.NDArray[np.float32]:
    arr = np.asarray(X)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise InputError(f"data must be a numeric matrix, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise InputError(f"data must be a 2-D matrix with at least one column, got {arr.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(np.float32)
    if np.isinf(out).any():
        raise InputError("data contains infinite values (or values beyond the float32 range)")
    return out


def _summary(col: npt.NDArray[np.float32]) -> tuple[npt.NDArray[Any], ...]:
    """Exact weighted summary: (values, rmin, rmax, wmin) with float32 ranks."""
    vals, counts = np.unique(col, return_counts=True)
    rmax = np.cumsum(counts).astype(np.float32)
    wmin = counts.astype(np.float32)
    rmin = (rmax - wmin).astype(np.float32)
    return vals.astype(np.float32), rmin, rmax, wmin


def _prune(summ: tuple[npt.NDArray[Any], ...], maxsize: int) -> tuple[npt.NDArray[Any], ...]:
    """XGBoost ``WQSummary::SetPrune(src, maxsize)`` on float32 ranks, vectorized."""
    vals, rmin, rmax, wmin = summ
    size = int(vals.size)
    if size <= maxsize:
        return summ
    n = maxsize - 1
    begin, rng = rmax[0], F32(rmin[-1] - rmax[0])
    k = np.arange(1, n, dtype=np.float32)
    dx2 = (F32(2) * ((k * rng) / F32(n) + begin)).astype(np.float32)
    s = (rmax + rmin).astype(np.float32)
    # the C++ advances i while i < size - 1 and dx2 >= s[i + 1]; s is increasing
    i = np.minimum(1 + np.searchsorted(s[2:], dx2, side="right"), size - 1)
    stop = np.flatnonzero(i == size - 1)
    if stop.size:
        i, dx2 = i[: stop[0]], dx2[: stop[0]]
    bound = ((rmin + wmin)[i] + (rmax - wmin)[i + 1]).astype(np.float32)
    chosen = np.where(dx2 < bound, i, i + 1)
    sel = np.concatenate([[0], chosen]).astype(np.int64)
    sel = sel[np.concatenate([[True], sel[1:] != sel[:-1]])]
    if sel[-1] != size - 1:
        sel = np.concatenate([sel, [size - 1]])
    return vals[sel], rmin[sel], rmax[sel], wmin[sel]


def _limit_size(n: int, max_bin: int) -> int:
    """The streaming sketch's ``limit_size`` for a column of ``n`` values (``LimitSizeLevel``)."""
    n_bins = max(min(max_bin, n), 1)
    eps = 1.0 / float(np.float32(n_bins) * np.float32(SKETCH_FACTOR))
    nlevel = 1
    while True:
        limit = min(n, math.ceil(nlevel / eps) + 1)
        if (1 << nlevel) * limit >= n:
            return limit
        nlevel += 1


def sketch_is_exact(n: int, max_bin: int) -> bool:
    """True if XGBoost's sketch of a column of ``n`` values is exact (cuts match bit for bit)."""
    return n <= 2 * _limit_size(n, max_bin)


def _feature_cuts(col: npt.NDArray[np.float32], max_bin: int) -> tuple[Any, float]:
    """(cut values, min value) of one column (NaN already dropped)."""
    n = int(col.size)
    if n == 0:  # an empty column: XGBoost keeps one sentinel cut
        return np.array([_EPS32], dtype=np.float32), _EPS32
    summ = _prune(_summary(col), _limit_size(n, max_bin))
    intermediate = min(n, max_bin * SKETCH_FACTOR)
    summ = _prune(summ, intermediate)
    max_num_bins = min(intermediate, max_bin)
    vals = _prune(summ, max_num_bins + 1)[0]
    picked = vals[1 : min(vals.size, max_num_bins)]
    if picked.size:  # keep strictly increasing values (the C++ skips repeats)
        keep = np.concatenate([[True], picked[1:] > np.maximum.accumulate(picked)[:-1]])
        picked = picked[keep]
    top = float(vals[-1])
    sentinel = np.float32(top + (abs(top) + _EPS32))
    low = float(vals[0])
    return np.concatenate([picked, [sentinel]]).astype(np.float32), float(
        np.float32(low - abs(low) - _EPS32)
    )


def quantile_cuts(X: Any, max_bin: int = 256) -> BinCuts:
    """Cut points of every column of ``X`` (rows = samples) like XGBoost ``hist``.

    NaN entries are missing and ignored; infinities are refused (InputError).
    """
    if isinstance(max_bin, bool) or not isinstance(max_bin, int) or max_bin < 2:
        raise InputError("max_bin must be an integer >= 2")
    data = _as_matrix(X)
    cuts, mins = [], []
    for f in range(data.shape[1]):  # a loop over features; each feature is vectorized
        col = data[:, f]
        c, m = _feature_cuts(col[~np.isnan(col)], max_bin)
        cuts.append(c)
        mins.append(m)
    ptr = np.concatenate([[0], np.cumsum([c.size for c in cuts])]).astype(np.int64)
    return BinCuts(
        ptr, np.concatenate(cuts).astype(np.float32), np.array(mins, np.float32), max_bin
    )


def bin_index(X: Any, cuts: BinCuts) -> npt.NDArray[np.int32]:
    """Bin of every entry of ``X`` (local to its feature): ``#cuts <= x`` clamped to the last.

    Missing values (NaN) get ``-1``.
    """
    data = _as_matrix(X)
    if data.shape[1] != cuts.n_features:
        raise InputError(f"data has {data.shape[1]} columns, the cuts {cuts.n_features}")
    out = np.empty(data.shape, dtype=np.int32)
    for f in range(cuts.n_features):
        c = cuts.feature(f)
        idx = np.searchsorted(c, data[:, f], side="right")
        out[:, f] = np.minimum(idx, c.size - 1)
    out[np.isnan(data)] = -1
    return out


def xgboost_version() -> tuple[int, int]:
    """(major, minor) of the installed xgboost (imported lazily)."""
    import xgboost

    major, minor = (int(p) for p in xgboost.__version__.split(".")[:2])
    return major, minor


def cuts_from_xgboost(X: Any, max_bin: int = 256) -> BinCuts:
    """XGBoost's own cut points for ``X`` (``QuantileDMatrix(...).get_quantile_cut()``).

    Imports xgboost lazily; for tests and for checking :func:`quantile_cuts`.  Up to xgboost
    3.2 each feature's block starts with its lower bound; from 3.3 on it does not (and the cut
    algorithm changed, see the module docstring), so ``min_values`` is NaN there.
    """
    import xgboost

    data = _as_matrix(X)
    qdm = xgboost.QuantileDMatrix(data, max_bin=max_bin)
    indptr, values = qdm.get_quantile_cut()
    ip = np.asarray(indptr, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float32)
    if xgboost_version() >= (3, 3):
        mins = np.full(ip.size - 1, np.nan, dtype=np.float32)
        return BinCuts(ip, vals, mins, max_bin)
    mins = vals[ip[:-1]]
    keep = np.ones(vals.size, dtype=bool)
    keep[ip[:-1]] = False
    ptr = ip - np.arange(ip.size)
    return BinCuts(ptr.astype(np.int64), vals[keep], mins.astype(np.float32), max_bin)


__all__ = [
    "BinCuts",
    "bin_index",
    "cuts_from_xgboost",
    "quantile_cuts",
    "sketch_is_exact",
    "xgboost_version",
]
