"""Job programs for private XGBoost: training (vertical or horizontal) and inference.

``async def job(ctx) -> None`` programs run identically by every party (``program =
"protocols.trees.jobs:train_job"`` in a job spec).  Public parameters come from
``ctx.params``; private data from the job's declared inputs (their shapes are public and
define the layout); results only through ``ctx.reveal`` to the recipients the job names.

:func:`train_job` - inputs: vertical: every data party declares ``X`` ``(N, F_p)`` (its
columns, features numbered in party order) and one party ``y`` ``(N,)`` (0/1 labels);
horizontal: every data party declares ``X`` ``(N_p, F)`` and ``y`` ``(N_p,)`` (rows in party
order).  Params: ``split`` (``"vertical"``/``"horizontal"``), ``trees``, ``depth``, ``max_bin``,
``eta``, ``lambda``, ``gamma``, ``min_child_weight``, ``base_score``, ``mode`` (private-matrix
backend: ``auto``/``helper``/``beaver``).  Outputs: ``model_features``, ``model_thresholds``
(float32 keys), ``model_leaves`` to the model's recipients (see
:func:`protocols.trees.export.flat_model`).  If a party declares ``queries`` ``(Q, F)``, the
model instead stays secret-shared and only ``scores`` (margins of the queries) are revealed.

:func:`inference_job` - the model owner (``params["owner"]``) declares ``model_features``
``(T, 2^d - 1)``, ``model_thresholds`` (keys), ``model_leaves`` ``(T, 2^d)`` and
``base_margin``; the client (``params["client"]``) declares ``queries``
``(single + batches * Q, F)``.  The program shares the model once, answers ``params["single"]``
queries one at a time (outputs ``single_0``, ...) and the rest in ``params["batches"]`` batches
of Q (outputs ``batch_0``, ...; a server answers batch after batch, and the first one in a
fresh process also pays for its first large allocations).

Phases run in scopes (``main/train_setup``, ``main/tree``, ``main/model``, ``main/single``,
``main/batch``, ...) so the ledger's per-op counts give rounds and bytes per phase.  With
``params["timing"]`` the program also writes one line per phase to stderr,
``mpc: timing {"phase": ..., "seconds": ...}``: public wall times, never a value.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``protocols.*``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from mpc_runtime.errors import UsageError
from mpc_runtime.runtime import Context
from protocols.apps import privacy
from protocols.trees import training
from protocols.trees.cuts import keys_to_float32
from protocols.trees.inference import predict, share_model, share_queries
from protocols.trees.model import KEY_MAX, FlatModel


@contextmanager
def _phase(ctx: Context, name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    if ctx.params.get("timing"):
        line = json.dumps({"phase": name, "seconds": round(time.perf_counter() - start, 6)})
        print(f"mpc: timing {line}", file=sys.stderr, flush=True)


def _param(ctx: Context, name: str, kind: type, default: Any) -> Any:
    value = ctx.params.get(name, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise UsageError(f"params[{name!r}] must be a {kind.__name__}")
    return value


def train_params(ctx: Context) -> training.TrainParams:
    """The hyper-parameters from ``ctx.params`` (XGBoost's defaults where absent)."""
    return training.TrainParams(
        n_trees=_param(ctx, "trees", int, 5),
        max_depth=_param(ctx, "depth", int, 4),
        eta=_param(ctx, "eta", float, 0.3),
        reg_lambda=_param(ctx, "lambda", float, 1.0),
        gamma=_param(ctx, "gamma", float, 0.0),
        min_child_weight=_param(ctx, "min_child_weight", float, 1.0),
        base_score=_param(ctx, "base_score", float, 0.5),
        max_bin=_param(ctx, "max_bin", int, 16),
        mode=_param(ctx, "mode", str, "auto"),
    )


def layout_from_declarations(ctx: Context, max_bin: int) -> training.Layout:
    """The public layout, read off the declared shapes of ``X`` and ``y``."""
    split = _param(ctx, "split", str, "vertical")
    xs = ctx.declared_inputs("X")
    ys = ctx.declared_inputs("y")
    if not xs or not ys or any(len(d.shape) != 2 for d in xs):
        raise UsageError("the job must declare matrix inputs 'X' and label inputs 'y'")
    if split == "vertical":
        n = xs[0].shape[0]
        if any(d.shape[0] != n for d in xs) or len(ys) != 1 or ys[0].shape != (n,):
            raise UsageError("vertical: every X has the same rows; one party declares y (N,)")
        owners = tuple(d.party for d in xs for _ in range(d.shape[1]))
        return training.Layout(
            "vertical", n, len(owners), max_bin, feature_owners=owners, label_owner=ys[0].party
        )
    if split != "horizontal":
        raise UsageError("params['split'] must be 'vertical' or 'horizontal'")
    f = xs[0].shape[1]
    by_party = {d.party: d.shape for d in ys}
    if any(d.shape[1] != f or by_party.get(d.party) != (d.shape[0],) for d in xs):
        raise UsageError("horizontal: every X has the same columns and a matching y (N_p,)")
    counts = tuple((d.party, d.shape[0]) for d in xs)
    return training.Layout("horizontal", sum(c for _, c in counts), f, max_bin, row_counts=counts)


def _train_notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    who = sorted({r for o in ("model_features", "model_leaves") for r in recipients.get(o, [])})
    notes = [
        f"the model's recipients ({', '.join(who) or 'none'}) learn the trees: features,"
        " thresholds (data values of the feature owners) and leaf values, which reflect"
        " the training labels"
    ]
    if "scores" in recipients:
        notes = ["the model stays secret-shared; the client learns only its queries' margins"]
    if params.get("split") == "horizontal":
        notes.append(
            "horizontal split: the quantile cut values (global order statistics of"
            " every feature) become known to all compute parties"
        )
    if n == 3 and params.get("mode", "auto") in ("auto", "helper"):
        notes.append(
            "helper backend: secure against one semi-honest party; two colluding"
            " parties learn a third party's bin indicators"
        )
    return notes


@privacy(_train_notes)
async def train_job(ctx: Context) -> None:
    """Train on the declared data; reveal the model (or only query scores, see above)."""
    params = train_params(ctx)
    layout = layout_from_declarations(ctx, params.max_bin)
    with _phase(ctx, "setup"):
        st = await training.setup(ctx, layout, params, ctx.inputs.get("X"), ctx.inputs.get("y"))
    for t in range(params.n_trees):
        with _phase(ctx, f"tree {t}"):
            st.trees.append(await training.grow_tree(ctx, st))
    mctx = ctx.scope("model")
    with _phase(ctx, "model"):
        features, thresholds, leaves = await training.model_arrays(mctx, st)
        clients = ctx.declared_inputs("queries")
        if clients:
            await _score_shared(mctx, st, thresholds, leaves, clients[0].party, clients[0].shape)
            return
        await mctx.reveal("model_features", features)
        await mctx.reveal("model_thresholds", thresholds)
        await mctx.reveal("model_leaves", leaves)


async def _score_shared(
    ctx: Context,
    st: training.TrainState,
    thresholds: Any,
    leaves: Any,
    client: int,
    shape: tuple[int, ...],
) -> None:
    """Keep the model shared: predict the client's queries and reveal only the scores."""
    model = training.model_shares(ctx, st, thresholds, leaves)
    qs = await share_queries(
        ctx, client, ctx.inputs.get("queries"), st.layout.n_features, n_queries=shape[0]
    )
    margin = await predict(ctx, model, qs, depth=st.params.max_depth, public_features=False)
    await ctx.reveal("scores", margin)


# ---- inference ------------------------------------------------------------------------------
def _owner_model(ctx: Context, n_features: int) -> FlatModel:
    inp = ctx.inputs
    feat = np.asarray(inp["model_features"], dtype=np.int64)
    keys = np.asarray(inp["model_thresholds"], dtype=np.int64)
    if np.any(np.abs(keys) > KEY_MAX):
        raise UsageError("model_thresholds must be float32 keys")
    leaf = np.asarray(inp["model_leaves"], dtype=np.float64).astype(np.float32)
    depth = int(np.log2(feat.shape[1] + 1))
    return FlatModel(
        feat,
        keys_to_float32(keys).reshape(keys.shape),
        leaf,
        np.zeros(feat.shape, dtype=bool),
        float(inp["base_margin"]),
        n_features,
        depth,
        "binary:logistic",
    )


def _inference_notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    return [
        "the client learns the margins of its queries (hence the model's predictions on"
        " them); the model's feature indices are "
        + ("visible to the compute parties" if params.get("public_features", True) else "hidden")
    ]


@privacy(_inference_notes)
async def inference_job(ctx: Context) -> None:
    """Share the owner's model once, then score the client's queries (see above)."""
    owner, client = _param(ctx, "owner", int, 1), _param(ctx, "client", int, ctx.n)
    trees, depth = _param(ctx, "trees", int, 100), _param(ctx, "depth", int, 6)
    n_features, single = _param(ctx, "features", int, 30), _param(ctx, "single", int, 3)
    public = _param(ctx, "public_features", bool, True)
    decl = ctx.declared_inputs("queries")
    if not decl or decl[0].party != client or len(decl[0].shape) != 2:
        raise UsageError("the client must declare queries (single + Q, features)")
    total = decl[0].shape[0]
    queries = np.asarray(ctx.inputs["queries"]) if ctx.party_id == client else None
    with _phase(ctx, "share_model"):
        model = _owner_model(ctx, n_features) if ctx.party_id == owner else None
        ms = await share_model(
            ctx, owner, model, depth, n_trees=trees, n_features=n_features, public_features=public
        )
    for i in range(single):
        sctx = ctx.scope("single")
        with _phase(ctx, f"single {i}"):
            rows = queries[i : i + 1] if queries is not None else None
            qs = await share_queries(sctx, client, rows, n_features, n_queries=1)
            margin = await predict(sctx, ms, qs, depth=depth, public_features=public)
            await sctx.reveal(f"single_{i}", margin)
    batches = _param(ctx, "batches", int, 1)
    size = (total - single) // batches
    for b in range(batches):
        bctx = ctx.scope("batch")
        with _phase(ctx, f"batch {b}"):
            start = single + b * size
            rows = queries[start : start + size] if queries is not None else None
            qs = await share_queries(bctx, client, rows, n_features, n_queries=size)
            margin = await predict(bctx, ms, qs, depth=depth, public_features=public)
            await bctx.reveal(f"batch_{b}", margin)


__all__ = ["inference_job", "layout_from_declarations", "train_job", "train_params"]
