"""``mpc bench``: rounds, bytes and online time of a protocol, with real processes over TLS.

For each ``--op`` it makes throwaway certificates, writes a loopback cluster file (with
``[limits] simulated_latency_ms`` when ``--latency-ms`` is given), starts a coordinator, a
separate dealer process when ``--preprocessing dealer``, and ``--parties`` ``mpc party`` processes
running ``protocols.bench:bench_job`` on public random test data, and prints one table row per op:

* online rounds (and the documented formula), messages and bytes each party sent in the timed
  part (the largest over parties), offline bytes a party received (from the dealer: party 1
  receives the corrections, the others a seed; with ``ot``: what the other parties sent it);
* the online wall time: per repetition the slowest party's ``perf_counter`` around the protocol
  call (material is prefetched and not in it), the median over repetitions; elements/second;
* with ``--latency-ms L``: ``rounds x L``, the floor the simulated latency adds to every round.

``--json`` prints one JSON object instead.  Party 1 checks every result against numpy (the test
data comes from a public seed), and the command fails if a check fails.  The protocol logic is
in :mod:`protocols.bench`; this module only starts processes and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from mpc_runtime.cli.output import info, result

OPS = (
    "input",
    "sum",
    "mul",
    "lt",
    "eq",
    "lt-constant",
    "eq-constant",
    "lt-fss",
    "eq-fss",
    "argmax",
    "triples",
    "and-triples",
)
"""Must match ``protocols.bench.OPS`` (a test checks it); kept here so ``--help`` imports nothing
heavy."""

DESCRIPTION = """\
Benchmark protocols with real processes over mutually authenticated TLS 1.3 on loopback.

For each --op: throwaway certificates, a coordinator, --parties party processes (and a dealer
process with --preprocessing dealer) running the operation on public random test data.  One row
per op: online rounds next to the documented formula, messages and bytes each party sent in the
timed part, offline (preprocessing) bytes and seconds, online seconds (per repetition the slowest
party's time around the protocol call, median over repetitions) and elements per second.  With
--latency-ms L every message between parties is delayed by L ms.  Party 1 checks every result
against numpy and the command fails if a check fails.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark a protocol: rounds, bytes, online time (real processes over TLS)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--op",
        action="append",
        choices=OPS,
        required=True,
        help="operation to benchmark; repeat the flag for several",
    )
    p.add_argument("--parties", type=int, default=3, help="number of parties (default 3)")
    p.add_argument("--size", type=int, default=10_000, help="elements per operand (default 10^4)")
    p.add_argument(
        "--latency-ms", type=float, default=0.0, help="simulated one-way latency per message"
    )
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (default 3)")
    p.add_argument("--seed", type=int, default=1, help="PUBLIC seed of the random test data")
    p.add_argument(
        "--preprocessing",
        choices=("ot", "dealer"),
        default="dealer",
        help="who makes the material: the parties by OT, or a separate dealer (default)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, certs)")
    p.set_defaults(func=run)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def _check_args(args: argparse.Namespace) -> None:
    from mpc_runtime.errors import UsageError

    if not 2 <= args.parties <= 32:
        raise UsageError("--parties must be between 2 and 32")
    if args.size < 1 or args.repeat < 1 or args.seed < 0:
        raise UsageError("--size and --repeat must be >= 1, --seed >= 0")
    if "argmax" in args.op and not 2 <= args.size <= 2048:
        raise UsageError("argmax: --size must be in [2, 2048] (its cost grows as size^2)")
    if not 0 <= args.latency_ms <= 10_000:
        raise UsageError("--latency-ms must be in [0, 10000]")


def run_one(args: argparse.Namespace, op: str) -> dict[str, Any]:
    """Run one op on a fresh local cluster; the aggregated numbers as a dict."""
    from mpc_runtime.errors import MPCError
    from mpc_runtime.launcher import LocalCluster, first_error_line

    n = args.parties
    work = Path(tempfile.mkdtemp(prefix=f"mpc-bench-{op}-"))
    names = [f"p{i}" for i in range(1, n + 1)]
    dealer = args.preprocessing == "dealer"
    try:
        round_timeout = max(30.0, args.size / 20_000 + 8 * args.latency_ms / 1000)
        with LocalCluster(
            work,
            names,
            round_timeout=round_timeout,
            separate_dealer=dealer,
            preprocessing=args.preprocessing,
        ) as cluster:
            if args.latency_ms:
                with cluster.config_path.open("a") as fh:
                    fh.write(f"\n[limits]\nsimulated_latency_ms = {args.latency_ms}\n")
            spec = cluster.write_spec(
                {
                    "job_id": f"bench-{op}",
                    "program": "protocols.bench:bench_job",
                    "params": {
                        "op": op,
                        "size": args.size,
                        "repeat": args.repeat,
                        "seed": args.seed,
                    },
                    "inputs": [],
                    "outputs": [{"name": "checksum", "recipients": ["party:1"]}],
                }
            )
            cluster.start_coordinator(spec)
            if dealer:
                cluster.start_dealer()
            for pid in range(1, n + 1):
                cluster.start_party(pid, spec, extra=["--json"])
            codes = cluster.wait(args.timeout)
            failed = {k: c for k, c in codes.items() if c != 0}
            if failed:
                for p in cluster.procs:
                    if p.label in failed:
                        info(f"{p.label} exited {failed[p.label]}: {first_error_line(p.stderr)}")
                raise MPCError(f"bench {op} failed: {', '.join(sorted(failed))} exited non-zero")
            reports = []
            for p in cluster.procs:
                if p.label.startswith("party:"):
                    line = [x for x in p.stdout.splitlines() if x.startswith("{")][-1]
                    reports.append(json.loads(line)["outputs"]["bench"])
    finally:
        if args.keep:
            info(f"bench {op}: work directory kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return aggregate(reports, args.latency_ms)


def aggregate(reports: list[dict[str, Any]], latency_ms: float) -> dict[str, Any]:
    """Combine the parties' reports: per repetition the slowest party counts."""
    from mpc_runtime.errors import MPCError

    first = reports[0]
    per_rep_online = [
        max(vals) for vals in zip(*(r["online_seconds"] for r in reports), strict=True)
    ]
    per_rep_offline = [
        max(vals) for vals in zip(*(r["offline_seconds"] for r in reports), strict=True)
    ]
    online = statistics.median(per_rep_online)
    rounds = max(int(r["online"]["rounds"]) for r in reports)
    verified = [r["verified"] for r in reports if "verified" in r]
    if verified != [True]:
        raise MPCError(f"bench {first['op']}: party 1 found a wrong result")
    out = {
        "op": first["op"],
        "parties": first["parties"],
        "size": first["size"],
        "repeat": first["repeat"],
        "latency_ms": latency_ms,
        "rounds": rounds,
        "expected_rounds": first["expected_rounds"],
        "messages_per_party": max(int(r["online"]["messages_sent"]) for r in reports),
        "online_bytes_per_party": max(int(r["online"]["bytes_sent"]) for r in reports),
        "online_payload_bytes_per_party": max(
            int(r["online"]["payload_bytes_sent"]) for r in reports
        ),
        "online_bytes_sent_by_party": [int(r["online"]["bytes_sent"]) for r in reports],
        "offline_bytes_per_party": max(int(r["offline_bytes_received"]) for r in reports),
        "offline_bytes_by_party": [int(r["offline_bytes_received"]) for r in reports],
        "online_seconds": online,
        "online_seconds_min": min(per_rep_online),
        "online_seconds_all": per_rep_online,
        "offline_seconds": statistics.median(per_rep_offline),
        "offline_elements_per_second": first["size"] / statistics.median(per_rep_offline)
        if statistics.median(per_rep_offline) > 0
        else None,
        "offline_bytes_sent_by_party": [
            int(r.get("offline", {}).get("bytes_sent", 0)) for r in reports
        ],
        "offline_rounds": max(int(r.get("offline", {}).get("rounds", 0)) for r in reports),
        "peak_rss_bytes_by_party": [int(r.get("peak_rss_bytes", 0)) for r in reports],
        "idle_rss_bytes_by_party": [int(r.get("idle_rss_bytes", 0)) for r in reports],
        "elements_per_second": first["size"] / online if online > 0 else None,
        "preprocessing_mode": first.get("preprocessing_mode", ""),
        "latency_floor_seconds": rounds * latency_ms / 1000.0,
        "verified": True,
    }
    return out


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if b < 1000 or unit == "GB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000
    return f"{b}"  # pragma: no cover


def print_table(rows: list[dict[str, Any]]) -> None:
    r0 = rows[0]
    result(
        f"mpc bench: {r0['parties']} parties, size {r0['size']}, repeat {r0['repeat']},"
        f" simulated latency {r0['latency_ms']:g} ms; TLS 1.3 on loopback, one process per party"
    )
    head = (
        f"{'op':<11} {'rounds':>6} {'formula':>7} {'msgs/party':>10} {'online B/party':>14}"
        f" {'offline B/party':>15} {'online s':>9} {'offline s':>9} {'elem/s':>11}"
        f" {'offline elem/s':>14}"
    )
    if r0["latency_ms"]:
        head += f" {'rounds x L':>10}"
    result(head)
    for r in rows:
        line = (
            f"{r['op']:<11} {r['rounds']:>6} {r['expected_rounds']:>7}"
            f" {r['messages_per_party']:>10}"
            f" {_fmt_bytes(r['online_bytes_per_party']):>14}"
            f" {_fmt_bytes(r['offline_bytes_per_party']):>15}"
            f" {r['online_seconds']:>9.4f} {r['offline_seconds']:>9.4f}"
            f" {r['elements_per_second'] or 0:>11.3g}"
            f" {r['offline_elements_per_second'] or 0:>14.3g}"
        )
        if r0["latency_ms"]:
            line += f" {r['latency_floor_seconds']:>10.3f}"
        result(line)
    result(
        "online s: median over repetitions of the slowest party's time around the protocol call"
        " (dealer material prefetched, not included); every result checked by party 1 (numpy)"
    )


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    ops = list(dict.fromkeys(args.op))
    rows = []
    for op in ops:
        if not args.json:
            info(f"bench {op}: starting a coordinator and {args.parties} parties")
        rows.append(run_one(args, op))
    if args.json:
        result(json.dumps({"machine": machine(), "results": rows}))
    else:
        print_table(rows)
    return 0
