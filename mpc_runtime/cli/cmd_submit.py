"""``mpc submit``: a contributor submits one input to a job (or, with ``--load``, a load generator
submits many).

One contribution: ``mpc submit --config C --job J --input VALUE --token-file F`` (or ``--token
HEX``, or ``--name NAME`` for a ``contributor:NAME`` certificate).  The value is checked against
the job's bounds here, before anything is sent; it is split into shares sealed to each compute
party and sent through the coordinator, which cannot read them.  Prints the contribution id on
acceptance; a refusal is one line and exit status 1.

Load generator (docker-compose, benchmarks): ``--load N --tokens FILE --workload vote|auction|fl``
submits N random contributions (``--invalid K`` cheating ones, ``--dropout P`` dying
mid-upload) over ``--connections`` TLS connections and prints what it did as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "submit",
        help="submit a contribution to a job (as a voter, bidder or device)",
        description="Secret-share an input for the compute parties of a job and submit it "
        "through the coordinator; it never sees the value.",
    )
    p.add_argument("--config", required=True, help="cluster TOML file")
    p.add_argument("--job", required=True, help="job spec (TOML or JSON)")
    p.add_argument("--input", help="the value: a number or a JSON list")
    cred = p.add_mutually_exclusive_group()
    cred.add_argument("--token", help="a single-use token (hex)")
    cred.add_argument("--token-file", help="file holding the token (first line)")
    cred.add_argument("--name", help="submit as contributor:NAME (its certificate)")
    load = p.add_argument_group("load generator")
    load.add_argument("--load", type=int, metavar="N", help="submit N random contributions")
    load.add_argument("--tokens", help="tokens file (one hex token per line) for --load")
    load.add_argument("--workload", choices=("vote", "auction", "fl"), default="vote")
    load.add_argument("--invalid", type=int, default=0, help="cheating contributors")
    load.add_argument("--dropout", type=float, default=0.0, help="fraction dying mid-upload")
    load.add_argument("--connections", type=int, default=8, help="parallel TLS connections")
    p.set_defaults(func=run)


def _token(args: argparse.Namespace) -> bytes | None:
    from mpc_runtime.errors import UsageError

    text = args.token
    if args.token_file:
        try:
            text = Path(args.token_file).read_text(encoding="ascii").split()[0]
        except (OSError, UnicodeDecodeError, IndexError):
            raise UsageError(f"{args.token_file}: cannot read a token from it") from None
    if text is None:
        return None
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise UsageError("a token is hex digits") from None


def _value(text: str) -> Any:
    from mpc_runtime.errors import InputError

    try:
        return json.loads(text)
    except ValueError:
        raise InputError("--input must be a number or a JSON list of numbers") from None


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import result
    from mpc_runtime.config import load_cluster
    from mpc_runtime.contributor.client import submit
    from mpc_runtime.errors import MPCError, UsageError
    from mpc_runtime.jobs.spec import check_against_cluster, load_spec

    cfg = load_cluster(args.config)
    spec = load_spec(args.job)
    check_against_cluster(spec, cfg, args.job)
    if args.load is not None:
        return _load(args, cfg, spec)
    if args.input is None:
        raise UsageError("give the value to submit with --input")
    token = _token(args)
    if token is None and args.name is None:
        raise UsageError("give a credential: --token, --token-file or --name")
    res = asyncio.run(submit(cfg, spec, _value(args.input), token=token, name=args.name))
    if not res.accepted:
        raise MPCError(f"the coordinator refused the contribution ({res.code}): {res.reason}")
    result(f"accepted: contribution {res.cid}")
    return 0


def _load(args: argparse.Namespace, cfg: Any, spec: Any) -> int:
    from mpc_runtime.cli.output import result
    from mpc_runtime.contributor import loadgen
    from mpc_runtime.contributor.client import Contributor, submit_many
    from mpc_runtime.errors import UsageError

    if not args.tokens:
        raise UsageError("--load needs --tokens FILE")
    tokens = [bytes.fromhex(x) for x in Path(args.tokens).read_text(encoding="ascii").split()]
    if not 1 <= args.load <= len(tokens):
        raise UsageError(f"--load must be between 1 and the {len(tokens)} tokens given")
    c = spec.contributions
    if c is None:
        raise UsageError(f"job {spec.job_id} takes no contributions")
    n = args.load
    if args.workload == "vote":
        work = loadgen.vote_workload(n, c.size, args.invalid)
    elif args.workload == "auction":
        work = loadgen.auction_workload(n, int(c.max), args.invalid)
    else:
        work = loadgen.fl_workload(
            n, c.size, frac_bits=c.frac_bits, norm=c.norm or 1.0,
            dropout=args.dropout, invalid=args.invalid,
        )  # fmt: skip
    who = Contributor(cfg, spec)
    ops = [who.prepare_encoded(r, token=t) for r, t in zip(work.rows, tokens[:n], strict=True)]
    keep = [op for op, d in zip(ops, work.dropped, strict=True) if not d]
    drop = [op for op, d in zip(ops, work.dropped, strict=True) if d]
    report = asyncio.run(submit_many(who, keep, connections=args.connections, drop=drop))
    summary = {
        "submitted": len(keep),
        "accepted": report.accepted,
        "dropped_mid_upload": len(drop),
        "invalid": int(work.invalid.sum()),
        "seconds": round(report.seconds, 3),
        "expected_sum": work.expected_sum.tolist() if 1 < work.rows.ndim and c.size <= 64 else None,
    }
    result(json.dumps(summary))
    return 0
