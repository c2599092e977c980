"""Small printing helpers for the CLI: diagnostics go to stderr, results to stdout.

Nothing here may print an input, share or output value; callers pass ids, paths and counts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


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


def display_name(label: str, names: Sequence[str] = ()) -> str:
    """``party:i`` as the demo's i-th participant name when it has one, else the label."""
    role, _, pid = label.partition(":")
    if role == "party" and pid.isdigit() and 1 <= int(pid) <= len(names):
        return names[int(pid) - 1]
    return label


def add_demo_options(p: Any, default: str = "ot") -> None:
    """``--preprocessing`` (who makes the material) and ``--keep`` for a demo's sub-parser."""
    other = "dealer" if default == "ot" else "ot"
    what = {"ot": "ot: the parties make their own material", "dealer": "dealer: a separate dealer"}
    p.add_argument(
        "--preprocessing",
        choices=(default, other),
        default=default,
        help=f"{what[default]} (default); {what[other]}",
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, certs)")


def demo_failure(cluster: Any, codes: dict[str, int], names: Sequence[str] = ()) -> Exception:
    """One clear error for a failed local cluster (a demo): each failed process's first error
    line on stderr, then the error to raise: the usage error of a process that refused
    something (exit 2) if there is one, else the first failure."""
    from mpc_runtime.errors import MPCError, UsageError
    from mpc_runtime.launcher import first_error_line

    failed = {k: c for k, c in codes.items() if c != 0}
    for p in cluster.procs:
        if p.label in failed:
            who = display_name(p.label, names)
            info(f"{who} exited {failed[p.label]}: {first_error_line(p.stderr)}")
    usage = [p for p in cluster.procs if failed.get(p.label) == 2]
    if usage:
        line = first_error_line(usage[0].stderr).split("error: ", 1)[-1]
        return UsageError(f"{display_name(usage[0].label, names)}: {line}")
    first = next(p for p in cluster.procs if p.label in failed)
    line = first_error_line(first.stderr).split("error: ", 1)[-1]
    return MPCError(f"the demo failed: {display_name(first.label, names)}: {line}")
