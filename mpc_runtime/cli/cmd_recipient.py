"""``mpc recipient``: receive the outputs a job names for an external recipient.

Prints ``result <output> = <value>`` lines on stdout (or one JSON object with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "recipient",
        help="receive a job's outputs as an external recipient",
        description="Connect to the coordinator as recipient NAME, collect every party's sealed "
        "share of each output the job names for NAME, open and add them up.",
    )
    p.add_argument("--config", required=True, help="cluster TOML file")
    p.add_argument(
        "--name", required=True, help="recipient name as in the cluster's [[recipients]]"
    )
    p.add_argument("--job", required=True, help="job spec (TOML or JSON); must match the parties'")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up after S seconds (default: 3600)",
    )
    p.add_argument("--json", action="store_true", help="print results as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import format_value, result
    from mpc_runtime.config import load_cluster
    from mpc_runtime.coordinator.recipient import receive_outputs
    from mpc_runtime.coordinator.spec import check_against_cluster, load_spec
    from mpc_runtime.errors import UsageError

    timeout = 3600.0 if args.timeout is None else args.timeout
    if not 0 < timeout <= 7 * 86400:
        raise UsageError("--timeout must be a positive number of seconds")
    cfg = load_cluster(args.config)
    spec = load_spec(args.job)
    check_against_cluster(spec, cfg, args.job)
    values = asyncio.run(receive_outputs(cfg, args.name, spec, timeout=timeout))
    if args.json:
        out = {k: v.tolist() for k, v in sorted(values.items())}
        result(json.dumps({"recipient": args.name, "job": spec.job_id, "outputs": out}))
    else:
        for name, value in sorted(values.items()):
            result(f"result {name} = {format_value(value)}")
    return 0
