"""Private XGBoost on secret shares: inference, and training on split data.

* :mod:`protocols.trees.model` - load xgboost JSON models (``binary:logistic``,
  ``reg:squarederror``), flatten them to complete trees, exact float32 keys, plaintext
  reference evaluation (bit-exact with ``Booster.predict``).
* :mod:`protocols.trees.inference` - :func:`share_model`, :func:`share_queries` and the
  oblivious evaluation :func:`predict` (``7 + ceil(log2 depth)`` rounds; costs in its
  docstring and :func:`predict_cost`).
* :mod:`protocols.trees.binning` - quantile cut points per feature as XGBoost ``hist`` builds
  them, and the mapping of a data matrix to bin indices (plaintext, for the training step).
* :mod:`protocols.trees.training` - private training (``binary:logistic``, ``hist``,
  depthwise; after XORBoost, Deforth et al., PoPETs 2022): :func:`~.training.setup`,
  :func:`~.training.grow_tree`, :func:`~.training.model_arrays` (reveal to a recipient) and
  :func:`~.training.model_shares` (keep it shared for :func:`predict`).  Building blocks:
  :mod:`.privmat` (private-matrix x shared-vector products), :mod:`.split` (gains, argmax,
  leaves), :mod:`.approx` (sigmoid, reciprocal), :mod:`.cuts` (secure quantiles for the
  horizontal split), :mod:`.batch` (batched rounds), :mod:`.export` (the revealed arrays as an
  xgboost JSON model), :mod:`.jobs` (job programs).

A typical job (model owner party 1, client party 3; the score goes to the client only)::

    ms = await share_model(ctx, 1, model if ctx.party_id == 1 else None, 6,
                           n_trees=100, n_features=30)
    qs = await share_queries(ctx, 3, X if ctx.party_id == 3 else None, 30)
    margin = await predict(ctx, ms, qs, depth=6)
    score = await ctx.reveal("score", margin)          # the job names only party:3
    # on party 3: probability = sigmoid(score)

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``mpc_runtime.sharing``,
``protocols.*``; ``xgboost`` only lazily (model loading from a Booster is duck-typed, and
:func:`protocols.trees.binning.cuts_from_xgboost` imports it inside the function).
"""

from protocols.trees.binning import BinCuts, bin_index, quantile_cuts, sketch_is_exact
from protocols.trees.inference import (
    Cost,
    ModelShares,
    path_and_gates,
    predict,
    predict_cost,
    share_model,
    share_queries,
)
from protocols.trees.model import (
    DEFAULT_FRAC_BITS,
    FlatModel,
    XGBModel,
    error_bound,
    float32_keys,
    load_model,
    query_keys,
    sigmoid,
    transform,
)

__all__ = [
    "DEFAULT_FRAC_BITS",
    "BinCuts",
    "Cost",
    "FlatModel",
    "ModelShares",
    "XGBModel",
    "bin_index",
    "error_bound",
    "float32_keys",
    "load_model",
    "path_and_gates",
    "predict",
    "predict_cost",
    "quantile_cuts",
    "query_keys",
    "share_model",
    "share_queries",
    "sigmoid",
    "sketch_is_exact",
    "transform",
]
