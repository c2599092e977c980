"""``mpc run MODULE:FUNCTION``: run your own script as one party, with no spec file to write.

The job spec is made from the script: its program reference, the SHA-256 of its source (so all
parties must run the same code), every party providing an input named ``value``, and the outputs
the module declares in ``OUTPUTS = {"name": ["party:1", ...] or "all"}`` (or ``--output``).
The coordinator, started without ``--job``, adopts the spec the parties agree on.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from mpc_runtime.cli.cmd_party import (
    add_common_party_args,
    gather_inputs,
    print_results,
    setup_logging,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a secure computation script (MODULE:FUNCTION) as one party",
        description="Run an async function `f(ctx)` as one party of a job made from the script.",
    )
    p.add_argument("program", help="package.module:function or path/to/file.py:function")
    add_common_party_args(p)
    p.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="NAME[=RECIPIENT,...]",
        help="declare an output and who may receive it (default: all parties)",
    )
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=JSON", help="public parameter"
    )
    p.add_argument(
        "--fixed", action="store_true", help="inputs are fixed-point reals, not integers"
    )
    p.add_argument("--shape", default="[]", help="shape of every party's input as JSON, e.g. [3]")
    p.set_defaults(func=run)


def _outputs(module: Any, flags: list[str], parties: list[int]) -> list[dict[str, Any]]:
    from mpc_runtime.errors import ConfigError

    everyone = [f"party:{p}" for p in parties]
    declared: dict[str, Any] = dict(getattr(module, "OUTPUTS", {}) or {})
    for flag in flags:
        name, sep, who = flag.partition("=")
        declared[name] = who.split(",") if sep else "all"
    if not declared:
        raise ConfigError("the script declares no outputs: add OUTPUTS = {...} or --output NAME")
    out = []
    for name, who in declared.items():
        rec = everyone if who == "all" else list(who)
        out.append({"name": name, "recipients": rec})
    return out


def make_spec(args: argparse.Namespace, cfg: Any) -> Any:
    from mpc_runtime.coordinator.spec import JobSpec
    from mpc_runtime.errors import ConfigError
    from mpc_runtime.node.programs import load_module, source_sha256

    module = load_module(args.program)
    params: dict[str, Any] = {}
    for kv in args.param:
        k, sep, v = kv.partition("=")
        if not sep:
            raise ConfigError(f"--param {kv!r} must look like KEY=JSON")
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    try:
        shape = json.loads(args.shape)
    except json.JSONDecodeError:
        raise ConfigError("--shape must be a JSON list such as [3]") from None
    digest = source_sha256(args.program)
    params["program_sha256"] = digest
    kind = "fixed" if args.fixed else "int"
    raw = {
        "program": args.program
        if not args.program.split(":")[0].endswith(".py")
        else f"{Path(args.program.rsplit(':', 1)[0]).name}:{args.program.rsplit(':', 1)[1]}",
        "params": params,
        "inputs": [
            {"party": p, "name": "value", "kind": kind, "shape": shape} for p in cfg.party_ids
        ],
        "outputs": _outputs(module, args.output, list(cfg.party_ids)),
    }
    raw["job_id"] = (
        "run-" + hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
    )
    return JobSpec.model_validate(raw)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.config import load_cluster
    from mpc_runtime.node.party import run_party

    setup_logging(args.verbose, f"party {args.party_id}")
    cfg = load_cluster(args.config)
    cfg.party(args.party_id)
    spec = make_spec(args, cfg)
    given = gather_inputs(args, ["value"])
    res = asyncio.run(
        run_party(
            cfg,
            args.party_id,
            spec,
            given,
            audit_path=Path(args.audit_log) if args.audit_log else None,
            program_ref=args.program,
        )
    )
    print_results(args, args.party_id, res)
    return 0
