"""Warm-job latency: a serving cluster (real processes, TLS on loopback) next to the cold path.

    python benchmarks/warm_jobs.py [--jobs 50] [--fresh 10] [--cold 3] [--parties 3] [--json]

Starts ``mpc coordinator --serve`` and ``mpc party --serve`` processes once (one mesh), waits
until the cluster is up, then submits ``--jobs`` sum jobs one after another (a secret sum of one
bounded integer per party, revealed sealed to the submitting recipient) and measures each from
submission to result:

* ``warm``: over one submitter connection (:class:`mpc_runtime.cli.cmd_job.JobClient`), the
  way a client of a long-lived cluster (private inference, repeated aggregation) submits;
* ``warm_new_connection``: ``--fresh`` jobs each over a new TLS connection to the coordinator
  (what ``mpc job submit`` does, without its interpreter start-up);
* ``cold``: in the same run, ``--cold`` jobs the one-job way: ``mpc coordinator --job``, one
  ``mpc party --job`` per party and ``mpc recipient --job`` started per job, timed from launching
  the processes until the recipient printed its result and exited.

Every result is checked against the plaintext sum.  Inputs reach the serving parties through
their ``--inputs-dir`` (written before each submission, not timed).  The machine's load average
is reported next to the numbers: the latency of a job is a chain of about six process wake-ups,
so other work on the same cores shows up directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mpc_runtime.cli.cmd_job import JobClient, submit_job  # noqa: E402
from mpc_runtime.config import ClusterConfig, load_cluster  # noqa: E402
from mpc_runtime.jobs.spec import JobSpec, parse_spec  # noqa: E402
from mpc_runtime.launcher import LocalCluster, cluster_toml  # noqa: E402
from mpc_runtime.pki import ensure_cluster_certs  # noqa: E402

RECIPIENT = "bench"
MAX_INPUT = 1_000_000


def sum_spec(job: str, n: int) -> dict[str, Any]:
    return {
        "job_id": job,
        "program": "protocols.apps:secure_sum_job",
        "inputs": [
            {"party": p, "name": "value", "min": 0, "max": MAX_INPUT} for p in range(1, n + 1)
        ],
        "outputs": [{"name": "total", "recipients": [f"recipient:{RECIPIENT}"]}],
    }


def stats(samples_ms: list[float]) -> dict[str, Any]:
    if not samples_ms:
        return {"n": 0}
    ordered = sorted(samples_ms)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(p90, 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
        "samples_ms": [round(x, 2) for x in samples_ms],
    }


class Serving:
    """A serving cluster of real processes in ``workdir``; :meth:`stop` ends them by pid."""

    def __init__(self, workdir: Path, n: int) -> None:
        self.workdir = workdir
        self.n = n
        self.config = workdir / "cluster.toml"
        names = [f"p{i}" for i in range(1, n + 1)]
        self.config.write_text(
            cluster_toml(
                "warm", workdir / "certs", names, recipients=[RECIPIENT], preprocessing="ot"
            )
        )
        self.cfg: ClusterConfig = load_cluster(self.config)
        ensure_cluster_certs(self.cfg)
        self.inputs = {p: workdir / f"inputs{p}" for p in range(1, n + 1)}
        for d in self.inputs.values():
            d.mkdir()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with (
            (self.workdir / f"{name}.err").open("wb") as err,
            (self.workdir / f"{name}.out").open("wb") as out,
        ):
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "mpc_runtime.cli.main", *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    def start(self, timeout: float = 60.0) -> float:
        """Start every process; seconds until the coordinator reports the cluster up."""
        t0 = time.perf_counter()
        self._start("coordinator", "coordinator", "--config", str(self.config), "--serve")
        for p in range(1, self.n + 1):
            self._start(
                f"party{p}",
                *("party", "--config", str(self.config), "--id", str(p), "--serve"),
                *("--inputs-dir", str(self.inputs[p])),
            )
        log = self.workdir / "coordinator.err"
        while "cluster up" not in log.read_text(errors="replace"):
            dead = [k for k, pr in self.procs.items() if pr.poll() is not None]
            if dead or time.perf_counter() - t0 > timeout:
                self.stop()
                raise SystemExit(f"the serving cluster did not come up ({dead or 'timeout'})")
            time.sleep(0.02)
        return time.perf_counter() - t0

    def give(self, job: str, rng: random.Random) -> int:
        values = [rng.randrange(0, MAX_INPUT + 1) for _ in range(self.n)]
        for p, v in enumerate(values, start=1):
            (self.inputs[p] / f"{job}.json").write_text(json.dumps({"value": v}))
        return sum(values)

    def stop(self) -> dict[str, int | None]:
        for pr in self.procs.values():
            if pr.poll() is None:
                os.kill(pr.pid, signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, pr in self.procs.items():
            try:
                codes[name] = pr.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(pr.pid, signal.SIGKILL)
                codes[name] = pr.wait()
        return codes


async def warm_runs(
    srv: Serving, jobs: int, fresh: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    def spec(job: str) -> JobSpec:
        return parse_spec(sum_spec(job, srv.n), job)

    persistent: list[float] = []
    async with JobClient(srv.cfg, RECIPIENT) as client:
        for k in range(-2, jobs):  # two warm-up jobs (imports, first connection) not counted
            job = f"warm{k + 2}"
            want = srv.give(job, rng)
            t0 = time.perf_counter()
            got = await client.submit(spec(job), timeout=60)
            dt = (time.perf_counter() - t0) * 1000
            if int(got["total"]) != want:
                raise SystemExit(f"job {job}: wrong sum")
            if k >= 0:
                persistent.append(dt)
    new_conn: list[float] = []
    for k in range(fresh):
        job = f"fresh{k}"
        want = srv.give(job, rng)
        t0 = time.perf_counter()
        got = await submit_job(srv.cfg, RECIPIENT, spec(job), timeout=60)
        new_conn.append((time.perf_counter() - t0) * 1000)
        if int(got["total"]) != want:
            raise SystemExit(f"job {job}: wrong sum")
    return persistent, new_conn


def cold_runs(workdir: Path, n: int, count: int, rng: random.Random) -> list[float]:
    """One-job clusters: every process started per job, timed until the recipient exits."""
    samples: list[float] = []
    with LocalCluster(
        workdir, [f"p{i}" for i in range(1, n + 1)], recipients=[RECIPIENT], preprocessing="ot"
    ) as cluster:
        for k in range(count):
            cluster.procs.clear()
            values = [rng.randrange(0, MAX_INPUT + 1) for _ in range(n)]
            spec = cluster.write_spec(sum_spec(f"cold{k}", n), f"cold{k}.json")
            t0 = time.perf_counter()
            cluster.start_coordinator(spec)
            for p, v in enumerate(values, start=1):
                cluster.start_party(p, spec, {"value": v})
            rcpt = cluster.start_recipient(RECIPIENT, spec)
            rc = rcpt.popen.wait(120)
            samples.append((time.perf_counter() - t0) * 1000)
            codes = cluster.wait(30)
            if rc != 0 or any(codes.values()) or f"result total = {sum(values)}" not in rcpt.stdout:
                raise SystemExit(f"cold job {k} failed: {codes}\n{rcpt.stderr}")
    return samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=50, help="warm jobs over one connection")
    ap.add_argument("--fresh", type=int, default=10, help="warm jobs, a new connection each")
    ap.add_argument("--cold", type=int, default=3, help="cold jobs (processes per job)")
    ap.add_argument("--parties", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="warm-jobs-") as tmp:
        work = Path(tmp)
        (work / "serve").mkdir()
        srv = Serving(work / "serve", args.parties)
        up = srv.start()
        load_before = os.getloadavg()[0]
        try:
            persistent, new_conn = asyncio.run(warm_runs(srv, args.jobs, args.fresh, rng))
        finally:
            codes = srv.stop()
        cold = cold_runs(work / "cold", args.parties, args.cold, rng)
    report = {
        "parties": args.parties,
        "job": "sum of one integer per party, revealed to the submitter (sealed)",
        "cluster_up_s": round(up, 3),
        "warm": stats(persistent),
        "warm_new_connection": stats(new_conn),
        "cold": stats(cold),
        "serving_exit_codes": codes,
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    w, f, c = report["warm"], report["warm_new_connection"], report["cold"]
    print(f"cluster up in {report['cluster_up_s']:.2f}s ({args.parties} parties, TLS, one mesh)")
    print(f"warm, one connection:  median {w['median_ms']} ms, p90 {w['p90_ms']} ms (n={w['n']})")
    if f["n"]:
        print(
            f"warm, new connection:  median {f['median_ms']} ms, p90 {f['p90_ms']} ms (n={f['n']})"
        )
    if c["n"]:
        print(
            f"cold (processes/job):  median {c['median_ms']} ms, p90 {c['p90_ms']} ms (n={c['n']})"
        )
    print(f"load average (1 min) before/after: {report['loadavg_1min']} on {report['cpus']} cpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
