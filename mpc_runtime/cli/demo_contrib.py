"""``mpc demo vote --voters N``, ``mpc demo auction --bidders N``, ``mpc demo fl``: many
contributors, three compute parties.

Each demo makes throwaway certificates and single-use tokens, starts a coordinator, three compute
parties and the external recipient as processes on loopback, and runs a load generator of
contributors in this process over real TLS (a pool of connections, each pipelined; contributors
that die mid-upload get a connection of their own that is cut in the middle of a frame).  It
prints the result, checks it against numpy over the valid contributions, says what was checked
inside MPC, the invalid/dropped counts, the time per phase, and the compute parties' peak memory.

May import: cli.output, cli.progress, config, contributor, errors, jobs, launcher (lazily).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mpc_runtime.cli.output import demo_failure, info, plural, result
from mpc_runtime.cli.progress import Progress

__all__ = ["add_budget", "add_contrib_args", "register_fl", "run_auction", "run_fl", "run_vote"]

PARTIES = 3
MAX_CONTRIBUTORS = 1_000_000
MAX_BID = 1_000_000
FL_FRAC_BITS = 16


def add_contrib_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--invalid", type=int, default=0, help="how many contributors cheat")
    p.add_argument(
        "--connections", type=int, default=8, help="TLS connections of the load generator"
    )
    p.add_argument("--batch", type=int, default=None, help="contributions per checked batch")


def register_fl(dsub: Any, common: Any) -> None:
    f = dsub.add_parser(
        "fl", help="federated averaging: clients' model updates summed for the model owner"
    )
    f.add_argument("--clients", type=int, default=100, help="number of clients")
    f.add_argument("--dim", type=int, default=10_000, help="values per model update")
    f.add_argument("--dropout", type=float, default=0.1, help="fraction dying mid-upload")
    f.add_argument("--norm", type=float, default=1.0, help="L2 norm bound of an update")
    f.add_argument("--mean", action="store_true", help="reveal the mean instead of the sum")
    add_contrib_args(f)
    common(f)


@dataclass
class _Job:
    kind: str
    program: str
    contributions: dict[str, Any]
    outputs: list[str]
    recipient: str
    params: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, dict[str, Any]] = field(default_factory=dict)
    budget: float | None = None  # a privacy budget for the demo's dataset


def _check_count(value: int, what: str, lo: int = 1) -> None:
    from mpc_runtime.errors import UsageError

    if not lo <= value <= MAX_CONTRIBUTORS:
        raise UsageError(f"{what} must be between {lo} and {MAX_CONTRIBUTORS}")


def _spec(job: _Job, digest: str) -> dict[str, Any]:
    to = [f"recipient:{job.recipient}"]
    outputs: list[dict[str, Any]] = [{"name": o, "recipients": to} for o in job.outputs]
    for o in outputs:
        if o["name"] in job.noise:
            o["noise"] = job.noise[str(o["name"])]
    return {
        "job_id": f"demo-{job.kind}",
        "program": job.program,
        "params": job.params,
        **({"dataset": job.kind} if job.budget is not None else {}),
        "outputs": outputs,
        "contributions": {
            **job.contributions,
            "credentials": "tokens",
            "eligible_file": "eligible.txt",
            "eligible_digest": digest,
        },
    }


async def _load(cfg: Any, spec: Any, work: Any, tokens: list[bytes], conns: int) -> Any:
    from mpc_runtime.contributor.client import Contributor, submit_many

    who = Contributor(cfg, spec)
    t0 = time.monotonic()
    ops = [who.prepare_encoded(row, token=tok) for row, tok in zip(work.rows, tokens, strict=True)]
    prepared = time.monotonic() - t0
    send = [op for op, d in zip(ops, work.dropped, strict=True) if not d]
    drop = [op for op, d in zip(ops, work.dropped, strict=True) if d]
    with Progress(len(send), "submissions", unit="sub") as bar:  # a terminal only
        step = bar.callback(lambda r: r.accepted, "accepted")
        report = await submit_many(who, send, connections=conns, drop=drop, on_result=step)
    return prepared, report


def add_budget(cluster: Any, dataset: str, epsilon: float) -> None:
    """Give the demo cluster a privacy budget for ``dataset`` (every party enforces it)."""
    from mpc_runtime.config import load_cluster

    with cluster.config_path.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[privacy]\nledger_dir = "privacy-ledger"\n\n[[privacy.budgets]]\n'
            f'dataset = "{dataset}"\nepsilon = {epsilon}\n'
        )
    cluster.cfg = load_cluster(cluster.config_path)


def _party_reports(cluster: Any) -> list[dict[str, Any]]:
    out = []
    for p in cluster.procs:
        if p.label.startswith("party:"):
            lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
            out.append(json.loads(lines[-1]) if lines else {})
    return out


def _run(args: argparse.Namespace, job: _Job, work: Any) -> dict[str, Any]:
    """Run the cluster and the load generator; returns the recipient's outputs and timings."""
    from mpc_runtime.jobs.contrib import make_tokens, write_eligible
    from mpc_runtime.jobs.spec import load_spec
    from mpc_runtime.launcher import LocalCluster

    tmp = Path(tempfile.mkdtemp(prefix=f"mpc-demo-{job.kind}-"))
    count = work.rows.shape[0]
    try:
        t_setup = time.monotonic()
        info(f"demo {job.kind}: certificates for 3 compute parties and {count} tokens in {tmp}")
        cluster = LocalCluster(
            tmp, [f"p{i}" for i in range(1, PARTIES + 1)], recipients=[job.recipient],
            preprocessing=args.preprocessing, round_timeout=30.0,
            separate_dealer=args.preprocessing == "dealer",
        )  # fmt: skip
        if job.budget is not None:
            add_budget(cluster, job.kind, job.budget)
        tokens, keys = make_tokens(count)
        digest = write_eligible(tmp / "eligible.txt", keys)
        with cluster:
            path = cluster.write_spec(_spec(job, digest))
            cluster.start_coordinator(path)
            if args.preprocessing == "dealer":
                cluster.start_dealer()
            for pid in range(1, PARTIES + 1):
                cluster.start_party(pid, path, extra=["--json"])
            recipient = cluster.start_recipient(job.recipient, path, extra=["--json"])
            info(
                f"demo {job.kind}: a coordinator, {PARTIES} compute parties and"
                f" recipient:{job.recipient} started on 127.0.0.1 (TLS 1.3);"
                f" {count} contributors submit through the coordinator"
            )
            setup = time.monotonic() - t_setup
            spec = load_spec(path)
            t_first = time.monotonic()
            prepared, report = asyncio.run(_load(cluster.cfg, spec, work, tokens, args.connections))
            t_first += prepared
            uploaded = time.monotonic()
            recipient.popen.wait(args.timeout)
            done = time.monotonic()
            codes = cluster.wait(args.timeout)
            if any(c != 0 for c in codes.values()):
                raise demo_failure(cluster, codes, [])
            lines = [x for x in recipient.stdout.splitlines() if x.startswith("{")]
            outputs = json.loads(lines[-1])["outputs"]
            return {
                "outputs": outputs,
                "report": report,
                "parties": _party_reports(cluster),
                "times": {
                    "setup": setup,
                    "prepare": prepared,
                    "upload": uploaded - t_first,
                    "after_upload": done - uploaded,
                    "end_to_end": done - t_first,
                },
            }
    finally:
        if args.keep:
            info(f"demo {job.kind}: work directory kept at {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _summary(run: dict[str, Any], work: Any, checks: str) -> None:
    has_counts = "counts" in run["outputs"]
    counts = [int(c) for c in run["outputs"].get("counts", [0, 0, 0, 0])]
    report = run["report"]
    if has_counts:
        result(
            f"checked inside MPC: {checks}; counted {counts[0]}, invalid {counts[1]},"
            f" dropped mid-upload {counts[2]}, refused by the coordinator {counts[3]}"
            f" ({report.accepted} receipts)"
        )
    else:
        result(f"checked inside MPC: {checks}; {report.accepted} contributions accepted")
    t = run["times"]
    result(
        f"time: setup {t['setup']:.1f}s; contributors prepared their sealed inputs in"
        f" {t['prepare']:.1f}s (each on its own device in practice); upload {t['upload']:.1f}s;"
        f" checks and result after the last upload {t['after_upload']:.1f}s;"
        f" first submission to result {t['end_to_end']:.1f}s"
    )
    peaks = [p.get("peak_rss_bytes", 0) for p in run["parties"]]
    rounds = [p.get("ledger", {}).get("online", {}).get("total", {}) for p in run["parties"]]
    sent = max((int(r.get("bytes_sent", 0)) for r in rounds), default=0)
    result(
        f"compute parties: peak memory {', '.join(f'{p / 2**20:.0f} MiB' for p in peaks)};"
        f" at most {plural(sent, 'byte')} sent online per party"
    )
    expected_valid = int(np.count_nonzero(work.counted))
    if (
        has_counts
        and counts[0] != expected_valid
        or counts[1] != int(np.count_nonzero(work.invalid))
    ):
        from mpc_runtime.errors import MPCError

        raise MPCError(f"demo: the counts {counts} differ from the load generator's")


def _options(text: str) -> list[str]:
    from mpc_runtime.errors import UsageError

    if text.strip().isdigit():
        k = int(text)
        if not 2 <= k <= 1000:
            raise UsageError("--options must be between 2 and 1000")
        return [f"option{i}" for i in range(1, k + 1)]
    options = [o.strip() for o in text.split(",") if o.strip()]
    if len(options) < 2 or len(set(options)) != len(options):
        raise UsageError("--options needs at least two distinct options")
    return options


def run_vote(args: argparse.Namespace) -> int:
    from mpc_runtime.contributor.loadgen import vote_workload
    from mpc_runtime.errors import MPCError

    _check_count(args.voters, "--voters")
    _check_count(args.invalid, "--invalid", 0)
    options = _options(args.options)
    work = vote_workload(args.voters, len(options), args.invalid)
    job = _Job(
        "vote",
        "protocols.contributions:aggregate_job",
        {"input": "ballot", "shape": [len(options)], "min": 0, "max": 1,
         "checks": ["one_hot"], "max_count": args.voters, "deadline": args.timeout,
         "quiet": 10.0, "batch": args.batch or 2500},
        ["total", "counts"],
        "officer",
    )  # fmt: skip
    run = _run(args, job, work)
    tally = [int(x) for x in run["outputs"]["total"]]
    result(
        f"tally ({plural(args.voters, 'ballot')}, to recipient:officer only): "
        + ", ".join(f"{o}={c}" for o, c in zip(options, tally, strict=True))
    )
    if tally != [int(x) for x in work.expected_sum]:
        raise MPCError("demo: the tally differs from numpy's over the valid ballots")
    result("the tally equals numpy's over the valid ballots")
    _summary(run, work, "every ballot is one-hot (entries 0/1 summing to 1)")
    return 0


def run_auction(args: argparse.Namespace) -> int:
    from mpc_runtime.contributor.loadgen import auction_workload
    from mpc_runtime.errors import MPCError

    _check_count(args.bidders, "--bidders", 2)
    _check_count(args.invalid, "--invalid", 0)
    work = auction_workload(args.bidders, MAX_BID, args.invalid)
    second = bool(args.second_price)
    job = _Job(
        "auction",
        "protocols.contributions:auction_job",
        {"input": "bid", "min": 0, "max": MAX_BID, "checks": ["range"],
         "max_count": args.bidders, "deadline": args.timeout, "quiet": 10.0,
         "batch": args.batch or 1000},
        ["winner", "price" if second else "winning_bid", "counts"],
        "auctioneer",
        {"second_price": second},
    )  # fmt: skip
    run = _run(args, job, work)
    valid = np.where(work.counted, work.rows, -1)
    order = np.argsort(-valid, kind="stable")
    price = int(valid[order[1]] if second else valid[order[0]])
    got = int(run["outputs"]["price" if second else "winning_bid"])
    what = "pays the second-highest bid" if second else "winning bid"
    result(
        f"winner: the bidder whose contribution id starts"
        f" {int(run['outputs']['winner']):014x}; {what} = {got} (to recipient:auctioneer only)"
    )
    if got != price:
        raise MPCError("demo: the price differs from numpy's over the valid bids")
    result("the price equals numpy's over the valid bids; no losing bid was revealed")
    _summary(run, work, f"every bid lies in [0, {MAX_BID}]")
    return 0


def run_fl(args: argparse.Namespace) -> int:
    from mpc_runtime.contributor.loadgen import fl_workload
    from mpc_runtime.errors import MPCError, UsageError

    _check_count(args.clients, "--clients", 2)
    if not 1 <= args.dim <= 10**6:
        raise UsageError("--dim must be between 1 and 10^6")
    if not 0 <= args.dropout < 1:
        raise UsageError("--dropout must be in [0, 1)")
    work = fl_workload(
        args.clients, args.dim, frac_bits=FL_FRAC_BITS, norm=args.norm,
        dropout=args.dropout, invalid=args.invalid,
    )  # fmt: skip
    out = "mean" if args.mean else "total"
    batch = args.batch or max(1, min(200, 8_000_000 // args.dim))
    job = _Job(
        "fl",
        "protocols.contributions:aggregate_job",
        {"input": "update", "kind": "fixed", "frac_bits": FL_FRAC_BITS, "shape": [args.dim],
         "min": -args.norm, "max": args.norm, "norm": args.norm, "checks": ["norm_sketch"],
         "max_count": args.clients, "deadline": args.timeout, "quiet": 5.0, "batch": batch},
        [out, "counts"],
        "owner",
    )  # fmt: skip
    run = _run(args, job, work)
    got = np.asarray(run["outputs"][out], dtype=np.float64)
    counted = int(np.count_nonzero(work.counted))
    expected = work.expected_sum / 2**FL_FRAC_BITS
    if args.mean:
        expected = expected / max(1, counted)
    err = float(np.max(np.abs(got - expected))) if got.size else 0.0
    result(
        f"{out} of {counted} clients' updates ({args.dim} values each) went to recipient:owner"
        f" only; largest difference from numpy's over the same updates: {err:.3g}"
    )
    if err > (2.0**-FL_FRAC_BITS if args.mean else 0.0):
        raise MPCError("demo: the aggregate differs from numpy's beyond fixed-point precision")
    _summary(run, work, f"every update's L2 norm is about {args.norm:g} or less (norm sketch)")
    return 0
