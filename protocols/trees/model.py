"""XGBoost models in plaintext: load xgboost's JSON, flatten to complete trees, exact float keys.

What it is for: the model owner's side of private tree inference.  :func:`load_model` reads a
model saved by the real ``xgboost`` package (``Booster.save_model("m.json")``, the raw JSON
bytes, the parsed dict, or a ``Booster`` object) for the objectives ``binary:logistic`` and
``reg:squarederror``; :meth:`XGBModel.flatten` turns every tree into a complete binary tree of
a fixed depth ``d`` in heap order (node ``j`` has children ``2j + 1`` (yes/left) and
``2j + 2``), as numpy arrays ``feature (T, 2^d - 1)``, ``threshold (T, 2^d - 1)`` (float32),
``leaf (T, 2^d)`` (float32) and a scalar ``base_margin``.  A leaf above depth ``d`` becomes a
*dummy* subtree: its internal nodes compare feature 0 with ``+inf`` (every finite query goes
left) and every leaf below it carries the leaf's value, so the routing of a dummy node does
not matter at all.  :meth:`FlatModel.predict_margin` evaluates the flattened arrays exactly as
XGBoost does (float32 ``x < threshold``, float32 accumulation from the base margin, tree by
tree), which the tests check equals ``Booster.predict(..., output_margin=True)`` bit for bit.

Exact comparisons: XGBoost routes a query left iff ``float32(x) < threshold``.
:func:`float32_keys` maps float32 values to int64 keys by the order-preserving map
"sign-magnitude to two's complement" on the 32-bit pattern (``key = bits`` for a positive
sign, ``-(bits & 0x7fffffff)`` for a negative one), so for non-NaN float32 ``a, b``:
``a < b  <=>  key(a) < key(b)``.  ``+0.0`` and ``-0.0`` both map to 0 (they compare equal as
floats, so this is what order preservation requires; on every other value the map is
injective).  Keys lie in ``[-0x7f800000, 0x7f800000]`` (infinities included), so differences
of keys fit in 33 bits, which the MPC comparison uses.

Missing values: XGBoost sends a NaN feature the node's default direction (``default_left``,
kept in :attr:`FlatModel.default_left` for reference).  This package requires queries without
missing values: :func:`query_keys` raises :class:`InputError` on NaN or infinity (before
anything is shared), and the plaintext evaluator does the same.

Fixed point: leaf values and the base margin are shared as ``round(v * 2^f)`` (``frac_bits =
f >= 24`` recommended).  The MPC output is exactly ``sum_t round(leaf_t * 2^f) + round(base *
2^f)`` over ``2^f`` (no truncation anywhere), so it is within ``(T + 1) * 2^-(f + 1)`` of the
exact real sum of the float32 leaves; xgboost's own float32 accumulation differs from that real
sum by at most ``T * 2^-24 * max|partial sum|``.  :func:`error_bound` returns the first term
(3.0e-6 for T = 100, f = 24).

May import: numpy, ``mpc_runtime.errors``, ``mpc_runtime.sharing``; ``xgboost`` never at
import time (a Booster is recognised by duck typing: ``save_raw``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError
from mpc_runtime.sharing import ring

OBJECTIVES = ("binary:logistic", "reg:squarederror")
DEFAULT_FRAC_BITS = 24
KEY_MAX = 0x7F800000
"""The key of +inf; every finite float32 key is strictly between -KEY_MAX and KEY_MAX."""
F32 = np.float32
I64 = npt.NDArray[np.int64]
FA = npt.NDArray[np.float32]


def float32_keys(x: Any) -> I64:
    """Order-preserving int64 keys of ``float32(x)`` (NaN refused: InputError, no values)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise InputError(f"float keys need numeric values, got dtype {arr.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.ascontiguousarray(arr, dtype=np.float32)
    if np.isnan(f).any():
        raise InputError(f"{int(np.isnan(f).sum())} values are NaN (missing values unsupported)")
    bits = f.view(np.int32).astype(np.int64)
    mag = bits & 0x7FFFFFFF
    return np.where(bits < 0, -mag, mag).astype(np.int64)


def query_keys(X: Any, n_features: int) -> I64:
    """Validate a query matrix ``(Q, n_features)`` and return its keys (finite values only)."""
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != n_features or arr.shape[0] == 0:
        raise InputError(f"queries must have shape (Q >= 1, {n_features}), got {arr.shape}")
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise InputError(f"queries must be numeric, got dtype {arr.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        f = arr.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(f)))
    if bad:
        raise InputError(
            f"{bad} query values are missing, infinite or beyond float32 range; "
            "missing values are not supported"
        )
    return float32_keys(f)


def error_bound(n_trees: int, frac_bits: int = DEFAULT_FRAC_BITS) -> float:
    """Bound on |MPC margin - exact sum of the float32 leaves|: ``(T + 1) * 2^-(f + 1)``."""
    return (n_trees + 1) * 2.0 ** -(frac_bits + 1)


def sigmoid(margin: Any) -> npt.NDArray[np.float32]:
    """XGBoost's logistic transform in float32 (the client applies it after the reveal)."""
    m = np.asarray(margin, dtype=np.float32)
    with np.errstate(over="ignore"):
        return (F32(1) / (F32(1) + np.exp(-m))).astype(np.float32)


def transform(margin: Any, objective: str) -> npt.NDArray[np.float32]:
    """The prediction XGBoost reports for ``objective`` given the margin."""
    if objective == "binary:logistic":
        return sigmoid(margin)
    return np.asarray(margin, dtype=np.float32)


@dataclass(frozen=True, eq=False, repr=False)
class _Tree:
    left: I64
    right: I64
    feature: I64
    cond: FA  # split condition of internal nodes, leaf value of leaves
    default_left: npt.NDArray[np.bool_]

    def depth(self) -> int:
        """Depth of the deepest leaf (a single leaf has depth 0)."""
        frontier = np.array([0], dtype=np.int64)
        depth = 0
        while True:
            inner = frontier[self.left[frontier] >= 0]
            if inner.size == 0:
                return depth
            frontier = np.concatenate([self.left[inner], self.right[inner]])
            depth += 1
            if depth > self.left.size:
                raise InputError("tree structure has a cycle")


def _arr(tree: dict[str, Any], key: str, dtype: Any, size: int | None) -> Any:
    if key not in tree or not isinstance(tree[key], list):
        raise InputError(f"tree is missing the array {key!r}")
    try:
        out = np.asarray(tree[key], dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"tree array {key!r} has values of the wrong type") from None
    if out.ndim != 1 or (size is not None and out.size != size):
        raise InputError(f"tree array {key!r} has the wrong length")
    return out


def _parse_tree(tree: Any, n_features: int) -> _Tree:
    if not isinstance(tree, dict):
        raise InputError("a tree must be a JSON object")
    left = _arr(tree, "left_children", np.int64, None)
    size = int(left.size)
    if size == 0:
        raise InputError("a tree has no nodes")
    right = _arr(tree, "right_children", np.int64, size)
    feat = _arr(tree, "split_indices", np.int64, size)
    cond = _arr(tree, "split_conditions", np.float64, size).astype(np.float32)
    dflt = _arr(tree, "default_left", np.int64, size).astype(bool)
    if "split_type" in tree and np.any(_arr(tree, "split_type", np.int64, size) != 0):
        raise InputError("categorical splits are not supported")
    leaf_vec = str(tree.get("tree_param", {}).get("size_leaf_vector", "1"))
    if leaf_vec not in ("0", "1"):
        raise InputError("vector leaves (multi-target trees) are not supported")
    inner = left >= 0
    if np.any((left >= 0) != (right >= 0)):
        raise InputError("a node has exactly one child")
    kids = np.concatenate([left[inner], right[inner]])
    if kids.size and (kids.min() < 1 or kids.max() >= size or np.unique(kids).size != kids.size):
        raise InputError("child indices are out of range or shared")
    if np.any((feat[inner] < 0) | (feat[inner] >= n_features)):
        raise InputError("a split uses a feature index outside [0, num_feature)")
    if not np.all(np.isfinite(cond)):
        raise InputError("split conditions and leaf values must be finite")
    return _Tree(left, right, feat, cond, dflt)


def _base_score(param: dict[str, Any]) -> float:
    raw = str(param.get("base_score", "0.5")).strip().strip("[]")
    parts = [p for p in raw.split(",") if p.strip()]
    if len(parts) != 1:
        raise InputError("only models with a single base score are supported")
    try:
        return float(np.float32(float(parts[0])))
    except ValueError:
        raise InputError("base_score is not a number") from None


def _base_margin(objective: str, base: float) -> float:
    """XGBoost's ``ProbToMargin`` in float32 (logf correctly rounded via double)."""
    if objective == "reg:squarederror":
        return float(F32(base))
    b = F32(base)
    if not 0.0 < float(b) < 1.0:
        raise InputError("base_score of a logistic model must lie in (0, 1)")
    odds = F32(F32(F32(1) / b) - F32(1))
    return float(-F32(math.log(float(odds))))


def _read_json(source: Any) -> dict[str, Any]:
    if hasattr(source, "save_raw"):  # an xgboost.Booster (duck typed: no import)
        source = bytes(source.save_raw("json"))
    if isinstance(source, dict):
        return source
    if isinstance(source, (bytes, bytearray)):
        text = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".ubj"):
            raise InputError("UBJSON models are not supported: save the model as .json")
        with open(path, "rb") as fh:
            text = fh.read()
    else:
        raise InputError(f"cannot read a model from {type(source).__name__}")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise InputError("the model is not valid JSON (save it with save_model('m.json'))") from (
            None
        )
    if not isinstance(doc, dict):
        raise InputError("the model JSON must be an object")
    return doc


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            raise InputError(f"model JSON lacks {'/'.join(keys)}")
        d = d[k]
    return d


@dataclass(frozen=True, eq=False, repr=False)
class XGBModel:
    """A parsed XGBoost model (the owner's secret; the repr shows only public sizes)."""

    objective: str
    base_score: float
    base_margin: float
    n_features: int
    trees: tuple[_Tree, ...]

    @property
    def n_trees(self) -> int:
        return len(self.trees)

    def max_depth(self) -> int:
        return max((t.depth() for t in self.trees), default=0)

    def flatten(self, depth: int | None = None) -> FlatModel:
        """Complete trees of ``depth`` (default: the deepest tree; at least 1)."""
        d = max(self.max_depth(), 1) if depth is None else depth
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 20:
            raise InputError("depth must be an integer in [1, 20]")
        if self.max_depth() > d:
            raise InputError(f"the model has trees deeper than {d}")
        flat = [_flatten_tree(t, d) for t in self.trees]
        return FlatModel(
            feature=np.stack([f[0] for f in flat]),
            threshold=np.stack([f[1] for f in flat]),
            leaf=np.stack([f[2] for f in flat]),
            default_left=np.stack([f[3] for f in flat]),
            base_margin=self.base_margin,
            n_features=self.n_features,
            depth=d,
            objective=self.objective,
        )

    def __repr__(self) -> str:
        return f"XGBModel({self.objective}, trees={self.n_trees}, features={self.n_features})"


def _flatten_tree(tree: _Tree, d: int) -> tuple[I64, FA, FA, npt.NDArray[np.bool_]]:
    """Heap-ordered complete tree: raw node id per position, dummies inherit their leaf."""
    n_inner = (1 << d) - 1
    feature = np.zeros(n_inner, dtype=np.int64)
    threshold = np.full(n_inner, np.inf, dtype=np.float32)
    dleft = np.ones(n_inner, dtype=bool)
    ids = np.array([0], dtype=np.int64)  # raw node id at each position of the current level
    for level in range(d):
        start = (1 << level) - 1
        inner = tree.left[ids] >= 0
        pos = start + np.flatnonzero(inner)
        feature[pos] = tree.feature[ids[inner]]
        threshold[pos] = tree.cond[ids[inner]]
        dleft[pos] = tree.default_left[ids[inner]]
        kids = np.empty(2 * ids.size, dtype=np.int64)
        kids[0::2] = np.where(inner, tree.left[ids], ids)  # a leaf is copied into both halves
        kids[1::2] = np.where(inner, tree.right[ids], ids)
        ids = kids
    if np.any(tree.left[ids] >= 0):
        raise InputError(f"a tree is deeper than {d}")
    return feature, threshold, tree.cond[ids].astype(np.float32), dleft


def load_model(source: Any) -> XGBModel:
    """Parse an XGBoost model (JSON path, JSON bytes, parsed dict or Booster)."""
    doc = _read_json(source)
    learner = _get(doc, "learner")
    objective = str(_get(learner, "objective", "name"))
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} unsupported; supported: {OBJECTIVES}")
    booster = _get(learner, "gradient_booster")
    if booster.get("name") != "gbtree":
        raise InputError("only the gbtree booster is supported (not dart or gblinear)")
    param = _get(learner, "learner_model_param")
    if str(param.get("num_class", "0")) not in ("0", "1") or str(
        param.get("num_target", "1")
    ) not in ("0", "1"):
        raise InputError("multi-class and multi-target models are not supported")
    try:
        n_features = int(param.get("num_feature", "0"))
    except ValueError:
        raise InputError("num_feature is not an integer") from None
    if n_features < 1:
        raise InputError("the model declares no features")
    raw_trees = _get(booster, "model", "trees")
    if not isinstance(raw_trees, list) or not raw_trees:
        raise InputError("the model has no trees")
    trees = tuple(_parse_tree(t, n_features) for t in raw_trees)
    base = _base_score(param)
    return XGBModel(objective, base, _base_margin(objective, base), n_features, trees)


@dataclass(frozen=True, eq=False, repr=False)
class FlatModel:
    """Complete trees of one depth as arrays (secret to the owner; repr shows sizes only)."""

    feature: I64  # (T, 2^d - 1)
    threshold: FA  # (T, 2^d - 1) float32; dummy nodes hold +inf
    leaf: FA  # (T, 2^d) float32
    default_left: npt.NDArray[np.bool_]  # (T, 2^d - 1), reference only (queries have no NaN)
    base_margin: float
    n_features: int
    depth: int
    objective: str

    @property
    def n_trees(self) -> int:
        return int(self.feature.shape[0])

    def threshold_keys(self) -> I64:
        return float32_keys(self.threshold)

    def leaf_paths(self, X: Any) -> I64:
        """Index of the leaf every query reaches in every tree: ``(Q, T)``."""
        x = np.asarray(X)
        query_keys(x, self.n_features)  # validation only (no NaN, right shape)
        x32 = np.asarray(x, dtype=np.float32).reshape(-1, self.n_features)
        q, t = x32.shape[0], self.n_trees
        pos = np.zeros((q, t), dtype=np.int64)
        rows = np.arange(q)[:, None]
        trees = np.arange(t)[None, :]
        for _ in range(self.depth):
            f = self.feature[trees, pos]
            go_left = x32[rows, f] < self.threshold[trees, pos]
            pos = 2 * pos + np.where(go_left, 1, 2)
        return pos - ((1 << self.depth) - 1)

    def leaf_values(self, X: Any) -> FA:
        """The leaf value every query gets from every tree: ``(Q, T)`` float32."""
        idx = self.leaf_paths(X)
        return self.leaf[np.arange(self.n_trees)[None, :], idx]

    def predict_margin(self, X: Any) -> FA:
        """XGBoost's margin: float32 sum from the base margin, tree by tree (bit-exact)."""
        vals = self.leaf_values(X)
        acc = np.full(vals.shape[0], self.base_margin, dtype=np.float32)
        for t in range(self.n_trees):  # sequential float32 accumulation, as xgboost does
            acc = (acc + vals[:, t]).astype(np.float32)
        return acc

    def predict(self, X: Any) -> FA:
        """XGBoost's prediction (probability for binary:logistic)."""
        return transform(self.predict_margin(X), self.objective)

    def leaf_fixed(self, frac_bits: int = DEFAULT_FRAC_BITS) -> I64:
        """Leaf values as fixed-point integers ``round(v * 2^f)`` (InputError if too large)."""
        return ring.encode_fixed(self.leaf, frac_bits).view(np.int64)

    def base_fixed(self, frac_bits: int = DEFAULT_FRAC_BITS) -> I64:
        return ring.encode_fixed(np.array([self.base_margin]), frac_bits).view(np.int64)

    def fixed_margin(self, X: Any, frac_bits: int = DEFAULT_FRAC_BITS) -> npt.NDArray[np.float64]:
        """Exactly what the MPC evaluation outputs: fixed-point leaves summed, as float64."""
        idx = self.leaf_paths(X)
        leaves = self.leaf_fixed(frac_bits)[np.arange(self.n_trees)[None, :], idx]
        total = leaves.sum(axis=1) + int(self.base_fixed(frac_bits)[0])
        return total.astype(np.float64) / float(1 << frac_bits)

    def __repr__(self) -> str:
        return (
            f"FlatModel({self.objective}, trees={self.n_trees}, depth={self.depth}, "
            f"features={self.n_features})"
        )


__all__ = [
    "DEFAULT_FRAC_BITS",
    "KEY_MAX",
    "OBJECTIVES",
    "FlatModel",
    "XGBModel",
    "error_bound",
    "float32_keys",
    "load_model",
    "query_keys",
    "sigmoid",
    "transform",
]
