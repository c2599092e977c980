"""``mpc demo`` as a user runs it: right results, honest closing lines, clear refusals."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.procs import REPO


def _demo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpc_runtime.cli.main", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_two_engineers_are_told_they_can_compute_each_others_raise() -> None:
    r = _demo("salary", "--raises", "ana=100,bob=200")
    assert r.returncode == 0, r.stderr
    assert "average raise = 150.0" in r.stdout
    assert "each can compute the other's raise" in r.stdout
    assert "nobody learned anyone else's raise" not in r.stdout
    assert "1 online rounds" not in r.stdout  # plurals are right


def test_second_price_with_two_bidders_says_the_losing_bid_is_known() -> None:
    r = _demo("auction", "--second-price", "--bids", "zoë=120,émile=250")  # unicode names
    assert r.returncode == 0, r.stderr
    assert "winner: émile, pays the second-highest bid = 120" in r.stdout
    assert "the price is the losing bid" in r.stdout
    assert "losing bids stayed hidden" not in r.stdout


def test_an_input_outside_the_demo_bounds_is_refused_in_seconds() -> None:
    r = _demo("salary", "--raises", "alice=4611686018427387903,bob=4611686018427387903,carlos=1")
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(("mpc demo: error: alice:", "mpc demo: error: bob:")), r.stderr
    assert "declared bounds" in last
    assert "4611686018427387903" not in r.stderr  # never echoes the value
    assert "Traceback" not in r.stderr


def test_usage_errors_are_one_line() -> None:
    for args, text in (
        (("salary", "--input-file", "/nonexistent/raises.json"), "not found"),
        (("salary", "--raises", "a=1,b=2", "--input-file", "x.json"), "not both"),
        (("salary", "--timeout", "-1"), "--timeout"),
        (("vote", "--votes", "a=pink,b=red"), "not one of the options"),
    ):
        r = _demo(*args, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], (args, r.stderr)
