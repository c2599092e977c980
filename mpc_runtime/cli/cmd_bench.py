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

``--size`` may be repeated: every op runs at every size (a fresh cluster each).  ``--json``
prints one JSON object instead: ``results`` (one row per op and size, each with every party's
peak and idle resident memory, ``peak_rss_bytes_by_party`` / ``idle_rss_bytes_by_party``, and
the CPU seconds each party spent in the timed window, ``online_cpu_seconds_by_party``),
``machine`` and ``metadata`` (:func:`metadata`: the commit, with ``-dirty`` when the work tree
has uncommitted changes, the UTC date, host, CPU model, cores, Python and numpy versions and the
load average before and after).  On a terminal (not with ``--json``, not under ``CI``) a progress
bar counts the repetitions of ops x sizes as party 1 finishes them
(:mod:`mpc_runtime.cli.progress`; party 1 marks each one on its stderr,
:data:`protocols.bench.PROGRESS_MARK`).  Party 1 checks every result against numpy (the test
data comes from a public seed), and the command fails if a check fails.  The protocol logic is
in :mod:`protocols.bench`; this module only starts processes and prints.

May import: cli.output, cli.progress, errors, launcher, numpy (lazily), protocols.bench (lazily).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mpc_runtime.cli.output import info, result
from mpc_runtime.cli.progress import Progress

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
    p.add_argument(
        "--size",
        type=int,
        action="append",
        help="elements per operand (default 10^4); repeat the flag for several sizes",
    )
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


REPO = Path(__file__).resolve().parents[2]
"""The source tree this module runs from (a git work tree in a development install)."""


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: never refresh the index file
    return subprocess.run(
        ["git", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )


def git_commit() -> str:
    """``git rev-parse --short HEAD`` of this source tree, ``-dirty`` if tracked files differ
    from HEAD; ``unknown`` outside a git work tree (an installed wheel) or without git."""
    try:
        top = _git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO:
            return "unknown"
        head = _git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown"
        dirty = _git("diff", "--quiet", "HEAD", "--").returncode == 1
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's ``model name`` from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("model name", "Model", "cpu model"):
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def metadata() -> dict[str, Any]:
    """What a result was measured on, for result JSONs and plot footers: commit, UTC date,
    host, CPU model, cores, Python and numpy versions, and the load average now."""
    import numpy

    return {
        "commit": git_commit(),
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": platform.node(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "load_average": load_average(),
    }


def _check_args(args: argparse.Namespace) -> None:
    from mpc_runtime.errors import UsageError

    if not 2 <= args.parties <= 32:
        raise UsageError("--parties must be between 2 and 32")
    if min(args.size) < 1 or args.repeat < 1 or args.seed < 0:
        raise UsageError("--size and --repeat must be >= 1, --seed >= 0")
    if "argmax" in args.op and not all(2 <= s <= 2048 for s in args.size):
        raise UsageError("argmax: --size must be in [2, 2048] (its cost grows as size^2)")
    if not 0 <= args.latency_ms <= 10_000:
        raise UsageError("--latency-ms must be in [0, 10000]")


def _wait(cluster: Any, timeout: float, bar: Progress, repeat: int) -> dict[str, int]:
    """``cluster.wait``; with a bar drawn, advance it as party 1 marks finished repetitions."""
    if not bar.active:
        return dict(cluster.wait(timeout))
    from protocols.bench import PROGRESS_MARK

    deadline = time.monotonic() + timeout
    first = next(p for p in cluster.procs if p.label == "party:1")
    seen = 0
    while time.monotonic() < deadline:
        running = first.popen.poll() is None
        done = min(repeat, first.stderr.count(PROGRESS_MARK))
        bar.update(done - seen)
        seen = done
        if not running:
            break
        time.sleep(0.25)
    codes = dict(cluster.wait(max(0.1, deadline - time.monotonic())))
    bar.update(repeat - seen)
    return codes


def run_one(
    args: argparse.Namespace, op: str, size: int | None = None, bar: Progress | None = None
) -> dict[str, Any]:
    """Run one op at one size (default: the first ``--size``) on a fresh local cluster; the
    aggregated numbers as a dict."""
    from mpc_runtime.errors import MPCError
    from mpc_runtime.launcher import LocalCluster, first_error_line

    n = args.parties
    size = args.size[0] if size is None else size
    bar = bar or Progress(None, json_output=True)  # a no-op
    work = Path(tempfile.mkdtemp(prefix=f"mpc-bench-{op}-"))
    names = [f"p{i}" for i in range(1, n + 1)]
    dealer = args.preprocessing == "dealer"
    try:
        round_timeout = max(30.0, size / 20_000 + 8 * args.latency_ms / 1000)
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
                        "size": size,
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
            codes = _wait(cluster, args.timeout, bar, args.repeat)
            failed = {k: c for k, c in codes.items() if c != 0}
            if failed:
                for p in cluster.procs:
                    if p.label in failed:
                        _note(
                            bar, f"{p.label} exited {failed[p.label]}: {first_error_line(p.stderr)}"
                        )
                raise MPCError(f"bench {op} failed: {', '.join(sorted(failed))} exited non-zero")
            reports = []
            for p in cluster.procs:
                if p.label.startswith("party:"):
                    line = [x for x in p.stdout.splitlines() if x.startswith("{")][-1]
                    reports.append(json.loads(line)["outputs"]["bench"])
    finally:
        if args.keep:
            _note(bar, f"bench {op}: work directory kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    row = aggregate(reports, args.latency_ms)
    row["load_average_after"] = load_average()
    return row


def _note(bar: Progress, msg: str) -> None:
    """A diagnostic line on stderr (``mpc: ...``) that does not break a drawn bar."""
    if bar.active:
        bar.write(f"mpc: {msg}", file=sys.stderr)
    else:
        info(msg)


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
        "offline_seconds_all": per_rep_offline,
        "offline_elements_per_second": first["size"] / statistics.median(per_rep_offline)
        if statistics.median(per_rep_offline) > 0
        else None,
        "offline_bytes_sent_by_party": [
            int(r.get("offline", {}).get("bytes_sent", 0)) for r in reports
        ],
        "offline_rounds": max(int(r.get("offline", {}).get("rounds", 0)) for r in reports),
        # CPU seconds (user + system) each party spent in the timed window, median over
        # repetitions: less noisy than wall time on a shared machine (3 parties on 2 cores wait
        # for each other's CPU, so the wall time is at least their sum / cores).
        "online_cpu_seconds_by_party": [
            statistics.median(r["online_cpu_seconds"]) if r.get("online_cpu_seconds") else None
            for r in reports
        ],
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
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    several = len(sizes) > 1
    what = f"sizes {', '.join(map(str, sizes))}" if several else f"size {r0['size']}"
    result(
        f"mpc bench: {r0['parties']} parties, {what}, repeat {r0['repeat']},"
        f" simulated latency {r0['latency_ms']:g} ms; TLS 1.3 on loopback, one process per party"
    )
    head = (
        (f"{'size':>9} " if several else "")
        + f"{'op':<11} {'rounds':>6} {'formula':>7} {'msgs/party':>10} {'online B/party':>14}"
        f" {'offline B/party':>15} {'online s':>9} {'offline s':>9} {'elem/s':>11}"
        f" {'offline elem/s':>14}"
    )
    if r0["latency_ms"]:
        head += f" {'rounds x L':>10}"
    result(head)
    for r in rows:
        line = (
            (f"{r['size']:>9} " if several else "")
            + f"{r['op']:<11} {r['rounds']:>6} {r['expected_rounds']:>7}"
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
    args.size = list(dict.fromkeys(args.size or [10_000]))
    _check_args(args)
    ops = list(dict.fromkeys(args.op))
    meta = metadata()
    rows = []
    total = len(ops) * len(args.size) * args.repeat
    with Progress(total, "mpc bench", unit="rep", json_output=args.json) as bar:
        for op in ops:
            for size in args.size:
                bar.describe(f"bench {op} {size}")
                if not args.json:
                    _note(bar, f"bench {op} size {size}: a coordinator and {args.parties} parties")
                rows.append(run_one(args, op, size, bar))
    meta["load_average_end"] = load_average()
    if args.json:
        result(json.dumps({"machine": machine(), "metadata": meta, "results": rows}))
    else:
        print_table(rows)
        result(f"measured at {meta['commit']} on {meta['machine']} ({meta['date_utc']})")
    return 0
