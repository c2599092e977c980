"""The contributor and differential-privacy demos as a user runs them (small sizes): each checks
its own result against numpy and exits 0; the closing lines say what was checked and spent."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.procs import REPO


def _demo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpc_runtime.cli.main", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_vote_of_contributors_with_cheaters() -> None:
    r = _demo("vote", "--voters", "300", "--options", "3", "--invalid", "7")
    assert r.returncode == 0, r.stderr
    assert "the tally equals numpy's over the valid ballots" in r.stdout
    assert "counted 293, invalid 7" in r.stdout


def test_second_price_auction_of_contributors() -> None:
    r = _demo("auction", "--bidders", "60", "--second-price", "--invalid", "3")
    assert r.returncode == 0, r.stderr
    assert "the price equals numpy's over the valid bids" in r.stdout
    assert "counted 57, invalid 3" in r.stdout


def test_federated_sum_with_dropouts_is_exact() -> None:
    r = _demo("fl", "--clients", "40", "--dim", "2000", "--dropout", "0.1", "--invalid", "2")
    assert r.returncode == 0, r.stderr
    assert "largest difference from numpy's over the same updates: 0" in r.stdout
    assert "dropped mid-upload 4" in r.stdout


def test_dp_poll_salary_and_approval() -> None:
    r = _demo("poll", "--respondents", "400", "--true-fraction", "0.5")
    assert r.returncode == 0, r.stderr
    assert "epsilon = ln 3" in r.stdout and "1.09861 of 3 spent" in r.stdout
    r = _demo("salary", "--epsilon", "1")
    assert r.returncode == 0, r.stderr
    assert "differentially private average raise" in r.stdout
    assert "3171.5" not in r.stdout  # the exact average is never printed
    r = _demo("approval", "--voters", "60", "--candidates", "128", "--epsilon", "1")
    assert r.returncode == 0, r.stderr
    assert "winner by report-noisy-max over 128 candidates" in r.stdout


def test_demos_run_with_a_separate_dealer() -> None:
    """``--preprocessing dealer`` starts a dealer process for the contributor and DP demos too."""
    r = _demo(
        "vote", "--voters", "50", "--options", "3", "--invalid", "2", "--preprocessing", "dealer"
    )
    assert r.returncode == 0, r.stderr
    assert "counted 48, invalid 2" in r.stdout
    r = _demo("approval", "--voters", "60", "--candidates", "128", "--preprocessing", "dealer")
    assert r.returncode == 0, r.stderr
    assert "winner by report-noisy-max over 128 candidates" in r.stdout
