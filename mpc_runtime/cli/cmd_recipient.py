"""``mpc recipient``: receive the outputs a job names for an external recipient.

Prints ``result <output> = <value>`` lines on stdout (or one JSON object with ``--json``).  The
job comes from a spec file (``--job``) or, for jobs started with ``mpc run``, from the same script
and flags the parties use (``--program``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from mpc_runtime.cli.scripts import add_script_args

MAX_TIMEOUT = 7 * 86400.0


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
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--job", help="job spec (TOML or JSON); must match the parties'")
    src.add_argument(
        "--program", help="the script the parties run with mpc run (with the same flags)"
    )
    add_script_args(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="give up after S seconds (default: 3600)",
    )
    p.add_argument("--json", action="store_true", help="print results as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import plain, result
    from mpc_runtime.cli.scripts import spec_from_script
    from mpc_runtime.config import load_cluster
    from mpc_runtime.errors import UsageError
    from mpc_runtime.jobs.spec import check_against_cluster, load_spec
    from mpc_runtime.recipient.receive import receive_outputs

    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError("--timeout must be a positive number of seconds (at most 7 days)")
    cfg = load_cluster(args.config)
    spec = load_spec(args.job) if args.job else spec_from_script(args.program, args, cfg)
    check_against_cluster(spec, cfg, args.job or args.program)
    values = asyncio.run(receive_outputs(cfg, args.name, spec, timeout=args.timeout))
    if args.json:
        out = {k: plain(v) for k, v in sorted(values.items())}
        result(json.dumps({"recipient": args.name, "job": spec.job_id, "outputs": out}))
    else:
        for name, value in sorted(values.items()):
            result(f"result {name} = {plain(value)}")
    return 0
