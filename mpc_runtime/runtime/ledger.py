"""The round and byte ledger: what every operation cost, counted where it happens.

One *round* is one ``exchange`` in which a party sends and then waits.  The ledger keys counts by
phase (``online`` for the computation, ``offline`` for dealer preprocessing) and by the op path of
the context that exchanged, so a protocol's cost is read off the paths under its scope.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields

ONLINE = "online"
OFFLINE = "offline"


@dataclass
class Counts:
    """Costs of one or more rounds, as seen by one party."""

    rounds: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    payload_bytes_sent: int = 0
    payload_bytes_received: int = 0
    seconds: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _matches(path: str, prefix: str | None) -> bool:
    if prefix is None:
        return True
    return path == prefix or path.startswith(prefix + "/")


def _base(component: str) -> str:
    return component.split("#", 1)[0]


class Ledger:
    """Counts per (phase, op path); aggregated on request."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str], Counts] = defaultdict(Counts)

    def record(self, phase: str, path: str, counts: Counts) -> None:
        self._by[(phase, path)] = self._by[(phase, path)] + counts

    def total(self, phase: str | None = ONLINE, prefix: str | None = None) -> Counts:
        """Sum over paths under ``prefix`` (a full path) in ``phase`` (None: every phase)."""
        out = Counts()
        for (ph, path), c in self._by.items():
            if (phase is None or ph == phase) and _matches(path, prefix):
                out = out + c
        return out

    def by_op(self, phase: str | None = ONLINE, depth: int = 2) -> dict[str, Counts]:
        """Sum per op name: the first ``depth`` path components, ``#k`` instance marks dropped."""
        out: dict[str, Counts] = defaultdict(Counts)
        for (ph, path), c in self._by.items():
            if phase is not None and ph != phase:
                continue
            parts = path.split("/")[:depth]
            key = "/".join(_base(p) for p in parts)
            out[key] = out[key] + c
        return dict(out)

    def paths(self) -> list[tuple[str, str]]:
        return sorted(self._by)

    def report(self, depth: int = 2) -> str:
        """A small table of rounds, messages and bytes per op and phase."""
        lines = [
            f"{'phase':<8} {'op':<28} {'rounds':>6} {'msgs':>6} {'bytes sent':>12}"
            f" {'bytes recv':>12} {'seconds':>8}"
        ]
        for phase in (ONLINE, OFFLINE):
            for op, c in sorted(self.by_op(phase, depth).items()):
                lines.append(
                    f"{phase:<8} {op:<28} {c.rounds:>6} {c.messages_sent:>6} {c.bytes_sent:>12}"
                    f" {c.bytes_received:>12} {c.seconds:>8.3f}"
                )
        for phase in (ONLINE, OFFLINE):
            t = self.total(phase)
            lines.append(
                f"{phase:<8} {'TOTAL':<28} {t.rounds:>6} {t.messages_sent:>6} {t.bytes_sent:>12}"
                f" {t.bytes_received:>12} {t.seconds:>8.3f}"
            )
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        return {
            phase: {
                "total": self.total(phase).as_dict(),
                "ops": {op: c.as_dict() for op, c in self.by_op(phase).items()},
            }
            for phase in (ONLINE, OFFLINE)
        }
