"""A serving cluster over real processes and TLS on loopback: ``mpc coordinator --serve``,
``mpc party --serve`` and jobs submitted one after another (``mpc job submit`` or the client).

Each test starts one warm cluster (3 parties, OT preprocessing), submits jobs to it and checks
results against plaintext sums, refusals (one line naming the party, and the cluster serves
the next job), a party killed mid-job (named by everyone; the cluster re-forms once it is
back), who receives which output, and a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mpc_runtime import pki
from mpc_runtime.cli.cmd_job import JobClient, submit_job
from mpc_runtime.config import ClusterConfig, load_cluster
from mpc_runtime.errors import MPCError
from mpc_runtime.jobs.spec import parse_spec
from tests.helpers.cluster import write_cluster
from tests.helpers.procs import REPO, ProcGroup, proc_group

ROUND = 3.0
CONNECT = 6.0
SLOW = """
import asyncio
import numpy as np

async def job(ctx):
    await ctx.broadcast(np.array([ctx.party_id], dtype=np.int64))
    await asyncio.sleep(2.0)
    await ctx.broadcast(np.array([ctx.party_id], dtype=np.int64))
"""


@dataclass
class Warm:
    """A running serving cluster and where its parties read their inputs."""

    path: Path
    cfg: ClusterConfig
    group: ProcGroup
    inputs: dict[int, Path]
    programs: dict[int, Path]

    def start_party(self, pid: int) -> None:
        self.group.start(
            f"p{pid}",
            "party",
            "--config",
            str(self.path),
            "--id",
            str(pid),
            "--serve",
            "--inputs-dir",
            str(self.inputs[pid]),
            "--programs",
            str(self.programs[pid]),
        )

    def give(self, job: str, values: dict[int, int]) -> None:
        for pid, v in values.items():
            (self.inputs[pid] / f"{job}.json").write_text(json.dumps({"value": v}))

    def submit(self, raw: dict[str, Any], name: str = "analyst") -> dict[str, Any]:
        return asyncio.run(submit_job(self.cfg, name, parse_spec(raw, "test"), timeout=30))

    def stderr(self, name: str) -> str:
        return self.group.procs[name].stderr


def sum_job(job: str, recipients: tuple[str, ...] = ("recipient:analyst",)) -> dict[str, Any]:
    return {
        "job_id": job,
        "program": "protocols.apps:secure_sum_job",
        "inputs": [{"party": i, "name": "value", "min": 0, "max": 1000} for i in (1, 2, 3)],
        "outputs": [{"name": "total", "recipients": list(recipients)}],
    }


def wait_for(g: ProcGroup, name: str, text: str, timeout: float, count: int = 1) -> None:
    end = time.monotonic() + timeout
    while g.procs[name].stderr.count(text) < count:
        if time.monotonic() > end:
            raise AssertionError(f"{name} never said {text!r}:\n{g.describe()}")
        time.sleep(0.05)


@contextlib.contextmanager
def warm_cluster(tmp_path: Path, extra_recipients: tuple[str, ...] = ()) -> Iterator[Warm]:
    path, cfg = write_cluster(
        tmp_path, 3, preprocessing="ot", connect=CONNECT, round_timeout=ROUND, certs=False
    )
    if extra_recipients:
        with path.open("a") as fh:
            for r in extra_recipients:
                fh.write(f'\n[[recipients]]\nname = "{r}"\n')
        cfg = load_cluster(path)
    pki.ensure_cluster_certs(cfg)
    inputs = {p: tmp_path / f"inputs{p}" for p in (1, 2, 3)}
    programs = {p: tmp_path / f"programs{p}" for p in (1, 2, 3)}
    for d in (*inputs.values(), *programs.values()):
        d.mkdir()
    with proc_group(tmp_path / "logs") as g:
        warm = Warm(path, cfg, g, inputs, programs)
        g.start("coord", "coordinator", "--config", str(path), "--serve")
        for pid in (1, 2, 3):
            warm.start_party(pid)
        wait_for(g, "coord", "cluster up", CONNECT + 10)
        yield warm
        for p in g.procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        codes = g.wait_all(list(g.procs), time.monotonic() + 10)
        assert all(c is not None for c in codes.values()), g.describe()


def test_several_jobs_in_a_row_on_one_warm_cluster(tmp_path: Path) -> None:
    rng = random.Random(7)
    with warm_cluster(tmp_path) as w:
        expected = {}
        for k in range(3):
            values = {p: rng.randrange(0, 1001) for p in (1, 2, 3)}
            w.give(f"sum{k}", values)
            expected[f"sum{k}"] = sum(values.values())

        async def over_one_connection() -> list[int]:
            async with JobClient(w.cfg, "analyst") as client:
                return [
                    int((await client.submit(parse_spec(sum_job(f"sum{k}"), "t")))["total"])
                    for k in range(3)
                ]

        assert asyncio.run(over_one_connection()) == [expected[f"sum{k}"] for k in range(3)]
        w.give("fresh", {1: 1, 2: 20, 3: 300})
        assert int(w.submit(sum_job("fresh"))["total"]) == 321
        job_file = tmp_path / "cli.json"
        job_file.write_text(json.dumps(sum_job("cli")))
        w.give("cli", {1: 5, 2: 6, 3: 7})
        cli = subprocess.run(
            [sys.executable, "-m", "mpc_runtime.cli.main", "job", "submit"]
            + ["--config", str(w.path), "--job", str(job_file)],
            check=False,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout.strip() == "result total = 18"
        # The submitter has its result before the parties' Done reach the coordinator, which
        # then prints each job's summary: wait for the fifth.
        wait_for(w.group, "coord", "finished in", 10, count=5)
        coord = w.stderr("coord")
        assert coord.count("cluster up") == 1  # one mesh for every job
        assert coord.count("finished in") == 5
        for pid in (1, 2, 3):
            assert "result" not in w.group.procs[f"p{pid}"].stdout  # the sums went to analyst


def test_a_refused_job_names_the_party_and_the_cluster_serves_the_next(tmp_path: Path) -> None:
    with warm_cluster(tmp_path) as w:
        source = b"async def job(ctx):\n    return None\n"
        for pid in (1, 2, 3):
            body = source if pid != 3 else source + b"# another copy\n"
            (w.programs[pid] / "prog.py").write_bytes(body)
        differs = {
            "job_id": "differs",
            "program": "prog.py:job",
            "program_sha256": hashlib.sha256(source).hexdigest(),
        }
        t0 = time.monotonic()
        with pytest.raises(MPCError) as info:
            w.submit(differs)
        assert time.monotonic() - t0 < ROUND, "the others were not told at once"
        line = str(info.value)
        assert "refused" in line and "party:3" in line and "same code" in line, line
        assert "party:1" not in line and "party:2" not in line

        w.give("missing", {1: 1, 3: 3})  # party 2 has no input file for this job
        with pytest.raises(MPCError) as info:
            w.submit(sum_job("missing"))
        line = str(info.value)
        assert "party:2" in line and "no input file for job missing" in line, line
        assert info.value.blamed == "party:2"

        w.give("next", {1: 10, 2: 20, 3: 30})
        assert int(w.submit(sum_job("next"))["total"]) == 60
        with pytest.raises(MPCError, match="already used"):
            w.submit(sum_job("next"))
        contribution = {
            "job_id": "votes",
            "program": "protocols.contributions:sum_contributions",
            "outputs": [{"name": "total", "recipients": ["recipient:analyst"]}],
            "contributions": {"credentials": "certificates"},
        }
        with pytest.raises(MPCError, match="does not run contribution jobs"):
            w.submit(contribution)
        coord = w.stderr("coord")
        assert "job differs aborted: job differs refused: party:3" in coord
        assert "job missing aborted: job missing refused: party:2" in coord
        assert coord.count("cluster up") == 1
        assert "party 3: refused job differs" in w.stderr("p3")


def test_a_party_killed_mid_job_is_named_and_the_cluster_reforms(tmp_path: Path) -> None:
    with warm_cluster(tmp_path) as w:
        source = SLOW.encode()
        for pid in (1, 2, 3):
            (w.programs[pid] / "slow.py").write_bytes(source)
        slow = {
            "job_id": "slow",
            "program": "slow.py:job",
            "program_sha256": hashlib.sha256(source).hexdigest(),
            "outputs": [],
        }

        async def kill_mid_job() -> BaseException | None:
            task = asyncio.create_task(
                submit_job(w.cfg, "analyst", parse_spec(slow, "t"), timeout=30)
            )
            await asyncio.sleep(1.0)  # inside the program's sleep, after its first round
            w.group.kill("p2")
            try:
                await task
            except MPCError as err:
                return err
            return None

        t0 = time.monotonic()
        err = asyncio.run(kill_mid_job())
        assert isinstance(err, MPCError) and err.blamed == "party:2", err
        assert time.monotonic() - t0 < 1.0 + ROUND + 3
        for pid in (1, 3):
            wait_for(w.group, f"p{pid}", "party:2", ROUND + 2)
        assert "party:2 was lost" in w.stderr("coord")
        assert w.group.procs["coord"].poll() is None  # the service stays up

        w.start_party(2)  # back again: the cluster re-forms its mesh
        wait_for(w.group, "coord", "cluster up", CONNECT + 10, count=2)
        w.give("after", {1: 1, 2: 2, 3: 3})
        assert int(w.submit(sum_job("after"))["total"]) == 6


def test_an_output_only_reaches_its_named_recipient(tmp_path: Path) -> None:
    with warm_cluster(tmp_path, extra_recipients=("auditor",)) as w:
        w.give("to-p1", {1: 4, 2: 5, 3: 6})
        assert w.submit(sum_job("to-p1", ("party:1",))) == {}
        wait_for(w.group, "p1", "party 1 job to-p1", 5)
        assert "job to-p1: result total = 15" in w.group.procs["p1"].stdout
        for pid in (2, 3):
            assert "to-p1" not in w.group.procs[f"p{pid}"].stdout

        w.give("to-analyst", {1: 7, 2: 8, 3: 9})
        assert int(w.submit(sum_job("to-analyst"))["total"]) == 24
        for pid in (1, 2, 3):
            assert "to-analyst" not in w.group.procs[f"p{pid}"].stdout

        w.give("to-auditor", {1: 1, 2: 1, 3: 1})
        with pytest.raises(MPCError, match="only to the submitter"):
            w.submit(sum_job("to-auditor", ("recipient:auditor",)))  # analyst cannot get it
        assert int(w.submit(sum_job("to-auditor", ("recipient:auditor",)), "auditor")["total"]) == 3


def test_sigterm_stops_a_serving_party_and_its_peers_name_it(tmp_path: Path) -> None:
    with warm_cluster(tmp_path) as w:
        os.kill(w.group.procs["p3"].pid, signal.SIGTERM)
        codes = w.group.wait_all(["p3"], time.monotonic() + 10)
        assert codes["p3"] == 0, w.stderr("p3")
        assert "party 3: stopped after 0 jobs" in w.stderr("p3")
        wait_for(w.group, "coord", "party:3 left the cluster", 5)
        for pid in (1, 2):
            wait_for(w.group, f"p{pid}", "party:3 left the cluster", 5)
        w.give("without-3", {1: 1, 2: 2, 3: 3})
        t0 = time.monotonic()
        with pytest.raises(MPCError, match="party:3 not connected"):
            w.submit(sum_job("without-3"))
        assert time.monotonic() - t0 < CONNECT + 3
        os.kill(w.group.procs["coord"].pid, signal.SIGTERM)
        codes = w.group.wait_all(["coord", "p1", "p2"], time.monotonic() + 10)
        assert codes["coord"] == 0, w.stderr("coord")
        for pid in (1, 2):
            assert codes[f"p{pid}"] == 1
            assert "the coordinator left the cluster" in w.stderr(f"p{pid}")
