"""DH PSI (X25519) against OpenMined's ``openmined-psi`` in the same run.

For each size, in this order:

1. ours as real processes over TLS (``mpc demo psi --method dh``'s cluster: two parties on two
   cores), wall time;
2. ours in one process (both parties in one event loop, in memory: the sum of both parties'
   work, comparable with 3);
3. ``openmined-psi`` (P-256, C++) client and server in one process: setup, request, response,
   result, with the RAW (exact) server set, for the cardinality.

``openmined-psi`` is a benchmark-only dependency (``pip install openmined-psi``); without it
only our numbers are printed.

    python benchmarks/psi_dh.py --size 1048576
    python benchmarks/psi_dh.py --size 65536 --repeat 3 --json benchmarks/results/psi_dh.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from mpc_runtime.cli import demo_psi
from mpc_runtime.cli.progress import Progress
from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.memory import run_memory
from protocols.psi import dh, jobs


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process reaped so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def ours_processes(size: int, timeout: float) -> dict[str, Any]:
    args = argparse.Namespace(
        size=size,
        parties=2,
        payload=False,
        method="dh",
        intersection=False,
        overlap=0.25,
        seed="psi-dh-bench",
        timeout=timeout,
        preprocessing="ot",  # DH asks for no material
        keep=False,
    )
    data = demo_psi.make_data(args.seed, 2, size, args.overlap, False)
    cpu = children_cpu()
    spec = demo_psi.job_spec(args, secrets.token_hex(8))
    reports, elapsed = demo_psi.run_cluster(args, spec, data)
    cpu = children_cpu() - cpu
    card = int(reports[0]["outputs"]["cardinality"])
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds_all_processes": round(cpu, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "cardinality": card,
        "correct": card == len(data.common),
    }


def ours_memory(size: int) -> dict[str, Any]:
    data = demo_psi.make_data("psi-dh-bench", 2, size, 0.25, False)
    decls = [InputDecl(p, "ids", "int", (size,), 0, -1, 2**62 - 1) for p in (1, 2)]

    async def go() -> Any:
        return await run_memory(
            2,
            jobs.dh_psi_job,
            inputs=[{"ids": data.sets[0]}, {"ids": data.sets[1]}],
            params={"salt": "bench", "outputs": ["cardinality"], "receiver": 1},
            outputs={"cardinality": ["party:1"]},
            declared=decls,
            round_timeout=600,
        )

    started = time.perf_counter()
    runs = asyncio.run(go())
    elapsed = time.perf_counter() - started
    card = int(runs[0].outputs["cardinality"])
    return {"seconds": round(elapsed, 2), "cardinality": card, "correct": card == len(data.common)}


def openmined(size: int) -> dict[str, Any] | None:
    try:
        import private_set_intersection.python as psi  # benchmark-only dependency
    except ImportError:
        return None
    data = demo_psi.make_data("psi-dh-bench", 2, size, 0.25, False)
    client_items = [str(x) for x in data.sets[0]]
    server_items = [str(x) for x in data.sets[1]]
    started = time.perf_counter()
    client = psi.client.CreateWithNewKey(False)
    server = psi.server.CreateWithNewKey(False)
    setup = server.CreateSetupMessage(1e-9, len(client_items), server_items, psi.DataStructure.RAW)
    request = client.CreateRequest(client_items)
    response = server.ProcessRequest(request)
    card = int(client.GetIntersectionSize(setup, response))
    elapsed = time.perf_counter() - started
    return {"seconds": round(elapsed, 2), "cardinality": card, "correct": card == len(data.common)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 20, help="identifiers per party")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-processes", action="store_true", help="only the in-process runs")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", help="write the results to this file")
    a = ap.parse_args(argv)
    results = []
    bar = Progress(a.repeat, "psi dh", unit="run")  # a bar on a terminal only
    for _ in range(a.repeat):
        row: dict[str, Any] = {"size": a.size, "backend": dh.backend()}
        if not a.skip_processes:
            row["ours_processes"] = ours_processes(a.size, a.timeout)
        row["ours_one_process"] = ours_memory(a.size)
        row["openmined_one_process"] = openmined(a.size)
        om = row["openmined_one_process"]
        if om:
            row["ratio_ours_over_openmined"] = round(
                row["ours_one_process"]["seconds"] / om["seconds"], 3
            )
        results.append(row)
        bar.write(json.dumps(row))
        bar.update(1)
    bar.close()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    ok = all(v["correct"] for r in results for v in r.values() if isinstance(v, dict))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
