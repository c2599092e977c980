"""``mpc dealer``: the stand-alone preprocessing dealer listening on the cluster's [dealer].

It joins the coordinator as its own identity and exits with the job: 0 when the job finished, 1
(naming the culprit) when it was aborted or a participant was lost.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dealer",
        help="run the preprocessing dealer (when the cluster has a [dealer] endpoint)",
        description="Serve Beaver triples and other correlated randomness to the parties of the "
        "coordinator's job as PRG seeds.  The dealer must not collude with any party.",
    )
    p.add_argument("--config", required=True, help="cluster TOML file")
    p.add_argument(
        "--budget", type=int, default=None, metavar="N", help="elements of material per job"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.config import load_cluster
    from mpc_runtime.dealer.process import run_dealer
    from mpc_runtime.errors import UsageError
    from mpc_runtime.procinfo import keep_freed_memory

    if args.budget is not None and args.budget < 1:
        raise UsageError("--budget must be a positive number of elements")
    cfg = load_cluster(args.config)
    keep_freed_memory()  # material of the same sizes batch after batch: reuse, no page faults
    return asyncio.run(run_dealer(cfg, budget=args.budget))
