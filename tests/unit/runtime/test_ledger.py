"""The round and byte ledger: counts per (phase, op path), totals under a path, per-op sums.

``total(prefix=...)`` must count a path and its descendants but never a sibling that merely
shares a string prefix (``main/mul#1`` vs ``main/mul#10``); ``by_op`` groups by the first path
components with ``#k`` instance marks dropped; ``report`` and ``as_json`` show both phases.

May import: pytest, hypothesis, :mod:`mpc_runtime.runtime.ledger`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mpc_runtime.runtime.ledger import OFFLINE, ONLINE, Counts, Ledger


def c(rounds: int = 1, sent: int = 100, msgs: int = 2) -> Counts:
    return Counts(
        rounds=rounds,
        messages_sent=msgs,
        messages_received=msgs,
        bytes_sent=sent,
        bytes_received=sent + 1,
        payload_bytes_sent=sent // 2,
        payload_bytes_received=sent // 2,
        seconds=0.25,
    )


def sample() -> Ledger:
    led = Ledger()
    led.record(ONLINE, "main/mul#0", c(1, 100))
    led.record(ONLINE, "main/mul#0", c(1, 10))  # a second round on the same path
    led.record(ONLINE, "main/mul#1", c(2, 200))
    led.record(ONLINE, "main/mul#10", c(4, 400))
    led.record(ONLINE, "main/mul#1/open#0", c(8, 800))
    led.record(ONLINE, "main/cmp#0", c(16, 1600))
    led.record(OFFLINE, "main/mul#1/pre#0", c(32, 3200))
    return led


def test_counts_add_and_subtract_fieldwise() -> None:
    a, b = c(1, 100), c(2, 50, msgs=5)
    s = a + b
    assert (s.rounds, s.messages_sent, s.bytes_sent, s.bytes_received) == (3, 7, 150, 152)
    assert s.seconds == 0.5
    assert (s - b) == a
    assert Counts() + a == a
    assert set(a.as_dict()) == {
        "rounds",
        "messages_sent",
        "messages_received",
        "bytes_sent",
        "bytes_received",
        "payload_bytes_sent",
        "payload_bytes_received",
        "seconds",
    }


def test_records_on_one_path_accumulate() -> None:
    led = sample()
    t = led.total(prefix="main/mul#0")
    assert (t.rounds, t.bytes_sent, t.messages_sent) == (2, 110, 4)


def test_total_under_a_prefix_counts_descendants_not_string_siblings() -> None:
    led = sample()
    assert led.total(prefix="main/mul#1").rounds == 2 + 8
    assert led.total(prefix="main/mul#10").rounds == 4
    assert led.total(prefix="main").rounds == 1 + 1 + 2 + 4 + 8 + 16
    assert led.total(prefix="main/mu").rounds == 0
    assert led.total().rounds == 32  # online, everything


def test_total_by_phase() -> None:
    led = sample()
    assert led.total(OFFLINE).rounds == 32
    assert led.total(OFFLINE, prefix="main/mul#1").rounds == 32
    assert led.total(None, prefix="main/mul#1").rounds == 2 + 8 + 32
    assert led.total(None).bytes_sent == 100 + 10 + 200 + 400 + 800 + 1600 + 3200


def test_by_op_drops_instance_marks() -> None:
    led = sample()
    ops = led.by_op()
    assert set(ops) == {"main/mul", "main/cmp"}
    assert ops["main/mul"].rounds == 1 + 1 + 2 + 4 + 8
    assert ops["main/cmp"].rounds == 16
    deep = led.by_op(depth=3)
    assert deep["main/mul/open"].rounds == 8
    assert deep["main/mul"].rounds == 1 + 1 + 2 + 4
    assert led.by_op(OFFLINE) == {"main/mul": led.total(OFFLINE)}
    assert led.by_op(None)["main/mul"].rounds == 1 + 1 + 2 + 4 + 8 + 32


def test_paths_are_sorted_phase_path_pairs() -> None:
    led = sample()
    assert led.paths() == sorted(led.paths())
    assert (OFFLINE, "main/mul#1/pre#0") in led.paths()
    assert len(led.paths()) == 6


def test_report_has_a_row_per_op_and_phase_totals() -> None:
    lines = sample().report().splitlines()
    assert lines[0].split()[:3] == ["phase", "op", "rounds"]
    rows = {(ln.split()[0], ln.split()[1]): ln.split()[2:] for ln in lines[1:]}
    assert rows[(ONLINE, "main/mul")][:3] == [str(16), str(2 * 5), str(100 + 10 + 200 + 400 + 800)]
    assert rows[(ONLINE, "TOTAL")][0] == str(32)
    assert rows[(OFFLINE, "TOTAL")][0] == str(32)
    assert rows[(OFFLINE, "main/mul")][0] == str(32)
    assert len(lines) == 1 + 3 + 2


def test_empty_ledger() -> None:
    led = Ledger()
    assert led.total() == Counts()
    assert led.by_op() == {}
    assert len(led.report().splitlines()) == 3
    js = led.as_json()
    assert js[ONLINE] == {"total": Counts().as_dict(), "ops": {}}


def test_as_json_matches_totals() -> None:
    led = sample()
    js: dict[str, Any] = led.as_json()
    assert js[ONLINE]["total"] == led.total(ONLINE).as_dict()
    assert js[OFFLINE]["ops"] == {"main/mul": led.total(OFFLINE).as_dict()}


_paths = st.lists(st.sampled_from(["a#0", "a#1", "b#0", "a#10"]), min_size=1, max_size=3).map(
    lambda parts: "main/" + "/".join(parts)
)


@given(st.lists(st.tuples(st.sampled_from([ONLINE, OFFLINE]), _paths, st.integers(0, 50))))
def test_property_totals_partition(records: list[tuple[str, str, int]]) -> None:
    """The total over everything equals the sum of the per-op rows and of the phase totals."""
    led = Ledger()
    for phase, path, n in records:
        led.record(phase, path, Counts(rounds=n, bytes_sent=3 * n))
    everything = sum(n for _, _, n in records)
    assert led.total(None).rounds == everything
    assert led.total(ONLINE).rounds + led.total(OFFLINE).rounds == everything
    for phase in (ONLINE, OFFLINE):
        assert sum(x.rounds for x in led.by_op(phase, depth=2).values()) == led.total(phase).rounds
        children = {"/".join(p.split("/")[:2]) for ph, p, _ in records if ph == phase}
        assert sum(led.total(phase, prefix=ch).rounds for ch in children) == led.total(phase).rounds
