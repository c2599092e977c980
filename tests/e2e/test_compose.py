"""The docker-compose deployment end to end with a real Docker engine (opt-in: ``-m docker``).

Runs ``scripts/compose-e2e.sh``: the second-price auction in containers, once with
``preprocessing = "ot"`` (no dealer anywhere) and once with a separate dealer service; only the
analyst prints the winner and the price, and no other service prints a result or a bid.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.docker
def test_compose_auction_with_ot_and_with_a_dealer() -> None:
    env = dict(os.environ, CI="true")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "compose-e2e.sh")],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert "E2E PASSED" in proc.stdout, tail
    assert "all checks passed (ot)" in proc.stdout and "all checks passed (dealer)" in proc.stdout
