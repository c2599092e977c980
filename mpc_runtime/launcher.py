"""Start a whole cluster of real processes on this machine: throwaway certificates, a cluster
file on free loopback ports, a coordinator, parties, optionally a dealer and recipients.

Used by ``mpc demo``, ``mpc bench`` and the integration tests.  Private inputs go to each party
through a 0600 file, never on a command line (where ``ps`` would show them).  Every process is
ours; :meth:`LocalCluster.stop` ends the ones still running, by their pid.

May import: config, pki, errors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpc_runtime.errors import MPCError


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


@dataclass
class Proc:
    """One process we started, with where its output goes."""

    label: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


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

    def write_spec(self, spec: dict[str, Any], name: str = "job.json") -> Path:
        path = self.workdir / name
        path.write_text(json.dumps(spec, indent=1))
        return path

    def _start(self, label: str, args: list[str]) -> Proc:
        safe = label.replace(":", "-")
        out = self.workdir / f"{safe}.out"
        err = self.workdir / f"{safe}.err"
        with out.open("wb") as o, err.open("wb") as e:
            p = subprocess.Popen(
                [sys.executable, "-m", "mpc_runtime.cli.main", *args],
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
        """Wait for every process; those still running at the deadline are killed (rc -9)."""
        deadline = time.monotonic() + timeout
        codes: dict[str, int] = {}
        for p in self.procs:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                codes[p.label] = p.popen.wait(remaining)
            except subprocess.TimeoutExpired:
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


__all__ = ["LocalCluster", "MPCError", "Proc", "cluster_toml", "first_error_line", "free_ports"]
