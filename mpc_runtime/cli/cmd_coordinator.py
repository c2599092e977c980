"""``mpc coordinator``: run the coordinator of one job.  Progress on stderr; exit 0 when the job
finished, 1 on failure, 2 for a bad config or spec, 3 for an unauthorized reveal.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "coordinator",
        help="run the coordinator of a job",
        description="Admit the parties and recipients of a job, check they hold the same job "
        "spec, start the job, relay sealed outputs, and stop everyone if anything fails.  "
        "Without --job the spec of the first participant to join is adopted.",
    )
    p.add_argument("--config", required=True, help="cluster TOML file")
    p.add_argument("--job", help="job spec (TOML or JSON); participants must hold the same")
    p.add_argument(
        "--job-timeout",
        type=float,
        default=None,
        metavar="S",
        help="fail the job if it has not finished after S seconds (default 3600)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.config import load_cluster
    from mpc_runtime.coordinator.server import run_coordinator
    from mpc_runtime.errors import UsageError
    from mpc_runtime.jobs.spec import check_against_cluster, load_spec

    if args.job_timeout is not None and not 0 < args.job_timeout <= 7 * 86400:
        raise UsageError("--job-timeout must be a positive number of seconds (at most 7 days)")
    cfg = load_cluster(args.config)
    spec = None
    search: list[Path] = []
    if args.job:
        spec = load_spec(args.job)
        check_against_cluster(spec, cfg, args.job)
        search.append(Path(args.job).resolve().parent)
    return asyncio.run(run_coordinator(cfg, spec, job_timeout=args.job_timeout, search=search))
