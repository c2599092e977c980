"""The dealer service handler: replies, errors, budget, and material that reconstructs."""

from __future__ import annotations

import numpy as np

from mpc_runtime.preprocessing.dealer import service as dealer_service
from mpc_runtime.preprocessing.dealer.algebra import expand
from mpc_runtime.preprocessing.dealer.service import DealerService
from mpc_runtime.preprocessing.requests import Component, components_to_wire
from mpc_runtime.wire import Material, MaterialError, MaterialReply


def _req(rid: int, comps: list[Component], path: str = "main/mul#0") -> Material:
    return Material(rid, path, components_to_wire(comps))


async def test_triples_reconstruct() -> None:
    svc = DealerService([1, 2, 3])
    comps = [Component("triple", (4,))]
    mats = []
    for idx, pid in enumerate((1, 2, 3)):
        reply = await svc.handle("job", pid, _req(7, comps))
        assert isinstance(reply, MaterialReply) and reply.rid == 7
        assert isinstance(reply.seed, bytes)
        assert (reply.corrections is not None) == (idx == 0)
        mats.append(expand(comps, reply.seed, idx, reply.corrections)[0])
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
    assert isinstance(reply, MaterialReply) and called


async def test_errors() -> None:
    svc = DealerService([1, 2], budget=10)
    r = await svc.handle("job", 1, _req(1, [Component("triple", (11,))]))
    assert isinstance(r, MaterialError) and r.code == "PreprocessingExhausted" and r.rid == 1
    r = await svc.handle("job", 1, Material(2, "main/x", "x"))  # type: ignore[arg-type]
    assert isinstance(r, MaterialError) and r.code == "RemoteProtocolError" and r.rid == 2
    r = await svc.handle("job", 9, _req(3, [Component("triple", (1,))]))
    assert isinstance(r, MaterialError) and r.code == "RemoteProtocolError"
    ok = await svc.handle("job", 1, _req(4, [Component("triple", (1,))], path="p"))
    assert isinstance(ok, MaterialReply)
    twice = await svc.handle("job", 1, _req(5, [Component("triple", (1,))], path="p"))
    assert isinstance(twice, MaterialError) and "twice" in twice.reason
    other = await svc.handle("job", 2, _req(6, [Component("triple", (2,))], path="p"))
    assert isinstance(other, MaterialError) and other.code == "RemoteProtocolError"
    empty = await svc.handle(
        "job", 1, Material(7, "", components_to_wire([Component("triple", (1,))]))
    )
    assert isinstance(empty, MaterialError)
