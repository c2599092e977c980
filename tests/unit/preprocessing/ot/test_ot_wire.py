"""What parties send: uniformly random bytes, and malformed messages named after their sender."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.preprocessing.ot import Exchanger, OTEngine

from ._ot_support import P_REJECT, WrapEx, bit_p, byte_p, run_engine


def _recording(logs: dict[int, list[tuple[str, int, Any]]]) -> Callable[[Any], Exchanger]:
    def wrap(ctx: Any) -> Exchanger:
        logs[ctx.party_id] = []
        return WrapEx(ctx, logs[ctx.party_id])

    return wrap


def _stage_arrays(log: list[tuple[str, int, Any]], path: str, stage: str) -> list[np.ndarray]:
    return [
        msg[stage]
        for p, _, msg in log
        if p == path and isinstance(msg, dict) and isinstance(msg.get(stage), np.ndarray)
    ]


@pytest.mark.parametrize("n", [2, 3])
async def test_sent_material_is_uniform(n: int) -> None:
    logs: dict[int, list[tuple[str, int, Any]]] = {}

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        await engine.triples(ex, 2000)
        await engine.and_triples(ex, 2000)
        await engine.edabits(ex, 1000)
        return None

    await run_engine(n, call, wrap=_recording(logs))
    for log in logs.values():
        u = np.concatenate(_stage_arrays(log, "/ot-triples", "0"))
        corr = np.concatenate(_stage_arrays(log, "/ot-triples", "1"))
        assert u.size == (n - 1) * 2000 * 128 and corr.size == (n - 1) * 2000 * 33
        cols = u.reshape(n - 1, 128, -1)
        assert byte_p(u) > P_REJECT and bit_p(u) > P_REJECT
        assert byte_p(cols[:, :8]) > P_REJECT and byte_p(cols[:, -8:]) > P_REJECT  # columns
        assert byte_p(corr) > P_REJECT and bit_p(corr) > P_REJECT
        assert byte_p(np.concatenate(_stage_arrays(log, "/ot-and", "0"))) > P_REJECT
    # edaBit corrections: all of them, from every sender
    eda = [
        a
        for log in logs.values()
        for s in range(1, n)
        for a in _stage_arrays(log, "/ot-edabits", str(s))
    ]
    assert len(eda) == n * (n - 1) // 2 and all(a.size == 1000 * 33 for a in eda)
    assert byte_p(np.concatenate(eda)) > P_REJECT and bit_p(np.concatenate(eda)) > P_REJECT
    if n == 3:  # AND corrections exist only from the third party on
        and_corr = [a for log in logs.values() for a in _stage_arrays(log, "/ot-and", "1")]
        assert and_corr and bit_p(np.concatenate(and_corr)) > P_REJECT


def _tamper(victim_of: int, change: Callable[[str, dict[int, Any]], dict[int, Any]]) -> Any:
    def wrap(ctx: Any) -> Exchanger:
        return WrapEx(ctx, mutate=change) if ctx.party_id == victim_of else ctx

    return wrap


def _set_stage(
    path: str, stage: str, value: Any
) -> Callable[[str, dict[int, Any]], dict[int, Any]]:
    def change(p: str, out: dict[int, Any]) -> dict[int, Any]:
        if p != path:
            return out
        new = {}
        for pid, msg in out.items():
            if isinstance(msg, dict) and stage in msg:
                new[pid] = {**msg, stage: value(msg[stage]) if callable(value) else value}
            else:
                new[pid] = msg
        return new

    return change


CASES: list[tuple[str, str, Callable[[str, dict[int, Any]], dict[int, Any]]]] = [
    ("triples", "u-dtype", _set_stage("/ot-triples", "0", lambda u: u.view(np.uint32))),
    ("triples", "u-short", _set_stage("/ot-triples", "0", lambda u: u[:-1])),
    ("triples", "u-type", _set_stage("/ot-triples", "0", b"not an array")),
    ("triples", "corr-2d", _set_stage("/ot-triples", "1", lambda d: d.reshape(-1, 33))),
    ("triples", "corr-float", _set_stage("/ot-triples", "1", lambda d: d.astype(np.float64))),
    ("triples", "not-dict", lambda p, out: {k: [1, 2] for k in out} if p == "/ot-triples" else out),
    (
        "triples",
        "extra-key",
        lambda p, out: {k: {**v, "9": 1} for k, v in out.items()} if p == "/ot-triples" else out,
    ),
    ("triples", "corr-missing", _set_stage("/ot-triples", "1", None)),
    (
        "triples",
        "base-A",
        lambda p, out: {k: b"\x04" + bytes(3) for k in out} if p == "/base-ot" else out,
    ),
    ("and", "u-dtype", _set_stage("/ot-and", "0", lambda u: u.astype(np.int64))),
    ("dabits", "unexpected", _set_stage("/ot-dabits", "0", np.zeros(3, dtype=np.uint64))),
    ("dabits", "corr-short", _set_stage("/ot-dabits", "1", lambda d: d[:5])),
]


@pytest.mark.parametrize(("kind", "name", "change"), CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
async def test_malformed_message_names_the_sender(
    kind: str, name: str, change: Callable[[str, dict[int, Any]], dict[int, Any]]
) -> None:
    # In the daBit fold party 1 sends the corrections and nothing at stage 0 (we make it send).
    bad = 1 if kind == "dabits" else 2

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        if kind == "triples":
            return await engine.triples(ex, 100)
        if kind == "and":
            return await engine.and_triples(ex, 100)
        return await engine.dabits(ex, 100)

    res = await run_engine(
        2, call, wrap=_tamper(bad, change), round_timeout=3, return_exceptions=True
    )
    victim = res[2 - bad]
    assert isinstance(victim, RemoteProtocolError), victim
    assert victim.peer == f"party:{bad}"


async def test_engine_refuses_work_after_a_failure() -> None:
    change = _set_stage("/ot-triples", "0", lambda u: u[:-1])
    seen: list[str] = []

    async def call(engine: OTEngine, ex: Exchanger) -> Any:
        try:
            await engine.triples(ex, 10)
        except RemoteProtocolError:
            with pytest.raises(LocalProtocolError):
                await engine.triples(ex, 10)
            seen.append(repr(engine))
            raise
        return None

    await run_engine(2, call, wrap=_tamper(2, change), round_timeout=2, return_exceptions=True)
    assert seen == ["OTEngine(broken)"]
