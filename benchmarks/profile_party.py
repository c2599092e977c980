"""Profile one real party of a `mpc bench` job: party 1 runs under cProfile, the others normally.

    python benchmarks/profile_party.py --op mul --parties 3 --size 1000000 [--latency-ms L]

Writes ``benchmarks/results/profile-<op>-<n>p-<size>.prof`` and prints the top functions by
cumulative and by internal time.  Note the whole party process is profiled (TLS handshakes,
setup and the reveal too); the timed online part is under ``protocols.bench:_run_op``.  On a
terminal a progress bar counts the repetitions party 1 finishes (:mod:`mpc_runtime.cli.progress`).
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mpc_runtime.cli.progress import Progress

RESULTS = Path(__file__).resolve().parent / "results"


def run_profiled(cmd: list[str], work: Path, repeat: int, timeout: float) -> tuple[int, str, str]:
    """Run party 1 under cProfile with its output in files; a bar counts its repetitions."""
    from protocols.bench import PROGRESS_MARK

    out, err = work / "party-1-profiled.out", work / "party-1-profiled.err"
    deadline = time.monotonic() + timeout
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=work)
    seen = 0
    with Progress(repeat, "profile party 1", unit="rep") as bar:
        while proc.poll() is None and time.monotonic() < deadline:
            done = min(repeat, err.read_text(errors="replace").count(PROGRESS_MARK))
            bar.update(done - seen)
            seen = done
            time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    code = proc.wait()
    return code, out.read_text(errors="replace"), err.read_text(errors="replace")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--op", default="mul")
    ap.add_argument("--parties", type=int, default=3)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument(
        "--preprocessing",
        choices=("dealer", "ot"),
        default="dealer",
        help="dealer (default, as mpc bench: material prefetched) or ot (profiles making it)",
    )
    args = ap.parse_args()
    from mpc_runtime.launcher import LocalCluster

    RESULTS.mkdir(parents=True, exist_ok=True)
    prof = RESULTS / f"profile-{args.op}-{args.parties}p-{args.size}.prof"
    work = Path(tempfile.mkdtemp(prefix="mpc-profile-"))
    dealer = args.preprocessing == "dealer"
    names = [f"p{i}" for i in range(1, args.parties + 1)]
    with LocalCluster(
        work, names, round_timeout=120, preprocessing=args.preprocessing, separate_dealer=dealer
    ) as c:
        spec = c.write_spec(
            {
                "job_id": f"profile-{args.op}",
                "program": "protocols.bench:bench_job",
                "params": {"op": args.op, "size": args.size, "repeat": args.repeat, "seed": 1},
                "inputs": [],
                "outputs": [{"name": "checksum", "recipients": ["party:1"]}],
            }
        )
        c.start_coordinator(spec)
        if dealer:
            c.start_dealer()
        for pid in range(2, args.parties + 1):
            c.start_party(pid, spec, extra=["--json"])
        cmd = [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(prof),
            "-m",
            "mpc_runtime.cli.main",
            "party",
            "--config",
            str(c.config_path),
            "--id",
            "1",
            "--job",
            str(spec),
            "--json",
        ]
        code, stdout, stderr = run_profiled(cmd, work, args.repeat, 600)
        codes = c.wait(120)
        if code != 0 or any(codes.values()):
            print(stderr[-2000:], codes)
            return 1
    rep = json.loads([x for x in stdout.splitlines() if x.startswith("{")][-1])
    print("party 1 online seconds:", rep["outputs"]["bench"]["online_seconds"])
    st = pstats.Stats(str(prof))
    st.sort_stats("cumulative").print_stats(args.top)
    st.sort_stats("tottime").print_stats(args.top)
    print(f"wrote {prof}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
