"""Exact online rounds and bytes of circuit PSI, from the public plan (sizes, owners, outputs).

The numbers are what one party's ledger records online: every ``exchange`` is a round, and the
bytes are the payload bytes it sends (array bytes, before framing).  The tests compare them with
the ledger for n in {2, 3}; :mod:`protocols.psi.circuit` states the closed forms for equal
power-of-two sizes.

May import: ``protocols`` (compare, psi).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from protocols.compare import eq_payload_bytes, lt_payload_bytes
from protocols.psi.bits import low_bits_and_gates, words
from protocols.psi.circuit import intersection_owner
from protocols.psi.compact import compact_gates, offset_bits
from protocols.psi.hashing import KEY_BITS
from protocols.psi.merge import plan

__all__ = ["Cost", "circuit_cost", "reveal_cost"]


@dataclass
class Cost:
    """Online rounds and payload bytes one party sends."""

    rounds: int = 0
    bytes_sent: int = 0

    def add(self, rounds: int, nbytes: int) -> None:
        self.rounds += rounds
        self.bytes_sent += nbytes


def _and_round(gates: int, n: int) -> int:
    return (n - 1) * 16 * words(gates)


def circuit_cost(
    sizes: Mapping[int, int],
    n: int,
    me: int,
    *,
    want: Iterable[str] = ("cardinality",),
    payloads: Iterable[int] = (),
) -> Cost:
    """Online cost of :func:`protocols.psi.circuit.circuit_psi` for party ``me`` (no reveals)."""
    wanted = set(want)
    pay = sorted(set(payloads)) if "payload_sum" in wanted else []
    owners = sorted(sizes)
    q = intersection_owner(sizes) if "intersection" in wanted else None
    c = Cost()
    if me in owners:
        m = int(sizes[me])
        c.add(1, (n - 1) * 8 * m * (1 + (me in pay) + (me == q)))
    else:
        c.add(1, 0)
    tree = plan([int(sizes[p]) for p in owners])
    for p in tree.comparators():
        if p:
            c.add(9, lt_payload_bytes(p, n) + (n - 1) * 16 * p)
    k = len(owners)
    c.add(8, eq_payload_bytes(tree.total - k + 1, n))
    if not wanted & {"payload_sum", "intersection", "members"}:
        return c
    for p in tree.comparators():
        if p:
            c.add(1, _and_round(p, n))
    need = sorted(set(pay) | ({q} if q is not None else set()))
    if not need:
        return c
    c.add(1, (n - 1) * -(-sum(int(sizes[p]) for p in need) // 8))
    if "payload_sum" in wanted:
        c.add(1, (n - 1) * 16 * sum(int(sizes[p]) for p in pay))
    if q is not None:
        _compaction(c, int(sizes[q]), n)
    return c


def _compaction(c: Cost, m: int, n: int) -> None:
    kbits = offset_bits(m)
    c.add(1, (n - 1) * 8 * m)  # open c = o + r
    for g in low_bits_and_gates(kbits):
        c.add(1, _and_round(g * m, n))
    for g in compact_gates(m, KEY_BITS):
        c.add(1, _and_round(g, n))
    c.add(1, (n - 1) * -(-(m * (KEY_BITS + 1)) // 8))  # the final B2A


def reveal_cost(shape_size: int, recipients: Iterable[int], me: int) -> Cost:
    """One reveal to party recipients: 1 round, 8 bytes per element to each other recipient."""
    rs = sorted(set(recipients))
    if not rs:
        return Cost()
    return Cost(1, 8 * shape_size * len([r for r in rs if r != me]))
