"""``mpc run PROGRAM``: run your own script as one party, with no spec file to write.

The job spec is made from the script (see :mod:`mpc_runtime.cli.scripts`): its reference, the
SHA-256 of its source (all parties must run the same code), its declared inputs (by default every
party gives an input named ``value``; parties the script's ``INPUTS`` do not list give none) and
outputs.  The coordinator, started without ``--job``, adopts the spec the parties agree on.  An
external recipient runs ``mpc recipient --program PROGRAM`` with the same flags, or uses the spec
written with ``--write-spec``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mpc_runtime.cli.cmd_party import add_common_party_args, run_and_print, setup_logging
from mpc_runtime.cli.scripts import add_script_args


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a secure computation script (MODULE:FUNCTION or file.py:FUNCTION) as one party",
        description="Run an async function f(ctx) as one party of a job made from the script.",
    )
    p.add_argument("program", help="package.module:function or path/to/file.py:function")
    add_common_party_args(p)
    add_script_args(p)
    p.add_argument("--write-spec", metavar="PATH", help="also write the job spec built (JSON)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import info
    from mpc_runtime.cli.scripts import spec_from_script
    from mpc_runtime.config import load_cluster
    from mpc_runtime.procinfo import keep_freed_memory

    setup_logging(args.verbose, f"party {args.party_id}")
    cfg = load_cluster(args.config)
    cfg.party(args.party_id)
    spec = spec_from_script(args.program, args, cfg)
    if args.write_spec:
        Path(args.write_spec).write_text(json.dumps(spec.model_dump(mode="json"), indent=1) + "\n")
        info(f"wrote the job spec to {args.write_spec} (job {spec.job_id})")
    keep_freed_memory()
    run_and_print(args, cfg, spec)
    return 0
