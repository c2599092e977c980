"""Plots of online time and rounds vs number of parties and vs batch size, from `mpc bench`.

    pip install -e '.[bench]'
    python benchmarks/plot.py                      # parties 2..8 at 10^4; sizes 10^2..10^5 at 3
    python benchmarks/plot.py --from-json benchmarks/results/sweep.json   # re-plot only

Runs ``mpc bench --op ... --json`` once per point (real processes over TLS on loopback), keeps
every row in ``benchmarks/results/sweep.json`` and writes ``benchmarks/results/vs_parties.png``
and ``benchmarks/results/vs_size.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def bench(ops: list[str], parties: int, size: int, repeat: int) -> list[dict]:
    cmd = [
        sys.executable,
        "-m",
        "mpc_runtime.cli.main",
        "bench",
        "--parties",
        str(parties),
        "--size",
        str(size),
        "--repeat",
        str(repeat),
        "--json",
    ]
    for op in ops:
        cmd += ["--op", op]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])["results"]


def sweep(args: argparse.Namespace) -> dict:
    ops = args.ops.split(",")
    by_parties, by_size = [], []
    for n in range(2, args.max_parties + 1):
        print(f"parties={n} size={args.size}", flush=True)
        by_parties += bench(ops, n, args.size, args.repeat)
    for s in (int(x) for x in args.sizes.split(",")):
        print(f"parties=3 size={s}", flush=True)
        by_size += bench(ops, 3, s, args.repeat)
    return {"ops": ops, "by_parties": by_parties, "by_size": by_size}


def plot(data: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for key, xname, xlabel, logx in (
        ("by_parties", "parties", "number of parties", False),
        ("by_size", "size", "batch size (elements)", True),
    ):
        rows = data[key]
        fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2))
        for op in data["ops"]:
            pts = sorted((r[xname], r) for r in rows if r["op"] == op)
            xs = [x for x, _ in pts]
            ax_t.plot(xs, [r["online_seconds"] for _, r in pts], marker="o", label=op)
            ax_r.plot(xs, [r["rounds"] for _, r in pts], marker="o", label=op)
        fixed = (
            f"batch {rows[0]['size']}" if key == "by_parties" else f"{rows[0]['parties']} parties"
        )
        ax_t.set_title(f"online time vs {xname} ({fixed})")
        ax_t.set_ylabel("online seconds (slowest party, median)")
        ax_r.set_title(f"online rounds vs {xname} ({fixed})")
        ax_r.set_ylabel("rounds")
        for ax in (ax_t, ax_r):
            ax.set_xlabel(xlabel)
            ax.grid(True, alpha=0.3)
            ax.legend()
            if logx:
                ax.set_xscale("log")
        if logx:
            ax_t.set_yscale("log")
        fig.suptitle("mpc-runtime: real processes over TLS 1.3 on loopback (mpc bench)")
        fig.tight_layout()
        path = RESULTS / f"vs_{xname if xname == 'size' else 'parties'}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", default="mul,lt")
    ap.add_argument("--size", type=int, default=10_000, help="batch size of the parties sweep")
    ap.add_argument("--max-parties", type=int, default=8)
    ap.add_argument("--sizes", default="100,1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--from-json", help="plot an earlier sweep instead of running one")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
    else:
        data = sweep(args)
        (RESULTS / "sweep.json").write_text(json.dumps(data, indent=1))
    for p in plot(data):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
