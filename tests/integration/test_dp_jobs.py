"""Differentially private jobs over real processes: the same inputs give different releases,
every party's ledger refuses the job that would overspend the dataset's budget (with one line
naming the dataset), and `mpc budget show` reads what was spent."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.helpers.cluster import write_cluster
from tests.helpers.procs import proc_group

LIMIT = 40.0
JOB = """
job_id = "{job}"
program = "protocols.apps:secure_sum_job"
dataset = "salaries"

[[inputs]]
party = 1
name = "value"
min = 0
max = 100
[[inputs]]
party = 2
name = "value"
min = 0
max = 100
[[inputs]]
party = 3
name = "value"
min = 0
max = 100

[[outputs]]
name = "total"
recipients = ["party:1"]
noise = {{ mechanism = "laplace", epsilon = 1.0 }}
"""


def _run(tmp_path: Path, cfg: Path, job: str) -> tuple[dict[str, int], dict[str, str]]:
    spec = tmp_path / f"{job}.toml"
    spec.write_text(JOB.format(job=job))
    logs = tmp_path / f"logs-{job}"
    logs.mkdir()
    with proc_group(logs) as g:
        g.start("coord", "coordinator", "--config", str(cfg), "--job", str(spec))
        for pid, v in ((1, 30), (2, 40), (3, 50)):
            g.start(f"p{pid}", "party", "--config", str(cfg), "--id", str(pid), "--job",
                    str(spec), "--input", str(v), "--json")  # fmt: skip
        codes = g.wait_all(["coord", "p1", "p2", "p3"], time.monotonic() + LIMIT)
        out = {n: g.procs[n].stdout + g.procs[n].stderr for n in ("coord", "p1", "p2", "p3")}
    return {n: int(c) for n, c in codes.items() if c is not None}, out


def test_releases_vary_and_the_budget_refuses_overspend(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0)
    with cfg.open("a") as fh:
        fh.write('\n[privacy]\nledger_dir = "ledger"\n\n[[privacy.budgets]]\n'
                 'dataset = "salaries"\nepsilon = 2.0\n')  # fmt: skip
    totals = []
    for job in ("sum-1", "sum-2"):
        codes, out = _run(tmp_path, cfg, job)
        assert set(codes.values()) == {0}, out
        report = json.loads([x for x in out["p1"].splitlines() if x.startswith("{")][-1])
        totals.append(report["outputs"]["total"])
        assert any("epsilon 1" in line for line in report["privacy"])
        assert (
            "total"
            not in json.loads([x for x in out["p2"].splitlines() if x.startswith("{")][-1])[
                "outputs"
            ]
        )
    assert any(t != 120 for t in totals)  # noise of scale 100: not the exact sum (both: ~1e-5)
    codes, out = _run(tmp_path, cfg, "sum-3")
    assert codes["p1"] == 2 and codes["coord"] != 0, out
    line = [x for x in out["p1"].splitlines() if "error" in x]
    assert len(line) == 1 and "salaries" in line[0] and "spent epsilon 2 of 2" in line[0]
    (tmp_path / "logs-show").mkdir()
    with proc_group(tmp_path / "logs-show") as g:
        g.start("show", "budget", "show", "--config", str(cfg), "--id", "2", "--json")
        assert g.wait_all(["show"], time.monotonic() + 20)["show"] == 0
        rows = json.loads(g.procs["show"].stdout)["rows"]
    assert rows == [{
        "party": 2, "dataset": "salaries", "recipient": "party:1", "epsilon_spent": 2.0,
        "delta_spent": 0.0, "epsilon_budget": 2.0, "epsilon_remaining": 0.0, "jobs": 2,
    }]  # fmt: skip
