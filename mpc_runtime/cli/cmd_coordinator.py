"""``mpc coordinator``: run the coordinator of one job.  Progress on stderr; exit 0 when the job
finished, 1 on failure, 2 for a bad config or spec, 3 for an unauthorized reveal.  With
``--serve`` it stays up and runs job after job on a serving cluster (exit 0 when stopped).
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
    what = p.add_mutually_exclusive_group()
    what.add_argument("--job", help="job spec (TOML or JSON); participants must hold the same")
    what.add_argument(
        "--serve",
        action="store_true",
        help="stay up: parties started with mpc party --serve mesh once, then run job after job"
        " submitted with mpc job submit; stop with Ctrl-C or SIGTERM",
    )
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
    if args.serve:
        from mpc_runtime.cli.cmd_party import serve_until_signal
        from mpc_runtime.coordinator.serve import serve_coordinator

        async def work(stop: asyncio.Event) -> int:
            return await serve_coordinator(cfg, stop, job_timeout=args.job_timeout)

        return asyncio.run(serve_until_signal(work))
    spec = None
    search: list[Path] = []
    if args.job:
        spec = load_spec(args.job)
        check_against_cluster(spec, cfg, args.job)
        search.append(Path(args.job).resolve().parent)
    return asyncio.run(run_coordinator(cfg, spec, job_timeout=args.job_timeout, search=search))
