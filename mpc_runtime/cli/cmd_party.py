"""``mpc party``: run one computing party of a job described by a job spec file, or (``--serve``)
stay up and run job after job submitted to a serving cluster over one mesh.

Prints ``result <output> = <value>`` on stdout for each output revealed to this party, and a
rounds/bytes summary on stderr (``--ledger`` prints the full table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mpc_runtime.cli.output import info, ledger_summary, plain, result, warn
from mpc_runtime.procinfo import keep_freed_memory, peak_rss_bytes


def add_common_party_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="cluster TOML file (party_configs/...)")
    p.add_argument("--id", type=int, required=True, dest="party_id", help="this party's id")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[NAME=]VALUE",
        help="a private input (a number or a JSON list); repeat for several inputs",
    )
    p.add_argument("--input-file", help="JSON or TOML file with name = value inputs")
    p.add_argument(
        "--audit-log", help="append reveal events (never values) to this JSON-lines file"
    )
    p.add_argument("--ledger", action="store_true", help="print the full rounds/bytes table")
    p.add_argument("--json", action="store_true", help="print results as one JSON object")
    p.add_argument("-v", "--verbose", action="store_true", help="log connections and refusals")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "party",
        help="run one computing party of a job",
        description="Run one computing party of the job in --job; connects to the coordinator "
        "and to the other parties over mutually authenticated TLS.",
    )
    add_common_party_args(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--job", help="job spec (TOML or JSON); must match the others'")
    what.add_argument(
        "--serve",
        action="store_true",
        help="stay up and run job after job submitted to the coordinator (mpc job submit)"
        " over one mesh; stop with Ctrl-C or SIGTERM",
    )
    p.add_argument(
        "--inputs-dir",
        metavar="DIR",
        help="with --serve: this party's inputs for job J are in DIR/J.json (or DIR/J.toml)",
    )
    p.add_argument(
        "--programs",
        action="append",
        default=[],
        metavar="DIR",
        help="with --serve: where file programs (path/to/file.py:function) are looked up after"
        " the current directory (repeatable)",
    )
    p.set_defaults(func=run)


def setup_logging(verbose: bool, who: str) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format=f"mpc {who}: %(message)s",
    )


def gather_inputs(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """This party's inputs from ``--input`` flags or ``--input-file`` (not both)."""
    from mpc_runtime.errors import InputError
    from mpc_runtime.node.inputs import parse_input_flags, read_input_file

    if args.input_file and args.input:
        raise InputError("give inputs either with --input or with --input-file, not both")
    if args.input_file:
        return read_input_file(args.input_file)
    return parse_input_flags(args.input, names)


def print_results(args: argparse.Namespace, pid: int, res: Any) -> None:
    if args.json:
        out = {k: plain(v) for k, v in sorted(res.outputs.items())}
        peak = peak_rss_bytes()
        report = {"party": pid, "outputs": out, "ledger": res.ledger.as_json()}
        result(json.dumps({**report, "privacy": res.notes, "peak_rss_bytes": peak}))
    else:
        for name, value in sorted(res.outputs.items()):
            result(f"result {name} = {plain(value)}")
        if not res.outputs:
            info(f"party {pid}: no output was revealed to this party")
    for note in res.notes:
        info(f"party {pid}: privacy: {note}")
    info(ledger_summary(f"party {pid}", res.ledger))
    if args.ledger:
        for line in res.ledger.report().splitlines():
            info(line)


async def serve_until_signal(work: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``work(stop)``; Ctrl-C and SIGTERM set ``stop`` (a serving process ends cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await work(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_and_print(
    args: argparse.Namespace, cfg: Any, spec: Any, search: list[Path] | None = None
) -> None:
    """Run this party of ``spec`` (``mpc party --job`` and ``mpc run``) and print its results:
    its inputs from the flags or file, progress on stderr, results on stdout."""
    from mpc_runtime.node.party import run_party

    names = [i.name for i in spec.inputs if i.party == args.party_id]
    res = asyncio.run(
        run_party(
            cfg,
            args.party_id,
            spec,
            gather_inputs(args, names),
            audit_path=Path(args.audit_log) if args.audit_log else None,
            say=info,
            warn=warn,
            search=search,
        )
    )
    print_results(args, args.party_id, res)


def run_serve(args: argparse.Namespace) -> int:
    """``mpc party --serve``: serve job after job until stopped."""
    from mpc_runtime.config import load_cluster
    from mpc_runtime.errors import UsageError
    from mpc_runtime.node.serve import serve_party

    pid = args.party_id
    setup_logging(args.verbose, f"party {pid}")
    if args.input or args.input_file:
        raise UsageError(
            "a serving party takes each job's inputs from --inputs-dir DIR (DIR/<job id>.json),"
            " not from --input or --input-file"
        )
    inputs_dir = Path(args.inputs_dir) if args.inputs_dir else None
    if inputs_dir is not None and not inputs_dir.is_dir():
        raise UsageError(f"--inputs-dir {inputs_dir}: not a directory")
    cfg = load_cluster(args.config)
    cfg.party(pid)

    def on_result(job: str, outputs: dict[str, Any], ledger: Any) -> None:
        if args.json:
            out = {k: plain(v) for k, v in sorted(outputs.items())}
            result(
                json.dumps({"party": pid, "job": job, "outputs": out, "ledger": ledger.as_json()})
            )
        else:
            for name, value in sorted(outputs.items()):
                result(f"job {job}: result {name} = {plain(value)}")
        info(ledger_summary(f"party {pid} job {job}", ledger))

    async def work(stop: asyncio.Event) -> int:
        return await serve_party(
            cfg,
            pid,
            stop,
            inputs_dir=inputs_dir,
            programs=[Path(d) for d in args.programs],
            audit_path=Path(args.audit_log) if args.audit_log else None,
            say=info,
            warn=warn,
            on_result=on_result,
        )

    ran = asyncio.run(serve_until_signal(work))
    info(f"party {pid}: stopped after {ran} job{'s' if ran != 1 else ''}")
    return 0


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.config import load_cluster
    from mpc_runtime.jobs.spec import check_against_cluster, load_spec

    keep_freed_memory()  # arrays of the same sizes come round after round: reuse, no page faults
    if args.serve:
        return run_serve(args)
    setup_logging(args.verbose, f"party {args.party_id}")
    cfg = load_cluster(args.config)
    spec = load_spec(args.job)
    check_against_cluster(spec, cfg, args.job)
    cfg.party(args.party_id)
    run_and_print(args, cfg, spec, search=[Path(args.job).resolve().parent])
    return 0
