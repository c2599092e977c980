"""Circuit PSI as real processes over TLS: wall time, rounds and bytes against the formulas.

Runs ``mpc demo psi``'s cluster (a coordinator and one party process per party on loopback,
and a dealer with ``--preprocessing dealer``) for each configuration and provider, ``--repeat``
times, checks every output against the plaintext computation, and prints one line per run with
the online rounds and bytes the ledger recorded next to :func:`protocols.psi.costs.circuit_cost`.

    python benchmarks/psi_circuit.py                       # 2 x 2^16 and 3 x 2^14, ot and dealer
    python benchmarks/psi_circuit.py --config 2x4096 --providers dealer --repeat 3
    python benchmarks/psi_circuit.py --json benchmarks/results/psi_circuit.json

The sets are public test data (see :mod:`mpc_runtime.cli.demo_psi`); the machine's other load
shows in the times, so repeat and report the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import sys
from pathlib import Path
from typing import Any

from mpc_runtime.cli import demo_psi
from mpc_runtime.cli.progress import Progress
from protocols.psi.costs import circuit_cost, reveal_cost
from protocols.psi.hashing import hash_identifiers


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process reaped so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _namespace(parties: int, size: int, provider: str, timeout: float) -> argparse.Namespace:
    return argparse.Namespace(
        size=size,
        parties=parties,
        payload=True,
        method="circuit",
        intersection=False,
        overlap=0.25,
        seed="psi-bench",
        timeout=timeout,
        preprocessing=provider,
        keep=False,
    )


def predicted(parties: int, size: int) -> dict[str, int]:
    """Online rounds and the largest payload bytes a party sends, by the formula."""
    sizes = {p: size for p in range(1, parties + 1)}
    worst = {"rounds": 0, "payload_bytes_sent": 0}
    for me in sizes:
        c = circuit_cost(
            sizes, parties, me, want=["cardinality", "payload_sum"], payloads=[parties]
        )
        for _ in range(2):  # cardinality and payload_sum, each revealed to every party
            r = reveal_cost(1, sizes, me)
            c.add(r.rounds, r.bytes_sent)
        worst["rounds"] = max(worst["rounds"], c.rounds)
        worst["payload_bytes_sent"] = max(worst["payload_bytes_sent"], c.bytes_sent)
    return worst


def one_run(parties: int, size: int, provider: str, timeout: float) -> dict[str, Any]:
    args = _namespace(parties, size, provider, timeout)
    data = demo_psi.make_data(args.seed, parties, size, args.overlap, True)
    salt = secrets.token_hex(8)
    cpu = children_cpu()
    reports, elapsed = demo_psi.run_cluster(args, demo_psi.job_spec(args, salt), data)
    cpu = children_cpu() - cpu
    expected = sorted(int(k) + 1 for k in hash_identifiers(data.common, salt))
    on = [r["ledger"]["online"]["total"] for r in reports]
    off = [r["ledger"]["offline"]["total"] for r in reports]
    return {
        "parties": parties,
        "size": size,
        "provider": provider,
        "seconds": round(elapsed, 2),
        "cpu_seconds_all_processes": round(cpu, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "correct": demo_psi.verify(reports, data, expected),
        "rounds": max(int(o["rounds"]) for o in on),
        "payload_bytes_sent": max(int(o["payload_bytes_sent"]) for o in on),
        "bytes_sent": max(int(o["bytes_sent"]) for o in on),
        "offline_bytes_sent": max(int(o["bytes_sent"]) for o in off),
        "offline_bytes_received": max(int(o["bytes_received"]) for o in off),
        "predicted": predicted(parties, size),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", help="PARTIESxSIZE, e.g. 2x65536 (repeatable)")
    ap.add_argument("--providers", default="ot,dealer", help="comma-separated: ot,dealer")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", help="write the results to this file")
    a = ap.parse_args(argv)
    configs = a.config or ["2x65536", "3x16384"]
    results = []
    total = len(configs) * len(a.providers.split(",")) * a.repeat
    with Progress(total, "psi circuit", unit="run") as bar:  # on a terminal only
        for cfg in configs:
            parties, size = (int(x) for x in cfg.split("x"))
            for provider in a.providers.split(","):
                times = []
                for _ in range(a.repeat):
                    bar.describe(f"psi {parties}x{size} {provider}")
                    r = one_run(parties, size, provider, a.timeout)
                    results.append(r)
                    times.append(r["seconds"])
                    bar.write(json.dumps(r))
                    bar.update(1)
                bar.write(
                    f"# {parties} x {size}, {provider}: median {statistics.median(times):.1f} s"
                    f" (min {min(times):.1f}, max {max(times):.1f}) over {len(times)} run(s)"
                )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0 if all(r["correct"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
