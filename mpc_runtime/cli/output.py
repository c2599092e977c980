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


def plain(value: object) -> object:
    """A revealed value as plain Python numbers (ints stay ints), lists for arrays."""
    import numpy as np

    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


def format_value(value: object) -> str:
    """A revealed value as text: ints plainly, floats shortest-repr, arrays as lists."""
    return str(plain(value))


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 online round``, ``2 online rounds``."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def ledger_summary(who: str, ledger: object) -> str:
    """One line: online rounds/bytes and offline (dealer) rounds/bytes of a ledger."""
    on = ledger.total("online")  # type: ignore[attr-defined]
    off = ledger.total("offline")  # type: ignore[attr-defined]
    return (
        f"{who}: online {plural(on.rounds, 'round')}, {plural(on.messages_sent, 'message')},"
        f" {plural(on.bytes_sent, 'byte')} sent; preprocessing {plural(off.rounds, 'round')},"
        f" {plural(off.bytes_sent, 'byte')} sent, {plural(off.bytes_received, 'byte')} received"
    )
