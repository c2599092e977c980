"""Private XGBoost training in memory: time, rounds and bytes per tree, and AUC vs xgboost.

    python benchmarks/trees_training.py [--rows 10000] [--features 30] [--depth 4]
        [--trees 2] [--max-bin 16] [--split vertical|horizontal] [--parties 3]
        [--mode auto|helper|beaver] [--provider dealer|ot] [--json]

Makes a seeded ``make_classification`` data set (``--rows`` training rows and a quarter more for
testing), splits it among the parties (vertical: columns in party order, party 1 has the
labels; horizontal: rows in party order) and trains in one in-memory session
(``run_memory``: every party in one event loop, real wire frames; all parties share this
process's CPU, so a tree takes roughly the sum of the parties' work).  Reports party 1's wall
time per tree, rounds and bytes sent per tree from its ledger (online and preprocessing), and
the test AUC of the revealed model next to plaintext xgboost trained on the same bins with the
same hyper-parameters (``max_bin = 256`` on the bin indices, so xgboost's cuts are our bins).

May import: numpy, ``mpc_runtime.runtime``, ``protocols.*``; xgboost and scikit-learn inside
:func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import numpy as np


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--trees", type=int, default=2)
    ap.add_argument("--max-bin", type=int, default=16)
    ap.add_argument("--split", choices=("vertical", "horizontal"), default="vertical")
    ap.add_argument("--parties", type=int, default=3)
    ap.add_argument("--mode", choices=("auto", "helper", "beaver"), default="auto")
    ap.add_argument("--provider", choices=("dealer", "ot"), default="dealer")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


def _layout(args: argparse.Namespace) -> Any:
    from protocols.trees.training import Layout

    n, f, rows = args.parties, args.features, args.rows
    if args.split == "vertical":
        owners = tuple((c * n) // f + 1 for c in range(f))
        return Layout("vertical", rows, f, args.max_bin, feature_owners=owners, label_owner=1)
    counts = tuple((p + 1, (p + 1) * rows // n - p * rows // n) for p in range(n))
    return Layout("horizontal", rows, f, args.max_bin, row_counts=counts)


def _train(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> Any:
    from mpc_runtime.cli.progress import Progress
    from mpc_runtime.runtime import memory
    from protocols.io import open_value
    from protocols.trees import training

    memory.DEFAULT_PROVIDER["name"] = args.provider
    layout = _layout(args)
    params = training.TrainParams(
        n_trees=args.trees, max_depth=args.depth, max_bin=args.max_bin, mode=args.mode
    )

    bar = Progress(args.trees, "trees trained", unit="tree", json_output=args.json)  # a terminal

    async def prog(ctx: Any) -> dict[str, Any]:
        me = ctx.party_id
        if layout.split == "vertical":
            cols = layout.my_features(me)
            part, labels = (X[:, cols] if cols else None), (y if me == 1 else None)
        else:
            ((_, a, b),) = [r for r in layout.row_ranges() if r[0] == me]
            part, labels = X[a:b], y[a:b]
        t0 = time.perf_counter()
        st = await training.setup(ctx, layout, params, part, labels)
        out: dict[str, Any] = {"setup": time.perf_counter() - t0, "trees": []}
        for _ in range(args.trees):
            t1 = time.perf_counter()
            st.trees.append(await training.grow_tree(ctx, st))
            out["trees"].append(time.perf_counter() - t1)
            if me == 1:
                bar.update(1)
        arrays = await training.model_arrays(ctx, st)
        out["model"] = [(await open_value(ctx, v)).view(np.int64) for v in arrays]
        out["frac_bits"] = st.frac_bits
        return out

    with bar:
        return asyncio.run(memory.run_memory(args.parties, prog, round_timeout=600))[0]


def main() -> int:
    args = _args()
    import xgboost as xgb
    from sklearn.datasets import make_classification
    from sklearn.metrics import roc_auc_score

    from protocols.trees.binning import bin_index, quantile_cuts
    from protocols.trees.cuts import plaintext_cuts
    from protocols.trees.export import flat_model

    n_test = args.rows // 4
    X, y = make_classification(
        n_samples=args.rows + n_test,
        n_features=args.features,
        n_informative=max(2, args.features // 3),
        flip_y=0.05,
        random_state=7,
    )
    X, y, Xt, yt = X[: args.rows], y[: args.rows], X[args.rows :], y[args.rows :]
    run = _train(args, X, y)
    res = run.result
    feats, keys, leaves = res["model"]
    flat = flat_model(
        feats, keys, leaves / 2.0 ** res["frac_bits"], base_score=0.5, n_features=args.features
    )
    cuts = (
        quantile_cuts(X, args.max_bin)
        if args.split == "vertical"
        else plaintext_cuts(X, args.max_bin)
    )
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_bin": 256,
        "max_depth": args.depth,
        "eta": 0.3,
        "base_score": 0.5,
    }
    ref = xgb.train(params, xgb.DMatrix(bin_index(X, cuts).astype(float), label=y), args.trees)
    p_ref = ref.predict(xgb.DMatrix(bin_index(Xt, cuts).astype(float)))
    tree = [run.ledger.total(prefix=f"main/tree#{t}") for t in range(args.trees)]
    pre = [run.ledger.total("offline", prefix=f"main/tree#{t}") for t in range(args.trees)]
    setup = run.ledger.total(prefix="main/train_setup#0")
    report = {
        "rows": args.rows,
        "features": args.features,
        "depth": args.depth,
        "max_bin": args.max_bin,
        "split": args.split,
        "parties": args.parties,
        "provider": args.provider,
        "setup_secs": res["setup"],
        "setup_rounds": setup.rounds,
        "setup_bytes_sent": setup.bytes_sent,
        "tree_secs_median": statistics.median(res["trees"]),
        "tree_rounds": tree[0].rounds,
        "tree_bytes_sent": tree[0].bytes_sent,
        "tree_preprocessing_bytes_received": pre[0].bytes_received,
        "auc_private": float(roc_auc_score(yt, 1 / (1 + np.exp(-flat.predict_margin(Xt))))),
        "auc_xgboost_same_bins": float(roc_auc_score(yt, p_ref)),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:36s} {v:.6g}" if isinstance(v, float) else f"{k:36s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
