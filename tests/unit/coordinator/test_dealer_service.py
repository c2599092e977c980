"""The dealer service handler: replies, errors, budget, and material that reconstructs."""

from __future__ import annotations

import numpy as np

from mpc_runtime.coordinator import dealer_service
from mpc_runtime.coordinator.dealer_service import DealerService
from mpc_runtime.preprocessing.state import components_to_wire
from mpc_runtime.sharing.dealer import Component, expand


def _req(rid: int, comps: list[Component], path: str = "main/mul#0") -> dict:
    return {
        "svc": "dealer",
        "op": "material",
        "rid": rid,
        "path": path,
        "components": components_to_wire(comps),
    }


async def test_triples_reconstruct() -> None:
    svc = DealerService([1, 2, 3])
    comps = [Component("triple", (4,))]
    mats = []
    for idx, pid in enumerate((1, 2, 3)):
        reply = await svc.handle("job", pid, _req(7, comps))
        assert reply["op"] == "material" and reply["rid"] == 7
        assert isinstance(reply["seed"], bytes)
        assert (reply["corrections"] is not None) == (idx == 0)
        mats.append(expand(comps, reply["seed"], idx, reply["corrections"])[0])
    a = sum(m["a"] for m in mats)
    b = sum(m["b"] for m in mats)
    c = sum(m["c"] for m in mats)
    assert np.array_equal(a * b, c)


async def test_big_requests_run_in_a_thread(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(dealer_service, "THREAD_THRESHOLD", 10)
    called = []
    real = dealer_service.asyncio.to_thread

    async def spy(fn, *a):  # type: ignore[no-untyped-def]
        called.append(fn)
        return await real(fn, *a)

    monkeypatch.setattr(dealer_service.asyncio, "to_thread", spy)
    svc = DealerService([1, 2])
    reply = await svc.handle("job", 1, _req(1, [Component("triple", (100,))]))
    assert reply["op"] == "material" and called


async def test_errors() -> None:
    svc = DealerService([1, 2], budget=10)
    r = await svc.handle("job", 1, _req(1, [Component("triple", (11,))]))
    assert r["op"] == "error" and r["code"] == "PreprocessingExhausted" and r["rid"] == 1
    r = await svc.handle("job", 1, {**_req(2, [Component("triple", (1,))]), "components": "x"})
    assert r["code"] == "RemoteProtocolError" and r["rid"] == 2
    r = await svc.handle("job", 1, {"svc": "dealer", "op": "material", "path": "p"})
    assert r["op"] == "error" and r["rid"] is None
    r = await svc.handle("job", 9, _req(3, [Component("triple", (1,))]))
    assert r["code"] == "RemoteProtocolError"
    ok = await svc.handle("job", 1, _req(4, [Component("triple", (1,))], path="p"))
    assert ok["op"] == "material"
    twice = await svc.handle("job", 1, _req(5, [Component("triple", (1,))], path="p"))
    assert twice["code"] == "RemoteProtocolError" and "twice" in twice["reason"]
    other = await svc.handle("job", 2, _req(6, [Component("triple", (2,))], path="p"))
    assert other["code"] == "RemoteProtocolError"
