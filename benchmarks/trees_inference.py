"""Private XGBoost inference in memory: latency, throughput, rounds, bytes and accuracy.

    python benchmarks/trees_inference.py [--parties 3] [--trees 100] [--depth 6]
        [--batch 100] [--repeat 5] [--batches 3] [--hidden] [--synthetic] [--json]

Trains a real xgboost model (``binary:logistic``, ``hist``) on sklearn's breast_cancer data (30
features; ``--synthetic``: a seeded synthetic set with 30 features), shares it from party 1,
and in one in-memory session (``run_memory``: every party in one event loop, real wire frames,
in-process dealer) runs one warm-up prediction, ``--repeat`` single-query predictions (the
median is the latency) and ``--batches`` batches of ``--batch`` queries: the first batch is
"cold" (the process has never allocated arrays that large, so it pays the page faults of fresh
memory), the median of the others is the steady state of a party serving batch after batch.
Times are wall times of ``predict`` on party 1 and include the in-process dealer's material
generation.  On glibc the cold batch is dominated by fresh ``mmap`` allocations;
:func:`mpc_runtime.procinfo.keep_freed_memory` (what ``mpc party`` and ``mpc dealer`` call)
keeps large arrays on the reused heap; this in-process benchmark does not call it.  Rounds and
bytes per query come from the ledger and are printed next to ``predict_cost``; accuracy is the
largest difference from ``Booster.predict`` over the batch.

May import: numpy, ``mpc_runtime.runtime``, ``protocols.*``; xgboost and scikit-learn (the
optional extra) inside :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import numpy as np


def _data(synthetic: bool) -> tuple[np.ndarray, np.ndarray]:
    if synthetic:
        from sklearn.datasets import make_classification

        X, y = make_classification(n_samples=2000, n_features=30, n_informative=12, random_state=7)
        return X, y
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return X, y


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--parties", type=int, default=3)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5, help="single-query runs")
    ap.add_argument("--batches", type=int, default=3, help="batch runs (the first is cold)")
    ap.add_argument("--hidden", action="store_true", help="hidden feature indices")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


def _measure(args: argparse.Namespace, flat: Any, X: np.ndarray, batch: np.ndarray) -> Any:
    """Run the session; party 1's timings, ledger path of the last batch and its margins."""
    from mpc_runtime.cli.progress import Progress
    from mpc_runtime.runtime.memory import run_memory
    from protocols.io import open_value
    from protocols.trees import predict, share_model, share_queries

    n, d, f, public = args.parties, args.depth, X.shape[1], not args.hidden
    steps = args.repeat + 1 + max(args.batches, 1)
    bar = Progress(steps, "trees predict", unit="call", json_output=args.json)  # a terminal only

    async def prog(ctx: Any) -> dict[str, Any]:
        owner_model = flat if ctx.party_id == 1 else None
        ms = await share_model(
            ctx, 1, owner_model, d, n_trees=flat.n_trees, n_features=f, public_features=public
        )
        calls = 0

        async def run(rows: np.ndarray) -> tuple[float, Any, str]:
            nonlocal calls
            qs = await share_queries(ctx, n, rows if ctx.party_id == n else None, f)  # client n
            t0 = time.perf_counter()
            margin = await predict(ctx, ms, qs, depth=d, public_features=public)
            elapsed = time.perf_counter() - t0
            calls += 1
            if ctx.party_id == 1:
                bar.update(1)
            return elapsed, margin, f"{ctx.path}/trees_predict#{calls - 1}"

        out: dict[str, Any] = {"single": [], "batches": []}
        for i in range(args.repeat + 1):  # the first one is a warm-up
            secs, _, _ = await run(X[i : i + 1])
            if i:
                out["single"].append(secs)
        for _ in range(max(args.batches, 1)):  # the first batch is the cold one
            secs, margin, out["batch_path"] = await run(batch)
            out["batches"].append(secs)
        out["margin"] = (await open_value(ctx, margin)).view(np.int64) / 2.0**margin.frac_bits
        return out

    with bar:
        return asyncio.run(run_memory(n, prog, round_timeout=120))[0]


def main() -> int:
    args = _args()
    import xgboost as xgb

    from protocols.trees import load_model, predict_cost

    X, y = _data(args.synthetic)
    params = {"objective": "binary:logistic", "max_depth": args.depth, "tree_method": "hist"}
    booster = xgb.train({**params, "seed": 1}, xgb.DMatrix(X, label=y), args.trees)
    flat = load_model(booster).flatten(args.depth)
    batch = X[np.arange(args.batch) % len(X)]
    run = _measure(args, flat, X, batch)
    res, q = run.result, args.batch
    led = run.ledger.total(prefix=res["batch_path"])
    offline = run.ledger.total("offline", prefix=res["batch_path"])
    want = predict_cost(
        q, flat.n_trees, args.depth, X.shape[1], args.parties, public_features=not args.hidden
    )
    ref = booster.predict(xgb.DMatrix(batch), output_margin=True)
    report = {
        "parties": args.parties,
        "trees": flat.n_trees,
        "depth": args.depth,
        "features": X.shape[1],
        "feature_indices": "hidden" if args.hidden else "public",
        "single_query_ms_median": 1000 * statistics.median(res["single"]),
        "batch": q,
        "first_batch_secs": res["batches"][0],
        "queries_per_sec_first_batch": q / res["batches"][0],
        "queries_per_sec_steady": q / statistics.median(res["batches"][1:] or res["batches"]),
        "rounds": led.rounds,
        "rounds_formula": want.rounds,
        "bytes_per_query_per_party": led.payload_bytes_sent / q,
        "bytes_per_query_formula": want.payload_bytes / q,
        "dealer_bytes_per_query": offline.bytes_received / q,
        "max_abs_error_vs_xgboost": float(np.max(np.abs(res["margin"] - ref))),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:28s} {v:.6g}" if isinstance(v, float) else f"{k:28s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
