"""DH PSI over X25519 against Python sets; the group arithmetic it relies on; its job program,
reveal policy and refusals; exact rounds and bytes."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError, UsageError
from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.memory import run_memory
from protocols.psi import dh, jobs
from protocols.psi.hashing import hash_identifiers

pytestmark = pytest.mark.dealer_only  # DH needs no preprocessing: one provider is enough
SALT = "dh-salt"


def _x25519(k: bytes, u: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))


def test_blinding_commutes_on_the_curve_and_on_its_twist() -> None:
    pts = dh.hash_to_points([b"i%d" % i for i in range(64)], b"salt")
    a, b = os.urandom(32), os.urandom(32)
    for u in pts:
        assert _x25519(a, _x25519(b, u)) == _x25519(b, _x25519(a, u))
    # u on the curve iff u^3 + A u^2 + u is a square mod p: both kinds occur among hashes
    p = 2**255 - 19
    kinds = {
        pow(x**3 + 486662 * x * x + x, (p - 1) // 2, p)
        for x in (int.from_bytes(u, "little") for u in pts)
    }
    assert kinds == {1, p - 1}


async def test_both_backends_agree_and_small_order_points_are_refused() -> None:
    pts = dh.hash_to_points([b"x", b"y", b"z"], b"salt")
    k = os.urandom(32)
    ours = await dh.multiply(k, pts)
    assert ours == [_x25519(k, u) for u in pts] == dh._mult_cryptography(k, pts)
    if dh.backend() == "pynacl":
        assert await dh.multiply(k, pts * 3000, workers=2) == ours * 3000
    with pytest.raises(RemoteProtocolError, match="small order"):
        await dh.multiply(k, [bytes(32)], peer="party:2")
    with pytest.raises(LocalProtocolError):
        await dh.multiply(k, [bytes(32)])


def _decls(m1: int, m2: int) -> list[InputDecl]:
    return [
        InputDecl(1, "ids", "int", (m1,), 0, -1, 2**62 - 1),
        InputDecl(2, "ids", "int", (m2,), 0, -1, 2**62 - 1),
    ]


async def _job(x: list[Any], y: list[Any], outs: list[str], receiver: int = 1, **kw: Any) -> Any:
    m1, m2 = kw.pop("sizes", (len(set(x)) + 2, len(set(y)) + 3))
    recipients = kw.pop("recipients", {o: [f"party:{receiver}"] for o in outs})
    return await run_memory(
        2,
        jobs.dh_psi_job,
        inputs=[{"ids": x}, {"ids": y}],
        params={"salt": SALT, "outputs": outs, "receiver": receiver, **kw},
        outputs=recipients,
        declared=_decls(m1, m2),
    )


CASES: dict[str, tuple[list[Any], list[Any]]] = {
    "empty": ([], ["a"]),
    "disjoint": (["a", "b"], ["c", "d", "e"]),
    "identical": (["a", "b", "c"], ["c", "b", "a"]),
    "duplicates": (["a", "a", "b", 7, 7], ["b", 7, 7, "q"]),
    "one": (["solo"], ["x", "solo"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("receiver", [1, 2])
async def test_intersection_and_cardinality_against_python_sets(case: str, receiver: int) -> None:
    x, y = CASES[case]
    runs = await _job(x, y, ["cardinality", "intersection"], receiver)
    common = set(x) & set(y)
    want = sorted(int(k) + 1 for k in hash_identifiers(sorted(common, key=str), SALT))
    out = runs[receiver - 1].outputs
    assert int(out["cardinality"]) == len(common)
    inter = out["intersection"]
    assert inter.shape == (min(len(set(x)) + 2, len(set(y)) + 3),)
    assert inter[: len(want)].tolist() == want and not inter[len(want) :].any()
    assert runs[2 - receiver].outputs == {}  # the sender learns nothing


async def test_random_sets_and_cardinality_only() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 400, size=300).tolist()
    y = rng.integers(0, 400, size=250).tolist()
    runs = await _job(x, y, ["cardinality"], recipients={"cardinality": ["party:1", "party:2"]})
    assert int(runs[0].outputs["cardinality"]) == len(set(x) & set(y))
    assert int(runs[1].outputs["cardinality"]) == len(set(x) & set(y))


async def test_rounds_and_bytes_match_the_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dh, "CHUNK", 16)
    x, y = [f"x{i}" for i in range(40)], [f"x{i}" for i in range(20, 70)]
    runs = await _job(x, y, ["cardinality"], sizes=(45, 60))
    c = dh.dh_cost(45, 60)
    r, s = (x.ledger.total(prefix="main/dh_psi#0") for x in runs)
    assert r.rounds == s.rounds == c["rounds"] == 8
    assert r.payload_bytes_sent == c["receiver_bytes"]
    assert s.payload_bytes_sent == c["sender_bytes"]
    assert int(runs[0].outputs["cardinality"]) == 20


async def test_refusals() -> None:
    with pytest.raises(UsageError, match="receiver"):
        jobs.check_dh(_decls(3, 3), {"salt": "s", "outputs": ["cardinality"]})
    with pytest.raises(UsageError, match="not one of"):
        jobs.check_dh(_decls(3, 3), {"salt": "s", "outputs": ["payload_sum"], "receiver": 1})
    with pytest.raises(UsageError, match="must name it as a recipient"):
        jobs.dh_psi_job.privacy(2, {"receiver": 1}, {"cardinality": ["party:2"]})
    notes = jobs.dh_psi_job.privacy(2, {"receiver": 1}, {"cardinality": ["party:1"]})
    assert any("computes every output" in n for n in notes)
    with pytest.raises(UsageError, match="threads"):
        jobs.check_dh(_decls(3, 3), {"salt": "s", "receiver": 1, "threads": 0})


def test_points_are_hashes_with_the_top_bit_cleared() -> None:
    (u,) = dh.hash_to_points([b"sabc"], b"k")
    base = hashlib.sha256(dh.DOMAIN + (1).to_bytes(4, "big") + b"k" + b"sabc").digest()
    assert u[:31] == base[:31] and u[31] == base[31] & 0x7F
    assert asyncio.iscoroutinefunction(dh.dh_psi)
