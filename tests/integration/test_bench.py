"""``mpc bench`` as a subprocess: real parties over TLS; rounds match the documented formulas.

Correctness, not speed: the sizes are small and nothing is timed against a target.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FIELDS = {
    "op",
    "parties",
    "size",
    "repeat",
    "latency_ms",
    "rounds",
    "expected_rounds",
    "messages_per_party",
    "online_bytes_per_party",
    "online_payload_bytes_per_party",
    "online_bytes_sent_by_party",
    "offline_bytes_per_party",
    "offline_bytes_by_party",
    "online_seconds",
    "online_seconds_min",
    "online_seconds_all",
    "offline_seconds",
    "elements_per_second",
    "latency_floor_seconds",
    "verified",
}
ROUNDS = {"mul": 1, "lt": 8}


def _bench(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "mpc_runtime.cli.main", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_mul_and_lt_report_documented_rounds() -> None:
    out = _bench("--op", "mul", "--op", "lt", "--parties", "3", "--size", "1000", "--repeat", "2")
    assert {"machine", "results"} <= set(out)
    rows = {r["op"]: r for r in out["results"]}
    assert set(rows) == {"mul", "lt"}
    for op, row in rows.items():
        assert FIELDS <= set(row), FIELDS - set(row)
        assert row["rounds"] == row["expected_rounds"] == ROUNDS[op]
        assert row["parties"] == 3 and row["size"] == 1000 and row["repeat"] == 2
        assert row["verified"] is True
        assert len(row["online_seconds_all"]) == 2
        assert len(row["online_bytes_sent_by_party"]) == 3
        # every party sends to each of the 2 others in every round
        assert row["messages_per_party"] == 2 * ROUNDS[op]
        assert row["online_payload_bytes_per_party"] > 0
        assert row["offline_bytes_per_party"] > 0
    # mul: each party opens d and e (2 x 8 bytes per element) to each of the 2 others
    assert rows["mul"]["online_payload_bytes_per_party"] == 2 * 8 * 1000 * 2
    from protocols.compare import lt_payload_bytes

    assert rows["lt"]["online_payload_bytes_per_party"] == lt_payload_bytes(1000, 3)


@pytest.mark.slow
def test_bench_json_carries_metadata_and_runs_every_size() -> None:
    out = _bench("--op", "mul", "--size", "100", "--size", "300", "--repeat", "2")
    meta = out["metadata"]
    assert {"commit", "date_utc", "machine", "cpu_model", "cores", "python", "numpy"} <= set(meta)
    assert "load_average_end" in meta and "cpus" in out["machine"]  # the old key stays
    rows = out["results"]
    assert [(r["op"], r["size"]) for r in rows] == [("mul", 100), ("mul", 300)]
    for r in rows:
        assert r["verified"] is True
        assert len(r["offline_seconds_all"]) == 2
        peaks, idles = r["peak_rss_bytes_by_party"], r["idle_rss_bytes_by_party"]
        assert len(peaks) == 3 and all(p >= i > 0 for p, i in zip(peaks, idles, strict=True))
        cpu = r["online_cpu_seconds_by_party"]
        assert len(cpu) == 3 and all(0 <= c <= 60 for c in cpu)
