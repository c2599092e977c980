"""``mpc demo poll``, ``mpc demo approval`` and ``mpc demo salary --epsilon``: differentially
private releases computed inside MPC, on three compute parties (contributors where it fits).

* poll -- respondents (a load generator of contributors over TLS) answer yes/no; each answer is
  randomized inside MPC with secret coins (randomized response, epsilon = ln 3) and the debiased
  estimate of the yes fraction goes to the pollster only, with its error bar;
* approval -- three polling stations hold their voters' approval counts for up to 65,536
  candidates; only the winner by report-noisy-max is revealed;
* salary --epsilon -- the four engineers' average raise with distributed discrete-Laplace noise.

Each runs with a privacy budget for its dataset in the cluster file, so every party charges its
ledger and prints what was spent and what remains.

May import: cli.output, cli.demo_contrib, config, contributor, errors, jobs, launcher (lazily).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mpc_runtime.cli.output import demo_failure, info, result

__all__ = ["register", "run_approval", "run_poll", "run_salary_dp", "salary_spec"]

RR_EPSILON = math.log(3)
DEMO_BUDGET = 3.0
RAISE_RANGE = (0, 10_000)


def register(dsub: Any, common: Any) -> None:
    p = dsub.add_parser("poll", help="a yes/no poll with randomized response inside MPC")
    p.add_argument("--respondents", type=int, default=10_000, help="how many answer")
    p.add_argument("--true-fraction", type=float, default=0.3, help="the fraction that says yes")
    p.add_argument(
        "--connections", type=int, default=8, help="TLS connections of the load generator"
    )
    p.add_argument("--batch", type=int, default=None, help="contributions per checked batch")
    p.add_argument("--invalid", type=int, default=0, help=argparse.SUPPRESS)
    common(p)
    a = dsub.add_parser("approval", help="approval voting: the winner by report-noisy-max")
    a.add_argument("--voters", type=int, default=1000, help="voters, split over 3 stations")
    a.add_argument("--candidates", type=int, default=65_536, help="number of candidates")
    a.add_argument("--epsilon", type=float, default=1.0, help="privacy budget of the release")
    common(a)


def run_poll(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.demo_contrib import _check_count, _Job, _run, _summary
    from mpc_runtime.contributor.loadgen import poll_workload
    from mpc_runtime.errors import UsageError

    _check_count(args.respondents, "--respondents", 10)
    if not 0 <= args.true_fraction <= 1:
        raise UsageError("--true-fraction must be between 0 and 1")
    work = poll_workload(args.respondents, args.true_fraction)
    job = _Job(
        "poll",
        "protocols.contributions:poll_job",
        {"input": "answer", "min": 0, "max": 1, "checks": ["bits"],
         "max_count": args.respondents, "deadline": args.timeout, "quiet": 10.0,
         "batch": args.batch or 2500},
        ["estimate"],
        "pollster",
        noise={"estimate": {"mechanism": "randomized_response", "epsilon": RR_EPSILON}},
        budget=DEMO_BUDGET,
    )  # fmt: skip
    run = _run(args, job, work)
    est = float(run["outputs"]["estimate"])
    m = args.respondents
    q = (est + 0.5) / 2  # the observed fraction of randomized yes
    stderr = math.sqrt(max(q * (1 - q), 0.0) * 4 / m)
    result(
        f"estimated fraction of yes (to recipient:pollster only): {est:.4f} +- {1.96 * stderr:.4f}"
        f" (95%); the true fraction was {args.true_fraction:g}"
    )
    result(
        f"privacy: each answer was randomized inside MPC (kept with probability 1/2, else a"
        f" secret fair coin): epsilon = ln 3 = {RR_EPSILON:.4f} per respondent; no party, no"
        f" respondent's device and not the pollster knows any coin"
    )
    _print_budget(run["parties"])
    _summary(run, work, "every answer is 0 or 1")
    return 0


def _print_budget(parties: list[dict[str, Any]]) -> None:
    notes = parties[0].get("privacy", []) if parties else []
    for line in notes:
        result(f"privacy: {line}")


def _stations(voters: int, candidates: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Approval counts at three stations: each voter approves 1-10 candidates drawn from a
    Zipf-like popularity (so there is a clear favourite), from the CSPRNG."""
    from mpc_runtime.sharing.samplers import RandomSource

    src = RandomSource()
    ranks = np.arange(1, candidates + 1, dtype=np.float64)
    weights = 1.0 / ranks**1.1
    cdf = np.cumsum(weights) / weights.sum()
    order = np.argsort(src.uint64(candidates), kind="stable")  # popularity is not by id
    tallies = [np.zeros(candidates, dtype=np.int64) for _ in range(3)]
    for v in range(voters):
        k = int(src.uniform_int(10, 1)[0]) + 1
        u = (src.uint64(k) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        picks = np.unique(order[np.searchsorted(cdf, u)])
        tallies[v % 3][picks] += 1
    return tallies, np.sum(tallies, axis=0)


def run_approval(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.demo_contrib import add_budget
    from mpc_runtime.errors import UsageError

    if not 3 <= args.voters <= 10**6:
        raise UsageError("--voters must be between 3 and 10^6")
    if not 2 <= args.candidates <= 2**20:
        raise UsageError("--candidates must be between 2 and 2^20")
    if not 0 < args.epsilon <= DEMO_BUDGET:
        raise UsageError(f"--epsilon must be in (0, {DEMO_BUDGET:g}] (the demo dataset's budget)")
    tallies, total = _stations(args.voters, args.candidates)
    spec = {
        "job_id": "demo-approval",
        "program": "protocols.apps:approval_job",
        "dataset": "approval",
        "inputs": [
            {
                "party": p,
                "name": "tally",
                "shape": [args.candidates],
                "min": 0,
                "max": max(1, (args.voters + 3 - p) // 3),
            }
            for p in (1, 2, 3)
        ],  # fmt: skip
        "outputs": [
            {
                "name": "winner",
                "recipients": ["party:1", "party:2", "party:3"],
                "noise": {"mechanism": "report_noisy_max", "epsilon": args.epsilon},
            }
        ],  # fmt: skip
    }
    reports, seconds = _run_parties(
        args, spec, [{"tally": t.tolist()} for t in tallies], add_budget
    )
    winner = int(reports[0]["outputs"]["winner"])
    top = np.argsort(-total, kind="stable")[:3]
    result(
        f"winner by report-noisy-max over {args.candidates} candidates ({args.voters} voters at"
        f" 3 stations): candidate {winner}, with {int(total[winner])} approvals; the true top"
        f" three: {', '.join(f'{int(c)} ({int(total[c])})' for c in top)}"
    )
    scale = 2 / args.epsilon
    result(
        f"privacy: each count got discrete Laplace noise of scale 2/epsilon = {scale:g} (sum of"
        f" the 3 parties' shares); only the winner's index left MPC: epsilon = {args.epsilon:g}"
    )
    for line in reports[0].get("privacy", []):
        result(f"privacy: {line}")
    result(f"time: {seconds:.1f}s from the job's start to the winner (3 parties, TLS)")
    return 0


def salary_spec(names: list[str], epsilon: float) -> dict[str, Any]:
    """The salary demo's job with a DP release of the average (noise on the sum, divided by n
    at the recipient); raises declared within ``RAISE_RANGE``."""
    n = len(names)
    everyone = [f"party:{i}" for i in range(1, n + 1)]
    lo, hi = RAISE_RANGE
    return {
        "job_id": "demo-salary-dp",
        "program": "protocols.apps:average_job",
        "dataset": "salaries",
        "inputs": [{"party": i, "name": "value", "min": lo, "max": hi} for i in range(1, n + 1)],
        "outputs": [
            {
                "name": "average",
                "recipients": everyone,
                "noise": {"mechanism": "laplace", "epsilon": epsilon},
            }
        ],  # fmt: skip
    }


def _run_parties(
    args: argparse.Namespace, spec: dict[str, Any], inputs: list[dict[str, Any]], add_budget: Any
) -> tuple[list[dict[str, Any]], float]:
    """Run a job with one process per party (inputs by party), a budget for its dataset."""
    from mpc_runtime.launcher import LocalCluster

    work = Path(tempfile.mkdtemp(prefix=f"mpc-demo-{args.demo}-"))
    try:
        cluster = LocalCluster(
            work, [f"p{i}" for i in range(1, len(inputs) + 1)],
            preprocessing=args.preprocessing, round_timeout=30.0,
            separate_dealer=args.preprocessing == "dealer",
        )  # fmt: skip
        add_budget(cluster, str(spec["dataset"]), DEMO_BUDGET)
        with cluster:
            path = cluster.write_spec(spec)
            t0 = time.monotonic()
            cluster.start_coordinator(path)
            if args.preprocessing == "dealer":
                cluster.start_dealer()
            for pid, inp in enumerate(inputs, start=1):
                cluster.start_party(pid, path, inp, extra=["--json"])
            info(
                f"demo {args.demo}: a coordinator and {len(inputs)} party processes on"
                " 127.0.0.1 (TLS 1.3); a privacy budget of epsilon"
                f" {DEMO_BUDGET:g} for dataset {spec['dataset']!r}"
            )
            codes = cluster.wait(args.timeout)
            seconds = time.monotonic() - t0
            if any(c != 0 for c in codes.values()):
                raise demo_failure(cluster, codes, [])
            reports = [
                json.loads([x for x in p.stdout.splitlines() if x.startswith("{")][-1])
                for p in cluster.procs
                if p.label.startswith("party:")
            ]
            return reports, seconds
    finally:
        if args.keep:
            info(f"demo {args.demo}: work directory kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_salary_dp(args: argparse.Namespace, names: list[str], raises: list[int]) -> int:
    """The salary demo with a differentially private average."""
    from mpc_runtime.cli.demo_contrib import add_budget
    from mpc_runtime.errors import UsageError

    if not 0 < args.epsilon <= DEMO_BUDGET:
        raise UsageError(f"--epsilon must be in (0, {DEMO_BUDGET:g}] (the demo dataset's budget)")
    lo, hi = RAISE_RANGE
    for name, r in zip(names, raises, strict=True):
        if not lo <= r <= hi:
            raise UsageError(f"the raise of {name} must be in [{lo}, {hi}] for the DP release")
    spec = salary_spec(names, args.epsilon)
    reports, _ = _run_parties(args, spec, [{"value": r} for r in raises], add_budget)
    avg = float(reports[0]["outputs"]["average"])
    n = len(names)
    scale = (hi - lo) / args.epsilon / n
    result(
        f"every engineer learned a differentially private average raise: {avg:.2f}"
        f" (epsilon {args.epsilon:g}; the exact average was not revealed to anyone)"
    )
    result(
        f"noise: discrete Laplace on the sum, scale (max - min) / epsilon ="
        f" {hi - lo}/{args.epsilon:g}"
        f" (one engineer's raise can move the sum by up to {hi - lo}), divided by {n}: a typical"
        f" error of +-{scale:.0f} on the average; with {n} people, privacy this strong costs"
        " accuracy (the seed's point: DP needs bounded inputs and many of them)"
    )
    for line in reports[0].get("privacy", []):
        result(f"privacy: {line}")
    return 0
