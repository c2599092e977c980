"""Real `mpc` processes for integration tests: start, watch, and always clean up by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.out.read_text(errors="replace")


@dataclass
class ProcGroup:
    """Processes started by one test; stdout/stderr go to files so nothing can block on a pipe."""

    logdir: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> Proc:
        env = {k: v for k, v in os.environ.items() if k != "MPC_DEBUG"}
        env["PYTHONUNBUFFERED"] = "1"
        out, err = self.logdir / f"{name}.out", self.logdir / f"{name}.err"
        with out.open("wb") as fo, err.open("wb") as fe:
            popen = subprocess.Popen(
                [sys.executable, "-m", "mpc_runtime.cli.main", *args],
                stdout=fo,
                stderr=fe,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        proc = Proc(name, popen, out, err)
        self.procs[name] = proc
        return proc

    def wait_all(self, names: list[str], deadline: float) -> dict[str, int | None]:
        """Poll until every named process exited or ``deadline`` (time.monotonic) passed."""
        while True:
            codes = {n: self.procs[n].poll() for n in names}
            if all(c is not None for c in codes.values()) or time.monotonic() >= deadline:
                return codes
            time.sleep(0.02)

    def kill(self, name: str) -> None:
        """SIGKILL one of our processes, by its pid."""
        os.kill(self.procs[name].pid, signal.SIGKILL)

    def cleanup(self) -> list[str]:
        """Kill whatever is still running (by pid); return the names that were left over."""
        left = []
        for p in self.procs.values():
            if p.poll() is None:
                left.append(p.name)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
        for p in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=5)
        return left

    def describe(self) -> str:
        return "\n".join(
            f"--- {p.name} rc={p.poll()}\n{p.stderr[-2000:]}" for p in self.procs.values()
        )


@contextlib.contextmanager
def proc_group(logdir: Path) -> Iterator[ProcGroup]:
    logdir.mkdir(parents=True, exist_ok=True)
    group = ProcGroup(logdir)
    try:
        yield group
    finally:
        group.cleanup()


def wait_for_file(path: Path, group: ProcGroup, timeout: float) -> None:
    """Wait for ``path`` to appear; fail early (with logs) if any process exits first."""
    end = time.monotonic() + timeout
    while not path.exists():
        dead = [p.name for p in group.procs.values() if p.poll() is not None]
        if dead:
            raise AssertionError(f"{dead} exited before the job got going:\n{group.describe()}")
        if time.monotonic() > end:
            raise AssertionError(f"{path.name} did not appear in {timeout}s:\n{group.describe()}")
        time.sleep(0.05)
