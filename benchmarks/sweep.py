"""Sweeps of ``mpc bench`` over batch sizes or numbers of parties, kept as JSON for plot.py.

    python benchmarks/sweep.py sizes                  # lt eq mul sum input lt-constant, 10^3..10^6
    python benchmarks/sweep.py sizes --point mul:10000000      # and one more point
    python benchmarks/sweep.py parties                # the same ops, 2..5 parties at 10^5
    python benchmarks/plot.py                         # redraw the figures from the JSONs

Every point is one ``mpc bench --op OP --size S --parties N --repeat R --json`` (real processes
over TLS 1.3 on loopback, a separate dealer process, the dealer material fetched before the
timed online part; per repetition the slowest party's time, see ``mpc bench --help``).  The
rows are written to ``benchmarks/results/sweep_<kind>.json`` with ``metadata`` (commit, UTC
date, machine, CPU, cores, Python and numpy versions, the load average before the sweep and
after it; :func:`mpc_runtime.cli.cmd_bench.metadata`), and each row carries the load average
after it.  A point that fails is recorded under ``failed`` and the sweep goes on.  On a terminal
a progress bar counts the points (:mod:`mpc_runtime.cli.progress`); ``--quiet`` drops the
per-point lines.

May import: the standard library, ``mpc_runtime.cli`` (cmd_bench, progress).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mpc_runtime.cli.cmd_bench import load_average, metadata
from mpc_runtime.cli.progress import Progress

RESULTS = Path(__file__).resolve().parent / "results"
OPS = "lt,eq,mul,sum,input,lt-constant"


def bench_point(op: str, size: int, parties: int, repeat: int, timeout: float) -> dict[str, Any]:
    """One ``mpc bench --json`` run; its single result row (raises CalledProcessError)."""
    cmd = [
        sys.executable, "-m", "mpc_runtime.cli.main", "bench", "--op", op, "--size", str(size),
        "--parties", str(parties), "--repeat", str(repeat), "--json",
        "--timeout", str(timeout),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout + 60)
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])["results"][0]
    return row


def points(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    """(op, size, parties) of the sweep, in the order they run."""
    ops = [o for o in args.ops.split(",") if o]
    if args.kind == "sizes":
        pts = [(op, int(s), args.parties) for op in ops for s in args.sizes.split(",")]
    else:
        pts = [(op, args.size, int(n)) for op in ops for n in args.parties_list.split(",")]
    for extra in args.point or []:
        op, _, size = extra.partition(":")
        pts.append((op, int(size), args.parties))
    return pts


def _fmt(row: dict[str, Any]) -> str:
    peak = max(row.get("peak_rss_bytes_by_party") or [0]) / 2**20
    return (
        f"{row['op']:<12} n={row['parties']} size={row['size']:>9}: online"
        f" {row['online_seconds']:.4f} s (min {min(row['online_seconds_all']):.4f},"
        f" max {max(row['online_seconds_all']):.4f}), peak {peak:.0f} MiB,"
        f" load {row.get('load_average_after', [])[:1]}"
    )


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    meta = metadata()
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    pts = points(args)
    with Progress(len(pts), f"sweep {args.kind}", unit="point") as bar:
        for op, size, n in pts:
            bar.describe(f"{op} n={n} size={size}")
            try:
                row = bench_point(op, size, n, args.repeat, args.timeout)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                err = getattr(exc, "stderr", "") or ""
                if isinstance(err, bytes):
                    err = err.decode(errors="replace")
                tail = err.strip().splitlines()[-1:] or [type(exc).__name__]
                failed.append({"op": op, "size": size, "parties": n, "error": tail[0]})
                bar.write(f"FAILED {op} n={n} size={size}: {tail[0]}")
            else:
                rows.append(row)
                if not args.quiet:
                    bar.write(_fmt(row))
            bar.update(1)
    meta["load_average_end"] = load_average()
    return {
        "kind": args.kind,
        "metadata": meta,
        "ops": [o for o in args.ops.split(",") if o],
        "repeat": args.repeat,
        "timing": "online seconds per repetition: the slowest party's perf_counter around the"
        " protocol call, dealer material prefetched (not included); 'online_seconds' is the"
        " median over repetitions, 'online_seconds_all' every repetition",
        "memory": "peak_rss_bytes_by_party: each party's ru_maxrss at the end of the job;"
        " idle_rss_bytes_by_party: the same when the job's program started (after imports,"
        " TLS and the mesh)",
        "results": rows,
        "failed": failed,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("kind", choices=("sizes", "parties"))
    ap.add_argument("--ops", default=OPS, help=f"comma-separated ops (default {OPS})")
    ap.add_argument("--sizes", default="1000,10000,100000,1000000", help="sizes sweep")
    ap.add_argument("--parties", type=int, default=3, help="parties of the sizes sweep")
    ap.add_argument("--parties-list", default="2,3,4,5", help="parties sweep")
    ap.add_argument("--size", type=int, default=100_000, help="size of the parties sweep")
    ap.add_argument("--point", action="append", help="OP:SIZE, one more point (sizes sweep)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=1800.0, help="per point, in seconds")
    ap.add_argument("--out", help="default: benchmarks/results/sweep_<kind>.json")
    ap.add_argument("--quiet", action="store_true", help="no line per point")
    args = ap.parse_args(argv)
    doc = sweep(args)
    out = Path(args.out) if args.out else RESULTS / f"sweep_{args.kind}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    print(f"wrote {out} ({len(doc['results'])} points, {len(doc['failed'])} failed)")
    return 1 if doc["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
