"""A trained model as its recipient receives it: arrays -> FlatModel -> xgboost JSON.

What it is for: private training reveals three arrays to the model's recipient (heap-ordered
complete trees of depth d): feature indices ``(T, 2^d - 1)``, threshold keys ``(T, 2^d - 1)``
(order-preserving float32 keys, :func:`protocols.trees.model.float32_keys`; a node that did
not split has the key of ``+inf``) and leaf values ``(T, 2^d)``.  :func:`flat_model` makes the
:class:`~protocols.trees.model.FlatModel` the inference code evaluates; :func:`xgboost_json`
writes the model in xgboost's JSON format (dummy subtrees under ``+inf`` nodes pruned back to
leaves, so every tree is an ordinary xgboost tree), which ``xgboost.Booster`` and
:func:`protocols.trees.model.load_model` read back.  Plaintext, recipient side only.

May import: numpy, ``mpc_runtime.errors``, ``protocols.trees.model``, ``protocols.trees.cuts``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError
from protocols.trees.cuts import keys_to_float32
from protocols.trees.model import KEY_MAX, FlatModel

XGB_VERSION = [3, 2, 0]


def flat_model(
    features: npt.ArrayLike,
    threshold_keys: npt.ArrayLike,
    leaves: npt.ArrayLike,
    *,
    base_score: float,
    n_features: int,
) -> FlatModel:
    """The revealed arrays as a ``binary:logistic`` :class:`FlatModel`."""
    feat = np.asarray(features, dtype=np.int64)
    keys = np.asarray(threshold_keys, dtype=np.int64)
    leaf = np.asarray(leaves, dtype=np.float64).astype(np.float32)
    if (
        feat.ndim != 2
        or keys.shape != feat.shape
        or leaf.shape != (feat.shape[0], feat.shape[1] + 1)
    ):
        raise InputError("model arrays must be (T, 2^d - 1), (T, 2^d - 1) and (T, 2^d)")
    depth = int(round(math.log2(feat.shape[1] + 1)))
    if (1 << depth) - 1 != feat.shape[1]:
        raise InputError("the node count is not 2^d - 1")
    if np.any((feat < 0) | (feat >= n_features)) or np.any(np.abs(keys) > KEY_MAX):
        raise InputError("feature index or threshold key out of range")
    thr = keys_to_float32(keys).reshape(keys.shape)
    b = np.float32(base_score)
    margin = float(-np.float32(math.log(float(np.float32(np.float32(1) / b) - np.float32(1)))))
    return FlatModel(
        feature=feat,
        threshold=thr,
        leaf=leaf,
        default_left=np.zeros(feat.shape, dtype=bool),
        base_margin=margin,
        n_features=n_features,
        depth=depth,
        objective="binary:logistic",
    )


def _tree_json(flat: FlatModel, t: int, tid: int) -> dict[str, Any]:
    """One tree as xgboost JSON: nodes numbered breadth-first, pruned below ``+inf`` nodes."""
    d, n_inner = flat.depth, (1 << flat.depth) - 1
    left: list[int] = []
    right: list[int] = []
    feat: list[int] = []
    cond: list[float] = []
    parents: list[int] = []
    queue = [(0, 2147483647)]  # (heap position, parent id)
    while queue:
        pos, parent = queue.pop(0)
        nid = len(left)
        parents.append(parent)
        is_inner = pos < n_inner and np.isfinite(flat.threshold[t, pos])
        if is_inner:
            feat.append(int(flat.feature[t, pos]))
            cond.append(float(flat.threshold[t, pos]))
            left.append(-2)  # patched below
            right.append(-2)
            queue.append((2 * pos + 1, nid))
            queue.append((2 * pos + 2, nid))
        else:
            leaf_pos = pos
            while leaf_pos < n_inner:  # a pruned dummy: all queries went left
                leaf_pos = 2 * leaf_pos + 1
            feat.append(0)
            cond.append(float(flat.leaf[t, leaf_pos - n_inner]))
            left.append(-1)
            right.append(-1)
    kids = [i for i, p in enumerate(parents) if i > 0]
    for i in kids:
        p = parents[i]
        if left[p] == -2:
            left[p] = i
        else:
            right[p] = i
    size = len(left)
    del d
    return {
        "base_weights": [c if left[i] == -1 else 0.0 for i, c in enumerate(cond)],
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": [0] * size,
        "id": tid,
        "left_children": left,
        "loss_changes": [0.0] * size,
        "parents": parents,
        "right_children": right,
        "split_conditions": cond,
        "split_indices": feat,
        "split_type": [0] * size,
        "sum_hessian": [0.0] * size,
        "tree_param": {
            "num_deleted": "0",
            "num_feature": str(flat.n_features),
            "num_nodes": str(size),
            "size_leaf_vector": "1",
        },
    }


def xgboost_json(flat: FlatModel, base_score: float) -> dict[str, Any]:
    """The model as the dict ``json.loads(Booster.save_raw("json"))`` would give."""
    t = flat.n_trees
    trees = [_tree_json(flat, i, i) for i in range(t)]
    return {
        "learner": {
            "attributes": {},
            "feature_names": [],
            "feature_types": [],
            "gradient_booster": {
                "model": {
                    "cats": {"enc": [], "feature_segments": [], "sorted_idx": []},
                    "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": str(t)},
                    "iteration_indptr": list(range(t + 1)),
                    "tree_info": [0] * t,
                    "trees": trees,
                },
                "name": "gbtree",
            },
            "learner_model_param": {
                "base_score": f"[{float(np.float32(base_score)):.9E}]",
                "boost_from_average": "0",
                "num_class": "0",
                "num_feature": str(flat.n_features),
                "num_target": "1",
            },
            "objective": {"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}},
        },
        "version": XGB_VERSION,
    }


def xgboost_bytes(flat: FlatModel, base_score: float) -> bytes:
    """:func:`xgboost_json` serialized (what ``Booster(model_file=...)`` or
    ``Booster().load_model(bytearray(...))`` reads)."""
    return json.dumps(xgboost_json(flat, base_score)).encode()


__all__ = ["flat_model", "xgboost_bytes", "xgboost_json"]
