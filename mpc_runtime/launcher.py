"""Start a whole cluster of real processes on this machine: throwaway certificates, a cluster
file on free loopback ports, a coordinator, parties, optionally a dealer and recipients.

Used by ``mpc demo``, ``mpc bench`` and the integration tests.  Private inputs go to each party
through a 0600 file, never on a command line (where ``ps`` would show them).  Every process is
ours; :meth:`LocalCluster.stop` ends the ones still running, by their pid.

How a process starts (``MPC_LAUNCH``):

* ``fork`` (the default where ``os.fork`` exists): the launcher imports what a party, coordinator,
  dealer or recipient needs once (:data:`PRELOAD`, and the ``protocols`` module a spec written
  with :meth:`LocalCluster.write_spec` names), then forks one child per process, which runs
  ``mpc <command> ...`` in-process and ends with ``os._exit``.  Each child is still its own
  process with its own event loop, sockets, certificates and key; it only skips the interpreter
  start and the imports (about 0.3 CPU-seconds each), so a demo's processes no longer queue for
  the CPU importing numpy, pydantic and cryptography.  Forking needs a launcher without threads
  or a running event loop and without ``env`` overrides; otherwise the process is executed.
* ``exec``: ``python -m mpc_runtime.cli.main <command> ...`` (a fresh interpreter per process).

A child's stdout and stderr go to files in the work directory either way; waiting for the
processes wakes when one exits (a pidfd on Linux; elsewhere a poll every :data:`POLL_SECONDS`).

May import: config, pki, errors.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mpc_runtime.errors import MPCError

LAUNCH_ENV = "MPC_LAUNCH"
"""Environment variable choosing how processes start: ``fork`` (default) or ``exec``."""
PRELOAD = (
    "numpy",
    "mpc_runtime.cli.cmd_party",
    "mpc_runtime.cli.cmd_coordinator",
    "mpc_runtime.cli.cmd_dealer",
    "mpc_runtime.cli.cmd_recipient",
    "mpc_runtime.config",
    "mpc_runtime.jobs.spec",
    "mpc_runtime.node.party",
    "mpc_runtime.node.inputs",
    "mpc_runtime.coordinator.server",
    "mpc_runtime.dealer.process",
    "mpc_runtime.recipient.receive",
    "mpc_runtime.cli.scripts",
    "mpc_runtime.preprocessing.ot.provider",
    "mpc_runtime.preprocessing.dealer.client",
    "encodings.idna",
)
"""Modules the launcher imports before forking its first child (what the children run)."""
CLI_MODULE = "mpc_runtime.cli.main"
"""The program every launched process runs (by module name in both modes: the launcher sits
below the CLI and never imports it as a library)."""
POLL_SECONDS = 0.01
"""How often :func:`wait_exit` checks a child where no pidfd is available."""
EXIT_INTERNAL = 70


def free_ports(k: int) -> list[int]:
    """k distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    socks = []
    try:
        for _ in range(k):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cluster_toml(
    name: str,
    cert_dir: Path,
    names: list[str],
    *,
    recipients: Sequence[str] = (),
    separate_dealer: bool = False,
    embedded_dealer: bool = False,
    preprocessing: str = "ot",
    connect: float = 20.0,
    round_timeout: float = 10.0,
) -> str:
    """A cluster file on free loopback ports (parties numbered 1.. in ``names`` order; the
    coordinator also takes contributions)."""
    ports = free_ports(len(names) + 3)
    lines = [
        f'name = "{name}"',
        f'cert_dir = "{cert_dir}"',
        f'preprocessing = "{preprocessing}"',
        "",
        "[coordinator]",
        'host = "127.0.0.1"',
        f"port = {ports[0]}",
        f"embedded_dealer = {'true' if embedded_dealer else 'false'}",
        f"contributor_port = {ports[-1]}",
        "",
    ]
    if separate_dealer:
        lines += ["[dealer]", 'host = "127.0.0.1"', f"port = {ports[1]}", ""]
    lines += ["[timeouts]", f"connect = {connect}", f"round = {round_timeout}", ""]
    for i, n in enumerate(names, start=1):
        lines += ["[[parties]]", f"id = {i}", f'name = "{n}"', 'host = "127.0.0.1"']
        lines += [f"port = {ports[i + 1]}", ""]
    for r in recipients:
        lines += ["[[recipients]]", f'name = "{r}"', ""]
    return "\n".join(lines)


def wait_exit(pid: int, timeout: float | None) -> bool:
    """Block until child ``pid`` has exited (not reaped) or ``timeout`` passed; True if it exited.

    Linux: a pidfd wakes us the moment the child ends.  Elsewhere: a poll every
    :data:`POLL_SECONDS`.
    """
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return _poll_exit(pid, timeout)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def _poll_exit(pid: int, timeout: float | None) -> bool:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if info is not None:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


class ForkedProcess:
    """A child made with ``os.fork`` that runs ``mpc <args>`` in-process.

    The part of :class:`subprocess.Popen` the launcher and its users call: ``pid``, ``args``,
    ``returncode``, :meth:`poll`, :meth:`wait` (raises :class:`subprocess.TimeoutExpired`),
    :meth:`send_signal`, :meth:`terminate` and :meth:`kill`.  ``returncode`` is the exit status,
    or ``-N`` for a child ended by signal N, as with ``Popen``.
    """

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if timeout is not None and not wait_exit(self.pid, timeout):
                raise subprocess.TimeoutExpired(self.args, timeout)
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


Process = subprocess.Popen[bytes] | ForkedProcess


@dataclass
class Proc:
    """One process we started, with where its output goes."""

    label: str
    popen: Process
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _can_fork(extra_env: dict[str, str] | None) -> bool:
    """Whether to fork: asked for (the default), possible, and safe in this process."""
    if os.environ.get(LAUNCH_ENV, "fork") != "fork" or not hasattr(os, "fork") or extra_env:
        return False
    if threading.active_count() > 1:  # another thread may hold a lock the child would inherit
        return False
    aio = sys.modules.get("asyncio")
    return aio is None or aio.events._get_running_loop() is None


def _preload(modules: Sequence[str]) -> None:
    """Import what the children will run, once, before the first fork."""
    for name in modules:
        if name not in sys.modules:
            importlib.import_module(name)


def _fork_child(args: list[str], stdout_fd: int, stderr_fd: int, cwd: Path) -> ForkedProcess:
    for stream in (sys.stdout, sys.stderr):  # nothing of ours may be written twice
        stream.flush()
    gc.freeze()  # keep the children's collector off the shared pages (fewer copy-on-write faults)
    pid = os.fork()
    if pid == 0:
        _run_child(args, stdout_fd, stderr_fd, cwd)
    return ForkedProcess(pid, args)


def _run_child(args: list[str], stdout_fd: int, stderr_fd: int, cwd: Path) -> NoReturn:
    """The forked child: standard streams to the files, run ``mpc <args>``, never return."""
    code = EXIT_INTERNAL
    try:
        os.chdir(cwd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        os.close(null)
        # Line-buffered like PYTHONUNBUFFERED children: a killed child leaves what it printed.
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        logging = sys.modules.get("logging")
        if logging is not None:
            logging.root.handlers.clear()  # the child configures its own (basicConfig)
        cli = importlib.import_module(CLI_MODULE)  # the program, by name, as `python -m` runs it
        sys.argv = [cli.__file__ or "mpc", *args]
        code = cli.main(args)
    except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
        try:
            print("mpc: internal error in a launched process", file=sys.stderr, flush=True)
        except BaseException:  # noqa: BLE001, S110
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110
                pass
        os._exit(code)


class LocalCluster:
    """A cluster of real `mpc` processes on loopback, in a work directory of its own."""

    def __init__(
        self,
        workdir: Path,
        names: list[str],
        *,
        recipients: list[str] | None = None,
        separate_dealer: bool = False,
        embedded_dealer: bool = False,
        preprocessing: str = "ot",
        connect: float = 20.0,
        round_timeout: float = 10.0,
        env: dict[str, str] | None = None,
    ) -> None:
        from mpc_runtime.config import load_cluster
        from mpc_runtime.pki import ensure_cluster_certs

        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.names = names
        self.config_path = workdir / "cluster.toml"
        self.config_path.write_text(
            cluster_toml(
                "local",
                workdir / "certs",
                names,
                recipients=recipients or [],
                separate_dealer=separate_dealer,
                embedded_dealer=embedded_dealer,
                preprocessing=preprocessing,
                connect=connect,
                round_timeout=round_timeout,
            )
        )
        self.cfg = load_cluster(self.config_path)
        ensure_cluster_certs(self.cfg)
        self.procs: list[Proc] = []
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.fork = _can_fork(env)
        self._preload: list[str] = list(PRELOAD)

    def write_spec(self, spec: dict[str, Any], name: str = "job.json") -> Path:
        path = self.workdir / name
        path.write_text(json.dumps(spec, indent=1))
        module = str(spec.get("program", "")).partition(":")[0]
        if module.startswith("protocols.") and module.replace(".", "").replace("_", "").isalnum():
            self._preload.append(module)  # our own job programs: the children import them
        return path

    def _start(self, label: str, args: list[str]) -> Proc:
        safe = label.replace(":", "-")
        out = self.workdir / f"{safe}.out"
        err = self.workdir / f"{safe}.err"
        fork = self.fork and _can_fork(None)
        if fork:
            _preload(self._preload)
        with out.open("wb") as o, err.open("wb") as e:
            p: Process
            if fork:
                p = _fork_child(args, o.fileno(), e.fileno(), self.workdir)
            else:
                p = subprocess.Popen(
                    [sys.executable, "-m", CLI_MODULE, *args],
                    stdout=o,
                    stderr=e,
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                    cwd=self.workdir,
                )
        proc = Proc(label, p, out, err)
        self.procs.append(proc)
        return proc

    def start_coordinator(self, spec: Path | None, extra: Sequence[str] = ()) -> Proc:
        args = ["coordinator", "--config", str(self.config_path)]
        if spec is not None:
            args += ["--job", str(spec)]
        return self._start("coordinator", [*args, *extra])

    def start_dealer(self, extra: Sequence[str] = ()) -> Proc:
        return self._start("dealer", ["dealer", "--config", str(self.config_path), *extra])

    def start_party(
        self,
        pid: int,
        spec: Path,
        inputs: dict[str, Any] | None = None,
        extra: Sequence[str] = (),
    ) -> Proc:
        args = ["party", "--config", str(self.config_path), "--id", str(pid), "--job", str(spec)]
        if inputs:
            f = self.workdir / f"inputs-{pid}.json"
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(inputs, fh)
            args += ["--input-file", str(f)]
        return self._start(f"party:{pid}", [*args, *extra])

    def start_recipient(self, name: str, spec: Path, extra: Sequence[str] = ()) -> Proc:
        args = ["recipient", "--config", str(self.config_path), "--name", name, "--job", str(spec)]
        return self._start(f"recipient:{name}", [*args, *extra])

    def wait(self, timeout: float) -> dict[str, int]:
        """Wait for every process; those still running at the deadline are killed (rc -9).

        Wakes as soon as a process exits (see :func:`wait_exit`), never on a polling tick.
        """
        deadline = time.monotonic() + timeout
        codes: dict[str, int] = {}
        for p in self.procs:
            remaining = max(0.1, deadline - time.monotonic())
            if p.popen.poll() is None and not wait_exit(p.popen.pid, remaining):
                p.popen.kill()
            codes[p.label] = p.popen.wait()
        return codes

    def stop(self) -> None:
        """End every process we started that is still running (by its pid)."""
        for p in self.procs:
            if p.popen.poll() is None:
                try:
                    os.kill(p.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.popen.wait()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def first_error_line(text: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return line.strip()
    return text.strip().splitlines()[-1] if text.strip() else ""


__all__ = [
    "ForkedProcess",
    "LocalCluster",
    "MPCError",
    "Proc",
    "Process",
    "cluster_toml",
    "first_error_line",
    "free_ports",
    "wait_exit",
]
