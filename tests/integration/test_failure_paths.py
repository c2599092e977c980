"""Every failure path a user hits, over real processes: the right culprit, quickly, no hang.

For each scenario every surviving process must exit non-zero within the bound the docs give
(connect deadline, or round timeout + 2 s), and its one error line must name the participant
that caused the failure -- never a bystander.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.helpers.cluster import write_cluster
from tests.helpers.procs import ProcGroup, proc_group, wait_for_file

ROUND = 3.0
CONNECT = 4.0
SLACK = 2.5  # "round timeout + 2 s", plus process start-up jitter on a loaded 2-core machine


def _job(tmp: Path, raw: dict, name: str = "job.json") -> Path:
    p = tmp / name
    p.write_text(json.dumps(raw))
    return p


def _party(g: ProcGroup, cfg: Path, job: Path, pid: int, *extra: str) -> None:
    g.start(f"p{pid}", "party", "--config", str(cfg), "--id", str(pid), "--job", str(job), *extra)


def _last_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if "error" in ln or "aborted" in ln]
    return lines[-1] if lines else text[-300:]


def _blames_only(err: str, culprit: str, bystanders: list[str]) -> None:
    """``err`` names ``culprit`` and accuses no bystander (a reporter may be mentioned)."""
    assert culprit in err, err
    for b in bystanders:
        for accusation in ("was lost", "stopped responding", "sent nothing", "failed", "refused"):
            assert f"{b} {accusation}" not in err, err


def _all_exit(g: ProcGroup, names: list[str], within: float) -> dict[str, int]:
    codes = g.wait_all(names, time.monotonic() + within)
    still = [n for n, c in codes.items() if c is None]
    assert not still, f"{still} still running after {within}s:\n{g.describe()}"
    return {n: int(c) for n, c in codes.items() if c is not None}


SUM = {
    "job_id": "sum",
    "program": "protocols.apps:secure_sum_job",
    "inputs": [{"party": i, "name": "value", "min": 0, "max": 1000} for i in (1, 2, 3)],
    "outputs": [{"name": "total", "recipients": ["recipient:analyst"]}],
}


def test_a_recipient_that_never_joins_is_named_before_parties_compute(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=CONNECT, round_timeout=ROUND)
    job = _job(tmp_path, SUM)
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg), "--job", str(job))
        for pid in (1, 2, 3):
            _party(g, cfg, job, pid, "--input", str(pid))
        t0 = time.monotonic()
        codes = _all_exit(g, ["coord", "p1", "p2", "p3"], CONNECT + 10)
        assert time.monotonic() - t0 < CONNECT + 6
        for name, code in codes.items():
            err = g.procs[name].stderr
            assert code == 1, f"{name}: {err}"
            assert "recipient:analyst" in _last_error(err), f"{name}: {err}"
            assert "did not join" in err
            assert "result" not in g.procs[name].stdout
        assert "started" not in g.procs["coord"].stderr  # refused before any party computed


def test_a_party_refusing_its_own_input_stops_everyone_naming_it(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=10.0, round_timeout=ROUND)
    raw = {**SUM, "outputs": [{"name": "total", "recipients": ["party:1", "party:2", "party:3"]}]}
    job = _job(tmp_path, raw)
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg), "--job", str(job))
        _party(g, cfg, job, 1, "--input", "5")
        _party(g, cfg, job, 2, "--input", "[20, 21]")  # a vector for a scalar input
        _party(g, cfg, job, 3, "--input", "7")
        codes = g.wait_all(["p2"], time.monotonic() + 10)
        assert codes["p2"] == 2, g.describe()
        t_bad = time.monotonic()
        codes = _all_exit(g, ["coord", "p1", "p3"], 2.0 + 1.0)
        assert time.monotonic() - t_bad < 3.0
        assert "shape" in g.procs["p2"].stderr
        for name in ("coord", "p1", "p3"):
            err = _last_error(g.procs[name].stderr)
            assert codes[name] == 1, g.describe()
            assert "party:2 refused its own input" in err and "shape" in err, f"{name}: {err}"
            assert "20" not in err and "21" not in err  # the category, never the value


def _compare_job(tmp: Path, marker: Path) -> Path:
    return _job(
        tmp,
        {
            "job_id": "cmp",
            "program": "tests.helpers.programs:compare_loop",
            "params": {"marker": str(marker), "steps": 100000, "size": 512, "mark_at": 3},
            "inputs": [],
            "outputs": [],
        },
    )


def _start_compare(g: ProcGroup, tmp: Path, *, dealer: bool) -> tuple[Path, list[str]]:
    cfg, _ = write_cluster(
        tmp,
        3,
        connect=10.0,
        round_timeout=ROUND,
        dealer=dealer,
        preprocessing="dealer" if dealer else "ot",
    )
    marker = tmp / "running"
    job = _compare_job(tmp, marker)
    g.start("coord", "coordinator", "--config", str(cfg), "--job", str(job))
    names = ["coord"]
    if dealer:
        g.start("dealer", "dealer", "--config", str(cfg))
        names.append("dealer")
    for pid in (1, 2, 3):
        _party(g, cfg, job, pid)
        names.append(f"p{pid}")
    wait_for_file(marker, g, 30)
    return cfg, names


@pytest.mark.parametrize("dealer", [True, False], ids=["dealer", "ot"])
def test_a_frozen_party_is_named_by_everyone(tmp_path: Path, dealer: bool) -> None:
    with proc_group(tmp_path / "logs") as g:
        _, names = _start_compare(g, tmp_path, dealer=dealer)
        os.kill(g.procs["p2"].pid, signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            others = [n for n in names if n != "p2"]
            codes = _all_exit(g, others, ROUND + SLACK + 3)
            elapsed = time.monotonic() - t0
        finally:
            os.kill(g.procs["p2"].pid, signal.SIGKILL)
        assert elapsed < ROUND + SLACK, f"took {elapsed:.1f}s:\n{g.describe()}"
        for name in others:
            err = _last_error(g.procs[name].stderr)
            assert codes[name] != 0, g.describe()
            _blames_only(err, "party:2", ["party:1", "party:3", "coordinator", "dealer"])


def test_a_killed_coordinator_is_named_and_the_dealer_does_not_exit_0(tmp_path: Path) -> None:
    with proc_group(tmp_path / "logs") as g:
        _, names = _start_compare(g, tmp_path, dealer=True)
        g.kill("coord")
        others = [n for n in names if n != "coord"]
        t0 = time.monotonic()
        codes = _all_exit(g, others, SLACK + 3)
        assert time.monotonic() - t0 < SLACK
        for name in others:
            err = _last_error(g.procs[name].stderr)
            assert codes[name] == 1, g.describe()
            _blames_only(err, "coordinator", ["party:1", "party:2", "party:3", "dealer"])


SERVICES = {"coord": "coordinator", "dealer": "dealer"}


@pytest.mark.parametrize(
    ("proc", "how"), [("dealer", "kill"), ("dealer", "freeze"), ("coord", "freeze")]
)
def test_a_lost_or_frozen_service_is_named_by_everyone(tmp_path: Path, proc: str, how: str) -> None:
    """A killed dealer, or a SIGSTOPped dealer or coordinator mid-job (its connections stay open
    but it says nothing): every other process notices (heartbeats) and names it within the round
    timeout and a little; nobody waits forever and nobody blames a bystander."""
    label = SERVICES[proc]
    with proc_group(tmp_path / "logs") as g:
        _, names = _start_compare(g, tmp_path, dealer=True)
        if how == "kill":
            g.kill(proc)
        else:
            os.kill(g.procs[proc].pid, signal.SIGSTOP)
        others = [n for n in names if n != proc]
        t0 = time.monotonic()
        try:
            codes = _all_exit(g, others, ROUND + SLACK + 3)
            elapsed = time.monotonic() - t0
        finally:
            os.kill(g.procs[proc].pid, signal.SIGKILL)
        assert elapsed < ROUND + SLACK, f"took {elapsed:.1f}s:\n{g.describe()}"
        bystanders = [
            "party:1",
            "party:2",
            "party:3",
            *(v for v in SERVICES.values() if v != label),
        ]
        for name in others:
            err = _last_error(g.procs[name].stderr)
            assert codes[name] == 1, g.describe()
            _blames_only(err, label, bystanders)


def test_a_killed_party_is_named_by_every_survivor(tmp_path: Path) -> None:
    with proc_group(tmp_path / "logs") as g:
        _, names = _start_compare(g, tmp_path, dealer=False)
        g.kill("p2")
        others = [n for n in names if n != "p2"]
        t0 = time.monotonic()
        codes = _all_exit(g, others, SLACK + 3)
        assert time.monotonic() - t0 < SLACK
        for name in others:
            err = _last_error(g.procs[name].stderr)
            assert codes[name] == 1, g.describe()
            _blames_only(err, "party:2", ["party:1", "party:3", "coordinator"])


BROKEN = """
from protocols.compare import lt
from protocols.io import share_inputs

OUTPUTS = {"r": "all"}


async def main(ctx):
    v = await share_inputs(ctx, ctx.inputs.get("value"), owners=ctx.parties, shape=())
    r = await lt(ctx, v[1], v[2])
    if ctx.party_id == 3:
        undefined_helper(r)
    await ctx.reveal("r", r)
"""


def test_an_exception_in_a_users_program(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=10.0, round_timeout=ROUND, preprocessing="ot")
    script = tmp_path / "broken.py"
    script.write_text(BROKEN)
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg))
        for pid in (1, 2, 3):
            g.start(
                f"p{pid}",
                "run",
                f"{script}:main",
                "--config",
                str(cfg),
                "--id",
                str(pid),
                "--input",
                str(pid),
            )
        codes = _all_exit(g, ["coord", "p1", "p2", "p3"], 20)
        err3 = _last_error(g.procs["p3"].stderr)
        assert codes["p3"] == 2, g.describe()
        assert "NameError" in err3 and "undefined_helper" in err3 and "broken.py:12" in err3, err3
        assert "Traceback" not in g.procs["p3"].stderr
        for name in ("coord", "p1", "p2"):
            err = _last_error(g.procs[name].stderr)
            assert codes[name] == 1, g.describe()
            assert "party:3 failed in its program at main/lt#0" in err, f"{name}: {err}"
            assert "undefined_helper" not in err  # the program's own text stays on its party
