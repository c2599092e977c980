"""The privacy ledger: sequential composition per dataset and recipient, refusal of overspend
across restarts, refunds, and a hash chain that exposes edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpc_runtime.config import BudgetConfig
from mpc_runtime.errors import ConfigError, UsageError
from mpc_runtime.jobs.spec import JobSpec
from mpc_runtime.node.budget import BudgetExceeded, Charge, Ledger, job_charges

BUDGET = BudgetConfig(dataset="salaries", epsilon=3.0)


def _charge(ledger: Ledger, job: str, eps: float, who: str = "recipient:analyst") -> dict:
    return ledger.charge(job, "h" * 64, BUDGET, [Charge(who, eps, 0.0, ("avg",))])


def test_overspend_is_refused_even_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / "party-1.jsonl"
    _charge(Ledger(path), "j1", 1.0)
    _charge(Ledger(path), "j2", 1.5)  # a new Ledger object: as after a restart
    with pytest.raises(BudgetExceeded, match="spent epsilon 2.5 of 3; this job asks 1"):
        _charge(Ledger(path), "j3", 1.0)
    assert _charge(Ledger(path), "j4", 0.5)["recipient:analyst"] == (3.0, 0.0)
    _charge(Ledger(path), "j5", 2.0, who="recipient:other")  # each recipient has its own budget
    assert path.stat().st_mode & 0o777 == 0o600


def test_refunds_and_reused_job_ids(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl")
    _charge(ledger, "j1", 2.0)
    ledger.refund("j1", "h" * 64, "salaries")
    assert Ledger.spent(ledger.entries(), "salaries") == {}
    with pytest.raises(UsageError, match="already charged"):
        _charge(ledger, "j1", 1.0)


def test_an_edited_ledger_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    _charge(Ledger(path), "j1", 1.0)
    _charge(Ledger(path), "j2", 1.0)
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["epsilon"] = 0.0  # someone lowers what was spent
    path.write_text(
        json.dumps(first, sort_keys=True, separators=(",", ":")) + "\n" + lines[1] + "\n"
    )
    with pytest.raises(ConfigError, match="chain breaks at line 2"):
        Ledger(path).entries()
    path.write_text(lines[1] + "\n")  # or drops the first entry
    with pytest.raises(ConfigError, match="chain breaks at line 1"):
        Ledger(path).entries()


def test_job_charges_sum_per_recipient() -> None:
    spec = JobSpec.model_validate({
        "job_id": "j", "program": "protocols.apps:average_job", "dataset": "salaries",
        "outputs": [
            {"name": "a", "recipients": ["party:1", "recipient:x"],
             "noise": {"mechanism": "laplace", "epsilon": 0.5}},
            {"name": "b", "recipients": ["recipient:x"],
             "noise": {"mechanism": "binomial", "epsilon": 0.25, "delta": 1e-6}},
        ],
    })  # fmt: skip
    charges = {c.recipient: c for c in job_charges(spec)}
    assert charges["recipient:x"].epsilon == pytest.approx(0.75)
    assert charges["recipient:x"].delta == pytest.approx(1e-6)
    assert charges["party:1"].outputs == ("a",)
