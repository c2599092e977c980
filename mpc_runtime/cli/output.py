"""Small printing helpers for the CLI: diagnostics go to stderr, results to stdout.

Nothing here may print an input, share or output value; callers pass ids, paths and counts.
"""

from __future__ import annotations

import sys


def _one_line(msg: str) -> str:
    return " ".join(str(msg).splitlines())


def result(msg: str) -> None:
    """A line of the command's result, on stdout."""
    print(msg, file=sys.stdout, flush=True)


def info(msg: str) -> None:
    """A diagnostic line on stderr, prefixed ``mpc: ``."""
    print(f"mpc: {_one_line(msg)}", file=sys.stderr, flush=True)


def warn(msg: str) -> None:
    """A warning line on stderr, prefixed ``mpc: warning: ``."""
    print(f"mpc: warning: {_one_line(msg)}", file=sys.stderr, flush=True)


def error_line(cmd: str | None, msg: str) -> str:
    """The single line the error boundary prints: ``mpc <cmd>: error: <msg>``."""
    prefix = f"mpc {cmd}" if cmd else "mpc"
    return f"{prefix}: error: {_one_line(msg)}"


def progress(what: str, done: int, total: int | None = None) -> None:
    """A plain progress line on stderr: ``mpc: <what>: 3/10 (30%)`` (no cursor tricks)."""
    if total:
        pct = 100 * done // total
        info(f"{what}: {done}/{total} ({pct}%)")
    else:
        info(f"{what}: {done}")
