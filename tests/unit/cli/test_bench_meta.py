"""``mpc bench``'s metadata (commit, date, machine), its argument checks for several sizes, its
table, and the progress marks party 1 writes (counted by the bar)."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
from pathlib import Path

import pytest

from mpc_runtime.cli import cmd_bench
from mpc_runtime.errors import UsageError

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme

processor\t: 1
model name\t: AMD EPYC 7B13
"""


def test_cpu_model_from_proc_cpuinfo() -> None:
    assert cmd_bench.cpu_model(CPUINFO) == "AMD EPYC 7B13"
    assert cmd_bench.cpu_model("Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4\n") == (
        "Raspberry Pi 4"
    )
    assert cmd_bench.cpu_model("") != ""  # falls back to platform, never empty


def test_metadata_fields() -> None:
    meta = cmd_bench.metadata()
    assert {"commit", "date_utc", "machine", "cpu_model", "cores", "python", "numpy"} <= set(meta)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["date_utc"])
    assert meta["cores"] >= 1
    assert re.fullmatch(r"[0-9a-f]{4,40}(-dirty)?|unknown", meta["commit"])


def test_git_commit_matches_git_and_dirty_flag() -> None:
    head = subprocess.run(
        ["git", "-C", str(cmd_bench.REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        pytest.skip("not a git work tree")
    dirty = (
        subprocess.run(
            ["git", "-C", str(cmd_bench.REPO), "diff", "--quiet", "HEAD", "--"], check=False
        ).returncode
        == 1
    )
    assert cmd_bench.git_commit() == head.stdout.strip() + ("-dirty" if dirty else "")


def test_git_commit_outside_a_work_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cmd_bench, "REPO", tmp_path)
    assert cmd_bench.git_commit() == "unknown"


def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "op": ["mul"], "parties": 3, "size": [1000], "repeat": 2, "seed": 1, "latency_ms": 0.0,
    }  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


def test_check_args_with_several_sizes() -> None:
    cmd_bench._check_args(_args(size=[10, 1000]))
    with pytest.raises(UsageError):
        cmd_bench._check_args(_args(size=[10, 0]))
    with pytest.raises(UsageError):
        cmd_bench._check_args(_args(op=["argmax"], size=[16, 4096]))


def _row(op: str, size: int) -> dict[str, object]:
    return {
        "op": op, "parties": 3, "size": size, "repeat": 2, "latency_ms": 0.0, "rounds": 1,
        "expected_rounds": 1, "messages_per_party": 2, "online_bytes_per_party": 10,
        "offline_bytes_per_party": 10, "online_seconds": 0.01, "offline_seconds": 0.02,
        "elements_per_second": 1e5, "offline_elements_per_second": 5e4,
        "latency_floor_seconds": 0.0,
    }  # fmt: skip


def test_table_has_a_size_column_only_for_several_sizes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cmd_bench.print_table([_row("mul", 1000)])
    one = capsys.readouterr().out.splitlines()
    assert "size 1000" in one[0] and one[1].split()[0] == "op"
    cmd_bench.print_table([_row("mul", 1000), _row("mul", 20000)])
    two = capsys.readouterr().out.splitlines()
    assert "sizes 1000, 20000" in two[0] and two[1].split()[:2] == ["size", "op"]
    assert two[3].split()[:2] == ["20000", "mul"]


def test_bench_job_marks_each_repetition_on_party_1(capsys: pytest.CaptureFixture[str]) -> None:
    from protocols import bench

    class Ctx:
        party_id = 1

    class Other:
        party_id = 2

    bench.mark_progress(Ctx(), 1, 3)  # type: ignore[arg-type]
    bench.mark_progress(Other(), 1, 3)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert err == f"{bench.PROGRESS_MARK} 1/3\n"


def test_wait_advances_the_bar_as_party_1_marks_repetitions(tmp_path: Path) -> None:
    """With a bar drawn, ``_wait`` counts party 1's marks while the processes run, and fills
    the bar to ``repeat`` when they are done."""
    pytest.importorskip("tqdm")
    from mpc_runtime.cli.progress import Progress
    from protocols.bench import PROGRESS_MARK

    err = tmp_path / "party-1.err"
    err.write_text("")
    seen: list[int] = []

    class Popen:
        polls = 0

        def poll(self) -> int | None:
            self.polls += 1
            if self.polls <= 2:
                with err.open("a") as fh:
                    fh.write(f"{PROGRESS_MARK} {self.polls}/3\n")
                return None
            return 0

    class Proc:
        label = "party:1"
        popen = Popen()
        stderr_path = err

        @property
        def stderr(self) -> str:
            return err.read_text()

    class Cluster:
        procs = [Proc()]

        def wait(self, timeout: float) -> dict[str, int]:
            return {"party:1": 0}

    class TTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = Progress(3, stream=TTY(), environ={})
    real = bar.update

    def update(n: int = 1) -> None:
        seen.append(n)
        real(n)

    bar.update = update  # type: ignore[method-assign]
    codes = cmd_bench._wait(Cluster(), 10.0, bar, 3)
    assert codes == {"party:1": 0}
    assert sum(seen) == 3 and seen[:2] == [1, 1]
    bar.close()
