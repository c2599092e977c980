"""``mpc tokens``: issue single-use contribution tokens for a job with token credentials.

Writes ``tokens.txt`` (one secret token per line, hex, mode 0600: hand one to each eligible
contributor, privately) and ``eligible.txt`` (their public keys, one per line: the job's
``eligible_file``), and prints the ``eligible_digest`` the job spec must pin.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

MAX_TOKENS = 10_000_000


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tokens",
        help="issue single-use tokens for contributors",
        description="Make COUNT single-use tokens (secrets for the contributors) and the list of "
        "their public keys that a job's [contributions] eligible_file names.",
    )
    p.add_argument("--count", type=int, required=True, help="how many tokens")
    p.add_argument("--out", required=True, help="directory for tokens.txt and eligible.txt")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import info, result
    from mpc_runtime.errors import UsageError
    from mpc_runtime.jobs.contrib import make_tokens, write_eligible

    if not 1 <= args.count <= MAX_TOKENS:
        raise UsageError(f"--count must be between 1 and {MAX_TOKENS}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    secrets, eligible = out / "tokens.txt", out / "eligible.txt"
    for path in (secrets, eligible):
        if path.exists() and not args.force:
            raise UsageError(f"{path} exists; use --force to replace it")
    tokens, keys = make_tokens(args.count)
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write("".join(t.hex() + "\n" for t in tokens))
    digest = write_eligible(eligible, keys)
    info(f"wrote {args.count} tokens to {secrets} (secret: one per contributor)")
    info(f"wrote their public keys to {eligible} (the job's eligible_file)")
    result(f'eligible_digest = "{digest}"')
    return 0
