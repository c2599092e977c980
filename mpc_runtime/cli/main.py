"""Entry point of the ``mpc`` console script: builds the parser and is the error boundary.

Commands are modules ``mpc_runtime.cli.cmd_<name>`` listed in :data:`COMMAND_MODULES`; each
exposes ``register(sub)`` which adds its sub-parser with ``func=run`` (``run(args) -> int``).
They are imported when :func:`main` runs, never when this module is imported, and only the
module of the command being run (``mpc party ...`` never imports the demo, certs or bench code);
``mpc --help`` and an unknown command import them all, to list them.

Run as ``python -m mpc_runtime.cli.main`` (how :mod:`mpc_runtime.launcher` starts a cluster's
processes) the interpreter ends with ``os._exit`` once stdout and stderr are flushed: every output
has been written and every connection closed by then (``asyncio.run`` has returned), so the
interpreter's teardown (module finalizers, garbage collection of every object) is skipped
(not under a profiler, tracer or coverage, which write their results at exit).

Exit codes: 0 ok; an :class:`~mpc_runtime.errors.MPCError`'s ``exit_code`` (2 usage/config,
1 otherwise, 3 unauthorized reveal); 2 for argparse errors; 130 on Ctrl-C; 70 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

COMMAND_MODULES: list[str] = [
    "certs",
    "party",
    "run",
    "demo",
    "coordinator",
    "dealer",
    "recipient",
    "submit",
    "job",
    "tokens",
    "budget",
    "bench",
]

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every command module registered (only ``only``'s, if it names
    one of :data:`COMMAND_MODULES`)."""
    from mpc_runtime import __version__

    parser = argparse.ArgumentParser(
        prog="mpc",
        description="mpc-runtime: multi-party computation over mutually authenticated TLS.",
        epilog="Run `mpc <command> --help` for a command's options.  "
        "Set MPC_DEBUG=1 to see tracebacks of internal errors.",
    )
    parser.add_argument("--version", action="version", version=f"mpc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in [only] if only in COMMAND_MODULES else COMMAND_MODULES:
        module = importlib.import_module(f"mpc_runtime.cli.cmd_{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mpc`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from mpc_runtime.cli.output import error_line
    from mpc_runtime.errors import MPCError

    arglist = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arglist[0] if arglist else None)
    try:
        args = parser.parse_args(arglist)
    except SystemExit as exc:  # --help, --version, or an argparse usage error (2)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    cmd = getattr(args, "command", None)
    try:
        rc = args.func(args)
    except MPCError as err:
        print(error_line(cmd, str(err)), file=sys.stderr, flush=True)
        return err.exit_code
    except BrokenPipeError:  # e.g. `mpc certs show | head`: the reader left; not an error
        return 0
    except KeyboardInterrupt:
        print("mpc: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        print(f"mpc: internal error: {type(exc).__name__}", file=sys.stderr, flush=True)
        if os.environ.get("MPC_DEBUG") == "1":
            traceback.print_exc()
        return EXIT_INTERNAL
    return 0 if rc is None else int(rc)


def exit_now(code: int) -> None:
    """Flush stdout and stderr and end the process at once, without interpreter teardown.

    Under a profiler, tracer or coverage (which write their results at exit) it exits normally.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None or "coverage" in sys.modules:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing more can be written anyway
            pass
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
