"""The coordinator, the dealer and an external recipient over real TLS on loopback.

* all real processes: ``mpc coordinator`` + separate ``mpc dealer`` + ``mpc recipient`` + three
  ``mpc party`` processes run a comparison (which needs dealer material) for the analyst;
* the coordinator in this process with an observer recording every CONTROL body it handles:
  it only ever sees sealed blobs, never a share array; the recipient gets a fixed-point value;
* a participant holding a different spec is refused before the job starts;
* a sealed blob for a recipient the spec does not name is refused and the job aborted (exit 3);
* a party that vanishes mid-job makes everyone get an abort within 2 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.server import run_coordinator
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import MPCError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.relay import SealedRelay
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.recipient.receive import receive_outputs
from mpc_runtime.runtime.reveal import OutputMeta
from mpc_runtime.sharing.ring import encode_int
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.mesh import dial_service
from mpc_runtime.wire import (
    Accept,
    Control,
    ControlOp,
    Join,
    PeerAbort,
    Received,
    Sealed,
    Start,
)
from tests.helpers.cluster import write_cluster

REPO = Path(__file__).resolve().parents[2]


def _spec_file(tmp: Path, raw: dict[str, Any], name: str = "job.json") -> Path:
    p = tmp / name
    p.write_text(json.dumps(raw))
    return p


def _mpc(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MPC_DEBUG"}
    return subprocess.Popen(
        [sys.executable, "-m", "mpc_runtime.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def _wait(
    procs: dict[str, subprocess.Popen[str]], timeout: float
) -> dict[str, tuple[int, str, str]]:
    out = {}
    end = time.monotonic() + timeout
    for name, p in procs.items():
        try:
            so, se = p.communicate(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs.values():
                q.kill()
            raise
        out[name] = (p.returncode, so, se)
    return out


REFERENDUM = {
    "job_id": "ref-1",
    "program": "protocols.apps:referendum_job",
    "inputs": [{"party": i, "name": "vote", "min": 0, "max": 1} for i in (1, 2, 3)],
    "outputs": [{"name": "outcome", "recipients": ["recipient:analyst"]}],
}


def test_processes_with_separate_dealer(tmp_path: Path) -> None:
    cfg_path, _ = write_cluster(tmp_path, 3, dealer=True, connect=15.0, round_timeout=10.0)
    job = _spec_file(tmp_path, REFERENDUM)
    c = str(cfg_path)
    procs = {
        "coordinator": _mpc("coordinator", "--config", c, "--job", str(job), "--job-timeout", "40"),
        "dealer": _mpc("dealer", "--config", c),
        "recipient": _mpc(
            "recipient", "--config", c, "--name", "analyst", "--job", str(job), "--timeout", "40"
        ),
    }
    for pid, vote in ((1, 1), (2, 1), (3, 0)):
        procs[f"party{pid}"] = _mpc(
            "party", "--config", c, "--id", str(pid), "--job", str(job), "--input", str(vote)
        )
    res = _wait(procs, 50)
    for name, (rc, _so, se) in res.items():
        assert rc == 0, f"{name} exited {rc}: {se}"
    assert res["recipient"][1].strip() == "result outcome = 1"
    assert "job ref-1 finished" in res["coordinator"][2]
    assert "3/3 parties joined" in res["coordinator"][2]
    assert "job finished; served" in res["dealer"][2]
    for pid in (1, 2, 3):  # the parties learn nothing: the output is only the analyst's
        assert "result" not in res[f"party{pid}"][1]


def _has_array(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, dict):
        return any(_has_array(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_array(v) for v in value)
    return False


async def test_coordinator_only_sees_sealed_blobs(tmp_path: Path) -> None:
    cfg_path, cfg = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0)
    raw = {
        "job_id": "avg-fixed",
        "program": "protocols.apps:average_job",
        "inputs": [
            {"party": i, "name": "value", "kind": "fixed", "min": -1e6, "max": 1e6}
            for i in (1, 2, 3)
        ],
        "outputs": [{"name": "average", "recipients": ["recipient:analyst"]}],
    }
    spec = JobSpec.model_validate(raw)
    job = _spec_file(tmp_path, raw)
    seen: list[tuple[Identity, ControlOp]] = []
    coord = asyncio.create_task(
        run_coordinator(cfg, None, job_timeout=40, observer=lambda i, b: seen.append((i, b)))
    )
    procs = {
        f"party{pid}": await asyncio.to_thread(
            _mpc,
            "party",
            "--config",
            str(cfg_path),
            "--id",
            str(pid),
            "--job",
            str(job),
            "--input",
            v,
        )
        for pid, v in ((1, "1000.25"), (2, "2000.75"), (3, "170.5"))
    }
    values = await receive_outputs(cfg, "analyst", spec, timeout=40)
    assert await asyncio.wait_for(coord, 40) == 0
    res = await asyncio.to_thread(_wait, procs, 30)
    for name, (rc, _so, se) in res.items():
        assert rc == 0, f"{name} exited {rc}: {se}"
    # the analyst gets the average itself: the sum divided by the public count at the recipient
    assert float(values["average"]) == (1000.25 + 2000.75 + 170.5) / 3
    sealed = [op for _, op in seen if isinstance(op, Sealed)]
    assert len(sealed) == 3 and {op.recipient for op in sealed} == {"recipient:analyst"}
    assert any(i.label == "recipient:analyst" and isinstance(op, Received) for i, op in seen)
    for ident, op in seen:
        fields = {f: getattr(op, f) for f in op.__dataclass_fields__}  # type: ignore[attr-defined]
        assert not _has_array(fields), f"{ident.label} sent the coordinator an array: {op.op}"
        for key, value in fields.items():
            if isinstance(value, bytes) and value:  # only sealed blobs, signatures, run nonces
                assert (op.op, key) in {
                    ("sealed", "blob"),
                    ("sealed", "signature"),
                    ("join", "nonce"),
                }


# ---- in-process test participants speaking the control protocol ----------------------------


async def _connect(cfg: ClusterConfig, me: Identity) -> Channel:
    return await dial_service(cfg, me, cfg.coordinator, Identity.coordinator(), Deadline.after(10))


async def _next(ch: Channel, timeout: float = 10.0) -> ControlOp | PeerAbort:
    async with asyncio.timeout(timeout):
        event = await ch.next_event()
    if isinstance(event, PeerAbort):
        return event
    assert isinstance(event, Control), event
    return event.op


async def _join(cfg: ClusterConfig, pid: int, spec: JobSpec) -> Channel:
    ch = await _connect(cfg, Identity.party(pid))
    spec = resolve(spec, cfg)
    await ch.send_op(spec.job_id, Join(spec_hash(spec), spec.model_dump(mode="json")))
    return ch


SUM = {
    "job_id": "sum-1",
    "program": "protocols.apps:secure_sum_job",
    "inputs": [{"party": i, "name": "value"} for i in (1, 2, 3)],
    "outputs": [{"name": "total", "recipients": ["recipient:analyst"]}],
}


async def _joined_and_started(chans: dict[int, Channel]) -> None:
    for ch in chans.values():
        assert isinstance(await _next(ch), Accept)
    for ch in chans.values():
        assert isinstance(await _next(ch), Start)


def test_spec_mismatch_refused_before_start(tmp_path: Path) -> None:
    cfg_path, _ = write_cluster(tmp_path, 3, connect=10.0)
    ours = _spec_file(tmp_path, SUM, "ours.json")
    theirs = _spec_file(tmp_path, {**SUM, "params": {"x": 1}}, "theirs.json")
    c = str(cfg_path)
    procs = {
        "coordinator": _mpc("coordinator", "--config", c, "--job", str(ours)),
        "party2": _mpc("party", "--config", c, "--id", "2", "--job", str(theirs), "--input", "5"),
    }
    res = _wait(procs, 30)
    rc, _, err = res["party2"]
    assert rc == 1 and "different job spec" in err, err
    rc, _, err = res["coordinator"]
    assert rc == 1
    assert "party:2 holds a different job spec" in err
    assert "started" not in err and "lost" not in err


async def test_unauthorized_sealed_blob_aborts(tmp_path: Path) -> None:
    _, cfg = write_cluster(tmp_path, 3, connect=10.0)
    spec = JobSpec.model_validate(SUM)
    coord = asyncio.create_task(run_coordinator(cfg, spec, job_timeout=20))
    rcpt = asyncio.create_task(receive_outputs(cfg, "analyst", spec, timeout=20))
    chans = {pid: await _join(cfg, pid, spec) for pid in (1, 2, 3)}
    await _joined_and_started(chans)
    me = Identity.party(1)
    sent: list[Any] = []

    async def capture(op: Any) -> None:
        sent.append(op)

    relay = SealedRelay(
        capture,
        cfg,
        spec.job_id,
        spec_hash(resolve(spec, cfg)),
        me.label,
        signing_key=pki.load_key(cfg.key_path(me)),
        nonces={"recipient:analyst": b"\x01" * 16},
    )
    share = encode_int(np.array([5]))
    # the relay seals only to certified recipients; forge the label on an honest blob instead
    await relay.deliver("total", Identity.recipient("analyst"), share, OutputMeta())
    honest = sent[0]
    await chans[1].send_op(
        spec.job_id, Sealed(honest.output, "party:2", honest.blob, honest.signature)
    )
    t0 = time.monotonic()
    for pid in (2, 3):
        event = await _next(chans[pid], 5)
        assert isinstance(event, PeerAbort), event
        assert "does not name" in event.abort.reason and event.abort.culprit == "party:1"
    assert time.monotonic() - t0 < 2.0
    assert await asyncio.wait_for(coord, 5) == 3
    with pytest.raises(MPCError):
        await asyncio.wait_for(rcpt, 5)
    for ch in chans.values():
        ch.close()


async def test_lost_party_aborts_everyone_quickly(tmp_path: Path) -> None:
    _, cfg = write_cluster(tmp_path, 3, connect=10.0)
    spec = JobSpec.model_validate(SUM)
    coord = asyncio.create_task(run_coordinator(cfg, spec, job_timeout=20))
    rcpt = asyncio.create_task(receive_outputs(cfg, "analyst", spec, timeout=20))
    chans = {pid: await _join(cfg, pid, spec) for pid in (1, 2, 3)}
    await _joined_and_started(chans)
    chans[2].link.abort()  # type: ignore[attr-defined]  # like a killed process
    t0 = time.monotonic()
    for pid in (1, 3):
        event = await _next(chans[pid], 5)
        assert isinstance(event, PeerAbort) and event.abort.culprit == "party:2", event
    assert time.monotonic() - t0 < 2.0
    from mpc_runtime.errors import SessionAborted

    with pytest.raises(SessionAborted, match="party:2") as info:
        await asyncio.wait_for(rcpt, 5)
    assert info.value.culprit == "party:2"
    assert await asyncio.wait_for(coord, 5) == 1
    for ch in chans.values():
        ch.close()
