"""The circuit PSI job program: declared inputs, who learns what, and what it refuses."""

from __future__ import annotations

import pytest

from mpc_runtime.errors import BoundsError, InputError, SessionAborted, UsageError
from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.memory import run_memory
from protocols.psi import jobs
from protocols.psi.hashing import hash_identifiers

TOP = 2**62 - 1


def _decls(sizes: dict[int, int], pay: dict[int, tuple[int, int]] | None = None) -> list[InputDecl]:
    out = [InputDecl(p, "ids", "int", (m,), 0, -1, TOP) for p, m in sizes.items()]
    for p, (lo, hi) in (pay or {}).items():
        out.append(InputDecl(p, "payload", "int", (sizes[p],), 0, lo, hi))
    return out


async def test_each_output_goes_only_to_its_recipients() -> None:
    ids1 = [10, 11, 12, 13, -1, -1]  # integers as a party process gives them; -1: empty slots
    ids2 = [12, 13, 14, 99, 10, -1, -1]
    runs = await run_memory(
        2,
        jobs.circuit_psi_job,
        inputs=[{"ids": ids1}, {"ids": ids2, "payload": [5, 6, 7, 8, 9, 0, 0]}],
        params={"salt": "j", "outputs": ["cardinality", "payload_sum", "intersection"]},
        outputs={
            "cardinality": ["party:1", "party:2"],
            "payload_sum": ["party:2"],
            "intersection": ["party:1"],
        },
        declared=_decls({1: 6, 2: 7}, {2: (0, 100)}),
    )
    one, two = runs[0].outputs, runs[1].outputs
    assert int(one["cardinality"]) == int(two["cardinality"]) == 3
    assert "payload_sum" not in one and int(two["payload_sum"]) == 5 + 6 + 9
    assert "intersection" not in two
    want = sorted(int(k) + 1 for k in hash_identifiers([10, 12, 13], "j"))
    assert one["intersection"].tolist() == [*want, 0, 0, 0]


async def test_an_owner_with_too_many_identifiers_is_refused_before_sharing() -> None:
    runs = await run_memory(
        2,
        jobs.circuit_psi_job,
        inputs=[{"ids": ["a", "b", "c"]}, {"ids": ["a"]}],
        params={"salt": "j"},
        outputs={"cardinality": ["party:1"]},
        declared=_decls({1: 2, 2: 2}),
        return_exceptions=True,
    )
    assert isinstance(runs[0].error, InputError)
    assert isinstance(runs[1].error, SessionAborted)
    assert runs[1].ledger.total().bytes_sent == 0  # party 2 never got to send a share


@pytest.mark.dealer_only  # no rounds
def test_checks_before_the_job_starts() -> None:
    ok = {"salt": "s", "outputs": ["cardinality"]}
    jobs.check_circuit(_decls({1: 4, 2: 4}), ok)
    with pytest.raises(UsageError, match="at least two"):
        jobs.check_circuit(_decls({1: 4}), ok)
    with pytest.raises(UsageError, match="salt"):
        jobs.check_circuit(_decls({1: 4, 2: 4}), {"outputs": ["cardinality"]})
    with pytest.raises(UsageError, match="not one of"):
        jobs.check_circuit(_decls({1: 4, 2: 4}), {"salt": "s", "outputs": ["everything"]})
    with pytest.raises(UsageError, match="payload"):
        jobs.check_circuit(_decls({1: 4, 2: 4}), {"salt": "s", "outputs": ["payload_sum"]})
    with pytest.raises(BoundsError, match="collide"):
        jobs.check_circuit(_decls({1: 2**21, 2: 2**21}), ok)
    with pytest.raises(BoundsError, match="payload_sum"):
        jobs.check_circuit(
            _decls({1: 2**20, 2: 2**20}, {1: (0, 2**61), 2: (0, 2**61)}),
            {"salt": "s", "outputs": ["payload_sum"]},
        )
    bad = [InputDecl(1, "ids", "int", (4,), 0, -1, TOP), InputDecl(2, "ids", "int", (), 0, -1, 9)]
    with pytest.raises(UsageError, match="shape"):
        jobs.check_circuit(bad, ok)


@pytest.mark.dealer_only
def test_privacy_notes_name_who_learns_what() -> None:
    notes = jobs.circuit_psi_job.privacy(
        3, {}, {"cardinality": ["party:1", "party:2"], "intersection": ["recipient:bank"]}
    )
    text = " ".join(notes)
    assert "party:1, party:2 learn how many identifiers all the parties have in common" in text
    assert "recipient:bank learn the common identifiers" in text
    assert "sizes are public" in text
