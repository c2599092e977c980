"""The audit log records who was sent what output, never a value."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np

from mpc_runtime.ids import Identity
from mpc_runtime.jobs.audit import AuditLog
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.sharing.shared import Shared


def test_lines_and_mode(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    log = AuditLog(p)
    hook = log.hook("job-1", "ab" * 32, "party:2")
    hook("mean", ["party:1", "recipient:analyst"])
    hook("max", ["party:1"])
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    lines = [json.loads(x) for x in p.read_text().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert set(first) == {"time", "job", "spec_hash", "party", "event", "output", "recipients"}
    assert first["time"].endswith("+00:00")
    assert first["job"] == "job-1" and first["party"] == "party:2"
    assert first["event"] == "reveal" and first["output"] == "mean"
    assert first["recipients"] == ["party:1", "recipient:analyst"]


async def test_reveal_policy_audit_has_no_values(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    delivered: list[tuple[str, str]] = []

    class Sink:
        async def deliver(self, name, recipient, share, meta):  # type: ignore[no-untyped-def]
            delivered.append((name, recipient.label))

    policy = RevealPolicy(
        {"secret": [Identity.recipient("analyst")]},
        external=Sink(),
        audit=AuditLog(p).hook("j", "h", "party:1"),
    )
    value = 987654321123

    class Ctx:  # reveal only needs these for an external-only output
        parties = (1, 2)
        party_id = 1

    shared = Shared(np.array([value], dtype=np.uint64), 0, 0, 2**40)
    await policy.reveal(Ctx(), {}, "secret", shared)  # type: ignore[arg-type]
    assert delivered == [("secret", "recipient:analyst")]
    text = p.read_text()
    assert str(value) not in text and "secret" in text
