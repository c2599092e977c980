"""The reveal policy, enforced at the source: a party sends its share of an output only to the
recipients the job names for that output.

Party recipients get the shares directly over the mesh (one round); external recipients (an
analyst that takes no part in the computation) get each party's share through an
:class:`ExternalSink` that seals it end to end, so whoever relays it cannot reconstruct it.
Any request to reveal an undeclared output, or to anyone the job does not name, raises
:class:`~mpc_runtime.errors.UnauthorizedReveal` before a single byte leaves the party.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import numpy as np

from mpc_runtime.errors import LocalProtocolError, UnauthorizedReveal
from mpc_runtime.ids import Identity, Role
from mpc_runtime.runtime.context import ArraySpec, Context


class ExternalSink(Protocol):
    """Delivers one party's output share to an external recipient, sealed to that recipient."""

    async def deliver(
        self, name: str, recipient: Identity, share: np.ndarray, meta: dict[str, Any]
    ) -> None: ...


AuditHook = Callable[[str, list[str]], None]


def decode_output(
    total: np.ndarray, frac_bits: int, signed: bool, divisor: int = 1
) -> np.ndarray:
    """Turn a reconstructed ring value into int64 (signed), uint64, or float64 (fixed point).

    A ``divisor`` other than 1 (a public count, as in an average) divides the decoded value at
    the recipient, giving float64.
    """
    if divisor != 1:
        return decode_output(total, frac_bits, signed) / float(divisor)
    if frac_bits:
        return total.view(np.int64).astype(np.float64) / float(1 << frac_bits)
    return total.view(np.int64).copy() if signed else total.copy()


class RevealPolicy:
    """Which recipients may receive which output; enforced in every party's own process."""

    def __init__(
        self,
        outputs: Mapping[str, Iterable[Identity]],
        *,
        external: ExternalSink | None = None,
        audit: AuditHook | None = None,
    ) -> None:
        self.outputs = {name: frozenset(rs) for name, rs in outputs.items()}
        self.external = external
        self.audit = audit

    def recipients(
        self, name: str, to: Iterable[str | Identity] | None = None
    ) -> frozenset[Identity]:
        """The recipients of ``name`` (optionally narrowed by ``to``); refuses anything else."""
        if name not in self.outputs:
            raise UnauthorizedReveal(f"output {name!r} is not declared by the job; reveal refused")
        allowed = self.outputs[name]
        if to is None:
            return allowed
        wanted = set()
        for r in to:
            try:
                wanted.add(r if isinstance(r, Identity) else Identity.from_label(str(r)))
            except ValueError:
                raise UnauthorizedReveal(f"reveal of {name!r} to {str(r)[:64]!r} refused") from None
        extra = wanted - allowed
        if extra:
            names = ", ".join(sorted(i.label for i in extra))
            raise UnauthorizedReveal(
                f"reveal of {name!r} to {names} refused: the job names only "
                f"{', '.join(sorted(i.label for i in allowed))}"
            )
        return frozenset(wanted)

    async def reveal(
        self,
        ctx: Context,
        name: str,
        shares: np.ndarray,
        *,
        to: Iterable[str | Identity] | None = None,
        frac_bits: int = 0,
        signed: bool = True,
        divisor: int = 1,
    ) -> np.ndarray | None:
        """Send our share of ``name`` to its recipients; return the value if we are one.

        ``divisor`` is a public integer the recipients divide the revealed value by (for an
        average: the sum is revealed, divided by the public count at each recipient).
        """
        if isinstance(divisor, bool) or not isinstance(divisor, int) or not 1 <= divisor < 2**31:
            raise LocalProtocolError("divisor must be an int in [1, 2**31)")
        rcpts = self.recipients(name, to)
        if not isinstance(shares, np.ndarray) or shares.dtype != np.uint64:
            raise LocalProtocolError("reveal needs a uint64 share array")
        party_rcpts = sorted(i.party_id for i in rcpts if i.role is Role.PARTY and i.party_id)
        external = sorted((i for i in rcpts if i.role is Role.RECIPIENT), key=lambda i: i.name)
        unknown = [p for p in party_rcpts if p not in ctx.parties]
        if unknown:
            raise UnauthorizedReveal(f"output {name!r} names party {unknown[0]}, not in this job")
        if external and self.external is None:
            raise UnauthorizedReveal(f"output {name!r} has external recipients but no relay")
        me = ctx.party_id
        value: np.ndarray | None = None
        if party_rcpts:
            outgoing = {p: shares for p in party_rcpts if p != me}
            expect_from = ctx.peers if me in party_rcpts else ()
            got = await ctx.exchange(outgoing, expect_from, expect=ArraySpec.like(shares))
            if me in party_rcpts:
                total = shares.copy()
                for v in got.values():
                    total += v
                value = decode_output(total, frac_bits, signed, divisor)
                ctx.outputs[name] = value
        meta = {
            "frac_bits": frac_bits,
            "signed": signed,
            "divisor": divisor,
            "shape": list(shares.shape),
        }
        sink = self.external
        for r in external:
            if sink is not None:
                await sink.deliver(name, r, shares, meta)
        if self.audit is not None:
            self.audit(name, sorted(i.label for i in rcpts))
        return value


def open_policy(parties: Iterable[int], names: Iterable[str]) -> RevealPolicy:
    """A policy revealing each named output to every party (handy for scripts and tests)."""
    everyone = [Identity.party(p) for p in parties]
    return RevealPolicy({n: everyone for n in names})
