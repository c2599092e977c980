"""Side by side with MPyC 0.11: sum, mul and lt on 3 parties, separate processes on loopback.

    pip install -e '.[bench]'          # mpyc==0.11, gmpy2, matplotlib, tqdm
    python benchmarks/mpyc_compare.py --sizes 10000   # --ops / --preprocessing dealer

For every (op, size) it runs, one after the other on the same machine and in the same run:

* ours: ``mpc bench --op OP --parties 3 --size S --preprocessing ot --json`` (3 ``mpc party``
  processes and a coordinator over mutually authenticated TLS 1.3; additive shares over
  Z_2^64; the material made by the parties themselves by OT, or with ``--preprocessing
  dealer`` by a separate dealer, fetched before the timed online part);
* MPyC: 3 processes ``python benchmarks/mpyc_party.py -M3 -I<i> -B<port> --no-log``
  (Shamir shares over a prime field, ``SecInt(32)`` NumPy secure arrays, t = 1, PRSS
  randomness, no preprocessing phase).

It prints both online times, ours end to end (offline + online per repetition), the ratios
(MPyC seconds / ours) and every party's peak resident memory (``ru_maxrss``: ours from
``peak_rss_bytes_by_party``, MPyC's from each party's report), and writes
``benchmarks/results/mpyc_compare_<preprocessing>.json`` with ``metadata`` (commit, UTC date,
machine, CPU, cores, Python and numpy versions, load average before and after;
:func:`mpc_runtime.cli.cmd_bench.metadata`).  Both sides run ``--repeat`` repetitions (default 5)
and report the median, with every repetition kept for error bars.  On a terminal a progress bar
counts the runs (:mod:`mpc_runtime.cli.progress`).  Not part of the test suite (MPyC's lt at
10^5 takes minutes on 2 cores).

May import: the standard library, ``mpc_runtime.cli`` (cmd_bench, progress), ``mpc_runtime
.launcher``; never ``mpyc`` itself (it would parse our argv), only its version.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mpc_runtime.cli.cmd_bench import load_average, metadata
from mpc_runtime.cli.progress import Progress

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def free_port_base() -> int:
    from mpc_runtime.launcher import free_ports

    return free_ports(1)[0]


def run_ours(op: str, size: int, repeat: int, preprocessing: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mpc_runtime.cli.main",
            "bench",
            "--op",
            op,
            "--parties",
            "3",
            "--size",
            str(size),
            "--repeat",
            str(repeat),
            "--preprocessing",
            preprocessing,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])["results"][0]
    return row


def _mpyc_once(op: str, size: int, repeat: int, timeout: float) -> list[dict[str, Any]]:
    """Run the 3 MPyC parties once; a party that dies makes us stop the others (MPyC would wait
    for it forever) and raise, so the caller can retry on fresh ports."""
    base = free_port_base()
    env = dict(os.environ, BENCH_OP=op, BENCH_SIZE=str(size), BENCH_REPEAT=str(repeat))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "mpyc_party.py"),
                "-M3",
                f"-I{i}",
                "-B",
                str(base),
                "--no-log",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(3)
    ]
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                why = f"exited {failed[0].returncode}" if failed else f"ran past {timeout:g}s"
                raise RuntimeError(f"an MPyC party {why}")
            time.sleep(0.2)
        reports = []
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"MPyC party exited {p.returncode}: {err[-500:]}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def run_mpyc(
    op: str, size: int, repeat: int, timeout: float = 900.0, bar: Progress | None = None
) -> dict[str, Any]:
    try:
        reports = _mpyc_once(op, size, repeat, timeout)
    except RuntimeError as exc:
        line = f"  (MPyC {op} {size}: {exc}; retrying once on other ports)"
        (bar or Progress(None, json_output=True)).write(line)
        reports = _mpyc_once(op, size, repeat, timeout)
    per_rep = [max(v) for v in zip(*(r["online_seconds"] for r in reports), strict=True)]
    reports.sort(key=lambda r: int(r["party"]))
    return {
        "online_seconds": statistics.median(per_rep),
        "online_seconds_all": per_rep,
        "ok": all(r["ok"] for r in reports),
        "peak_rss_bytes_by_party": [int(r.get("peak_rss_bytes", 0)) for r in reports],
        "idle_rss_bytes_by_party": [int(r.get("idle_rss_bytes", 0)) for r in reports],
    }


OURS_KEYS = (
    "online_seconds",
    "online_seconds_all",
    "rounds",
    "offline_seconds",
    "offline_seconds_all",
    "online_bytes_per_party",
    "offline_bytes_per_party",
    "peak_rss_bytes_by_party",
    "idle_rss_bytes_by_party",
    "load_average_after",
    "verified",
)


def compare_one(op: str, size: int, args: argparse.Namespace, bar: Progress) -> dict[str, Any]:
    """Ours then MPyC on (op, size); one result row."""
    bar.describe(f"ours {op} {size}")
    ours = run_ours(op, size, args.repeat, args.preprocessing)
    bar.update(1)
    bar.describe(f"MPyC {op} {size}")
    t0 = time.perf_counter()
    theirs = run_mpyc(op, size, args.mpyc_repeat or args.repeat, bar=bar)
    wall = time.perf_counter() - t0
    bar.update(1)
    e2e_all = [
        a + b for a, b in zip(ours["online_seconds_all"], ours["offline_seconds_all"], strict=True)
    ]
    e2e = statistics.median(e2e_all)
    return {
        "op": op,
        "size": size,
        "parties": 3,
        "ours": {k: ours[k] for k in OURS_KEYS if k in ours},
        "ours_end_to_end_seconds": e2e,
        "ours_end_to_end_seconds_all": e2e_all,
        "mpyc": {**theirs, "wall_seconds": wall, "load_average_after": load_average()},
        "ratio_mpyc_over_ours": theirs["online_seconds"] / ours["online_seconds"],
        "ratio_mpyc_over_ours_end_to_end": theirs["online_seconds"] / e2e,
    }


def _mib(values: list[int]) -> str:
    lo, hi = min(values) / 2**20, max(values) / 2**20
    return f"{lo:.0f}" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--ops", default="sum,mul,lt")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions (median; default 5)")
    ap.add_argument("--mpyc-repeat", type=int, help="MPyC's repetitions (default: --repeat)")
    ap.add_argument(
        "--preprocessing",
        choices=("ot", "dealer"),
        default="ot",
        help="ours with OT (no third party, like MPyC; default) or with a separate dealer",
    )
    ap.add_argument("--out", help="default: benchmarks/results/mpyc_compare_<preprocessing>.json")
    args = ap.parse_args()
    from importlib.metadata import version  # importing mpyc would parse our argv as its own

    mpyc_version = version("mpyc")
    out = Path(args.out or RESULTS / f"mpyc_compare_{args.preprocessing}.json")
    meta = metadata()
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    ops = args.ops.split(",")
    with Progress(2 * len(sizes) * len(ops), "mpyc compare", unit="run") as bar:
        bar.write(
            f"{'op':<4} {'size':>7} {'ours online':>11} {'ours e2e':>9} {'MPyC s':>9}"
            f" {'online x':>9} {'e2e x':>7} {'ours MiB':>9} {'MPyC MiB':>9}  checks"
        )
        for size in sizes:
            for op in ops:
                row = compare_one(op, size, args, bar)
                rows.append(row)
                ours, theirs = row["ours"], row["mpyc"]
                bar.write(
                    f"{op:<4} {size:>7} {ours['online_seconds']:>11.4f}"
                    f" {row['ours_end_to_end_seconds']:>9.4f} {theirs['online_seconds']:>9.4f}"
                    f" {row['ratio_mpyc_over_ours']:>8.1f}x"
                    f" {row['ratio_mpyc_over_ours_end_to_end']:>6.1f}x"
                    f" {_mib(ours['peak_rss_bytes_by_party']):>9}"
                    f" {_mib(theirs['peak_rss_bytes_by_party']):>9}"
                    f"  ours={ours['verified']} mpyc={theirs['ok']}"
                )
    meta["load_average_end"] = load_average()
    doc = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "metadata": meta,
        "mpyc_version": mpyc_version,
        "mpyc_mode": "SecInt(32) NumPy secure arrays (secint.array), -M3, t=1, PRSS",
        "ours_mode": f"64-bit ring, additive n-of-n, {args.preprocessing} preprocessing"
        " (offline, reported separately and in the end-to-end column)",
        "preprocessing": args.preprocessing,
        "repeat": args.repeat,
        "timing": "online seconds: slowest party, median of repetitions; end to end: ours"
        " online + offline per repetition, median (MPyC has no offline phase)",
        "memory": "peak_rss_bytes_by_party: each party's ru_maxrss at the end of its run"
        " (ours: the whole job, offline included; MPyC: the whole run)",
        "results": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
