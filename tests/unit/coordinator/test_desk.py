"""The contribution desk: admission (credentials, one per credential, replace mode, window),
batching, and what the relay holds: sealed packets only."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mpc_runtime import pki
from mpc_runtime.coordinator.desk import ContributionDesk
from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.contrib import (
    cid_for_label,
    eligible_digest,
    make_contribution,
    make_tokens,
    open_packet,
)
from mpc_runtime.jobs.spec import JobSpec, spec_hash
from mpc_runtime.wire import Batch, Close, ControlOp

ANON = Identity(Role.CONTRIBUTOR, "anonymous")


def _parties() -> tuple[dict[str, Any], dict[str, Any]]:
    ca_key, ca_cert = pki.make_ca("t")
    certs, keys = {}, {}
    for p in (1, 2, 3):
        key = pki.generate_key()
        ident = Identity.party(p)
        certs[ident.label] = pki.issue(
            ca_key, ca_cert, ident, "t", key.public_key(), [], sealing=True
        )
        keys[ident.label] = key
    return certs, keys


CERTS, KEYS = _parties()
TOKENS, PUBLIC = make_tokens(6)


def _spec(**contrib: Any) -> JobSpec:
    c = {
        "shape": [2], "min": 0, "max": 100, "batch": 2, "max_count": 100,
        "eligible_file": "e.txt", "eligible_digest": eligible_digest(PUBLIC[:5]), **contrib,
    }  # fmt: skip
    return JobSpec.model_validate(
        {"job_id": "j", "program": "protocols.contributions:aggregate_job", "contributions": c}
    )


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, ControlOp]] = []

    async def __call__(self, ops: dict[str, ControlOp]) -> None:
        self.sent.append(ops)


def _desk(spec: JobSpec) -> tuple[ContributionDesk, Recorder]:
    rec = Recorder()
    desk = ContributionDesk(
        spec, spec_hash(spec), list(CERTS), frozenset(PUBLIC[:5]), send_all=rec, say=lambda m: None
    )
    return desk, rec


def _op(spec: JobSpec, value: list[int], token: bytes) -> Any:
    arr = np.array(value, dtype=np.uint64)
    return make_contribution(spec_hash(spec), "j", arr, sealing_certs=CERTS, token=token)


async def test_the_relay_holds_only_sealed_packets_and_batches_them() -> None:
    spec = _spec()
    desk, rec = _desk(spec)
    await desk.open()
    secret = [123456789, 987654321]
    for t in TOKENS[:3]:
        assert (await desk.submit(ANON, _op(spec, secret, t))).accepted
    await desk.close("test")
    batches = [ops for ops in rec.sent if isinstance(ops["party:1"], Batch)]
    assert [len(ops["party:1"].ids) for ops in batches] == [2, 1]
    assert isinstance(rec.sent[-1]["party:1"], Close) and rec.sent[-1]["party:1"].accepted == 3
    needle = np.array(secret, dtype=np.uint64).tobytes()
    for ops in batches:
        for label, batch in ops.items():
            for packet in batch.packets:
                assert needle not in packet and needle[:8] not in packet
                for other in KEYS:  # only its own party's sealing key opens a packet
                    if other != label:
                        with pytest.raises(Exception, match="does not open"):
                            open_packet(
                                KEYS[other], packet, job_id="j", spec_hash=spec_hash(spec),
                                cid=batch.ids[0], party=label, size=2,
                            )  # fmt: skip


async def test_one_contribution_per_credential_and_eligibility() -> None:
    spec = _spec()
    desk, _ = _desk(spec)
    await desk.open()
    assert (await desk.submit(ANON, _op(spec, [1, 2], TOKENS[0]))).accepted
    again = await desk.submit(ANON, _op(spec, [3, 4], TOKENS[0]))  # the token used twice
    assert not again.accepted and again.code == "used"
    outsider = await desk.submit(ANON, _op(spec, [1, 2], TOKENS[5]))  # not on the list
    assert not outsider.accepted and outsider.code == "not-eligible"
    forged = _op(spec, [1, 2], TOKENS[1])
    forged = type(forged)(
        forged.spec_hash, forged.cid, forged.public_key, b"\x30" * 70, forged.packets
    )
    assert (await desk.submit(ANON, forged)).code == "not-eligible"
    other_job = _op(_spec(max=99), [1, 2], TOKENS[2])
    assert (await desk.submit(ANON, other_job)).code == "spec-mismatch"
    missing = _op(spec, [1, 2], TOKENS[3])
    del missing.packets["party:3"]
    assert (await desk.submit(ANON, missing)).code == "bad-packet"
    await desk.close("test")
    assert (await desk.submit(ANON, _op(spec, [1, 2], TOKENS[4]))).code == "closed"
    assert desk.totals.accepted == 1 and desk.totals.refused == 6


async def test_replace_mode_keeps_the_latest_and_holds_until_close() -> None:
    spec = _spec(resubmission="replace")
    desk, rec = _desk(spec)
    await desk.open()
    first = _op(spec, [1, 1], TOKENS[0])
    second = _op(spec, [2, 2], TOKENS[0])
    assert (await desk.submit(ANON, first)).accepted and (await desk.submit(ANON, second)).accepted
    assert rec.sent == []  # held until the window closes
    await desk.close("test")
    (batch,) = [ops["party:1"] for ops in rec.sent if isinstance(ops["party:1"], Batch)]
    assert batch.packets == [second.packets["party:1"]]


async def test_certificates_and_early_arrivals() -> None:
    spec = _spec(credentials="certificates", eligible_file=None, eligible_digest=None, max_count=2)
    desk, rec = _desk(spec)
    alice = Identity(Role.CONTRIBUTOR, "alice")
    arr = np.array([1, 2], dtype=np.uint64)
    op = make_contribution(spec_hash(spec), "j", arr, sealing_certs=CERTS, label=alice.label)
    assert op.cid == cid_for_label("contributor:alice")
    assert (await desk.submit(ANON, op)).code == "not-eligible"  # no certificate
    assert (await desk.submit(alice, op)).accepted  # before the job started: held
    bob = Identity(Role.CONTRIBUTOR, "bob")
    bob_op = make_contribution(spec_hash(spec), "j", arr, sealing_certs=CERTS, label=bob.label)
    assert (await desk.submit(bob, bob_op)).accepted  # max_count: closes (pending until start)
    assert rec.sent == [] and desk.closed
    await desk.open()
    kinds = [type(ops["party:1"]).__name__ for ops in rec.sent]
    assert kinds == ["Batch", "Close"]
    assert rec.sent[0]["party:2"].credentials == ["contributor:alice", "contributor:bob"]


async def test_a_partial_batch_is_flushed_and_the_window_closes_when_quiet() -> None:
    spec = _spec(batch=10, quiet=0.3)
    desk, rec = _desk(spec)
    await desk.open()
    runner = asyncio.create_task(desk.run())
    assert (await desk.submit(ANON, _op(spec, [1, 2], TOKENS[0]))).accepted
    await asyncio.wait_for(desk.done.wait(), 5)
    await runner
    kinds = [type(ops["party:1"]).__name__ for ops in rec.sent]
    assert kinds == ["Batch", "Close"]
