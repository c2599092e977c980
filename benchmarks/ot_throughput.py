"""Throughput of the OT preprocessing engine, n parties in one process over ``run_memory``.

    python benchmarks/ot_throughput.py --parties 2 --kind triples --count 200000 [--json]

Kinds: ``triples`` (Beaver, Z_2^64), ``and`` (AND triples; count = bits, rounded up to 64),
``dabits``, ``edabits``, ``trunc`` (exact-truncation pairs, ``--frac-bits``).  The in-memory mesh
carries real wire frames, so the byte counts are the ledger's.  Every party runs the same engine
calls; base OTs are set up first and timed apart.  The material is reconstructed and checked
after timing.  Printed per run: generation seconds (slowest party), items per second, rounds,
and bytes per item per ordered pair -- measured (wire bytes incl. framing, and payload bytes)
next to the model of :mod:`mpc_runtime.preprocessing.ot.engine` (payload only).
``--json`` prints ``{"metadata": ..., "results": [...]}`` (commit, UTC date, machine, CPU,
cores, Python and numpy versions, load average: :func:`mpc_runtime.cli.cmd_bench.metadata`);
without it, on a terminal, a progress bar counts the runs (:mod:`mpc_runtime.cli.progress`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mpc_runtime.cli.cmd_bench import load_average, metadata  # noqa: E402
from mpc_runtime.cli.progress import track  # noqa: E402
from mpc_runtime.preprocessing.ot import OTEngine  # noqa: E402
from mpc_runtime.preprocessing.ot.dabits import EDABIT_PLAN, trunc_plan  # noqa: E402
from mpc_runtime.preprocessing.ot.engine import DEFAULT_CHUNK_OTS  # noqa: E402
from mpc_runtime.preprocessing.ot.triples import TRIPLE_PLAN  # noqa: E402
from mpc_runtime.runtime.memory import run_memory  # noqa: E402

KINDS = ("triples", "and", "dabits", "edabits", "trunc")


def model(kind: str, n: int, count: int, f: int) -> tuple[float, int]:
    """(payload bytes per item per ordered pair, averaged over the n(n-1) pairs; rounds)."""
    rows_per_chunk = max(1, DEFAULT_CHUNK_OTS // (64 * (n - 1)))
    rows = {"and": math.ceil(count / 64), "dabits": math.ceil(count / 64)}.get(kind, count)
    chunks = math.ceil(rows / rows_per_chunk)
    if kind == "triples":
        return 64 * 16 + 8 * TRIPLE_PLAN.words, chunks + 1
    if kind == "and":
        corr = (n - 2) / (n - 1) / 8  # every sender corrects all peers but its first
        return 16 + corr, chunks if n == 2 else chunks + 1
    # Fold protocols: one direction of each unordered pair carries u, the other corrections.
    words = {"dabits": 64 / 64, "edabits": EDABIT_PLAN.words / 64, "trunc": 0.0}[kind]
    if kind == "trunc":
        words = trunc_plan(f).words / 64
    per_bit = (16 + 8 * words) / 2
    return per_bit * (1 if kind == "dabits" else 64), chunks + n - 1


def check(kind: str, results: list[Any], f: int) -> bool:
    """Reconstruct the material of all parties and test its defining relation."""
    add = lambda i: sum(r[i] for r in results)  # noqa: E731
    xor = lambda i: np.bitwise_xor.reduce([r[i] for r in results])  # noqa: E731
    if kind == "triples":
        return bool(np.array_equal(add(0) * add(1), add(2)))
    if kind == "and":
        return bool(np.array_equal(xor(0) & xor(1), xor(2)))
    if kind == "dabits":
        return bool(np.array_equal(xor(0).astype(np.uint64), add(1)))
    if kind == "edabits":
        return bool(np.array_equal(xor(0), add(1)))
    r, hi, msb = add(0), add(1), add(2)
    low = r & np.uint64(2**63 - 1)
    return bool(np.array_equal(hi, low >> np.uint64(f)) and np.array_equal(msb, r >> np.uint64(63)))


async def run(n: int, kind: str, count: int, f: int) -> dict[str, Any]:
    async def program(ctx: Any) -> tuple[Any, float, float, Any]:
        engine = OTEngine()
        t0 = time.perf_counter()
        await engine.setup(ctx)
        t1 = time.perf_counter()
        sub = ctx.scope("bench")
        if kind == "triples":
            out: Any = await engine.triples(sub, count)
        elif kind == "and":
            out = await engine.and_triples(sub, math.ceil(count / 64))
        elif kind == "dabits":
            out = await engine.dabits(sub, count)
        elif kind == "edabits":
            out = await engine.edabits(sub, count)
        else:
            out = await engine.trunc_pairs(sub, count, f)
        t2 = time.perf_counter()
        return out, t1 - t0, t2 - t1, ctx.ledger.total(prefix=str(sub.path))

    runs = await run_memory(n, program, round_timeout=120.0)
    results = [r.result for r in runs]
    seconds = max(r[2] for r in results)
    items = 64 * math.ceil(count / 64) if kind == "and" else count
    pairs = n * (n - 1)
    wire = sum(r[3].bytes_sent for r in results)
    payload = sum(r[3].payload_bytes_sent for r in results)
    model_bytes, model_rounds = model(kind, n, count, f)
    return {
        "parties": n,
        "kind": kind,
        "count": items,
        "setup_s": round(max(r[1] for r in results), 4),
        "seconds": round(seconds, 4),
        "per_second": round(items / seconds),
        "rounds": results[0][3].rounds,
        "model_rounds": model_rounds,
        "bytes_per_item_pair": round(wire / items / pairs, 3),
        "payload_per_item_pair": round(payload / items / pairs, 3),
        "model_per_item_pair": round(model_bytes, 3),
        "ok": check(kind, [r[0] for r in results], f),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parties", type=int, nargs="+", default=[2])
    ap.add_argument("--kind", choices=KINDS, nargs="+", default=["triples"])
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--frac-bits", type=int, default=16)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args()
    meta = metadata()
    runs = [(n, kind) for n in args.parties for kind in args.kind]
    rows = [
        asyncio.run(run(n, kind, args.count, args.frac_bits))
        for n, kind in track(runs, "ot throughput", unit="run", json_output=args.json)
    ]
    meta["load_average_end"] = load_average()
    if args.json:
        print(json.dumps({"metadata": meta, "results": rows}, indent=2))
        return 0 if all(r["ok"] for r in rows) else 1
    head = (
        f"{'n':>2} {'kind':<8} {'count':>9} {'setup s':>8} {'gen s':>7} {'items/s':>11}"
        f" {'rounds':>6} {'model':>5} {'B/item/pair':>11} {'payload':>9} {'model':>9} ok"
    )
    print(head)
    for r in rows:
        print(
            f"{r['parties']:>2} {r['kind']:<8} {r['count']:>9} {r['setup_s']:>8.3f}"
            f" {r['seconds']:>7.3f} {r['per_second']:>11,} {r['rounds']:>6} {r['model_rounds']:>5}"
            f" {r['bytes_per_item_pair']:>11.3f} {r['payload_per_item_pair']:>9.3f}"
            f" {r['model_per_item_pair']:>9.3f} {'yes' if r['ok'] else 'NO'}"
        )
    print(f"measured at {meta['commit']} on {meta['machine']} ({meta['date_utc']})")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
