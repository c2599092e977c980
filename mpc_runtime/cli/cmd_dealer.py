"""``mpc dealer``: the stand-alone preprocessing dealer listening on the cluster's [dealer].

Exit 0 once every party that connected has closed cleanly, 1 if a party was lost mid-job.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dealer",
        help="run the preprocessing dealer (when the cluster has a [dealer] endpoint)",
        description="Serve Beaver triples and other correlated randomness to the parties as "
        "PRG seeds.  The dealer must not collude with any party.",
    )
    p.add_argument("--config", required=True, help="cluster TOML file")
    p.add_argument(
        "--budget", type=int, default=None, metavar="N", help="elements of material per job"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=600.0,
        metavar="S",
        help="give up if the parties have not come and gone within S seconds (default 600)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.config import load_cluster
    from mpc_runtime.coordinator.dealer_service import run_dealer
    from mpc_runtime.errors import UsageError

    if args.budget is not None and args.budget < 1:
        raise UsageError("--budget must be a positive number of elements")
    if not 0 < args.wait <= 7 * 86400:
        raise UsageError("--wait must be a positive number of seconds")
    cfg = load_cluster(args.config)
    return asyncio.run(run_dealer(cfg, budget=args.budget, wait=args.wait))
