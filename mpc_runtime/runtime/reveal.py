"""The reveal policy: each output goes only to the recipients the job names, at most once.

Party recipients get every other party's share of the output in one round and reconstruct it
locally; external recipients (an analyst that takes no part in the computation) get each party's
share through an :class:`ExternalSink` that seals and signs it end to end, so whoever relays it can
neither read nor forge it.  Any request to reveal an undeclared output, an output a second time, or
to anyone the job does not name raises :class:`~mpc_runtime.errors.UnauthorizedReveal` before a
single byte leaves the party.

An output the job declares with differential-privacy noise (:mod:`.dp`) gets each party's noise
share added to its share before anything is sent: a program cannot forget it.  Mechanisms a
program applies itself (report-noisy-max, randomized response) must say so (``noised=True``); a
reveal of such an output without it is refused.  Every noisy release is recorded in
``releases`` (what was spent).

A revealed value is decoded from the :class:`~mpc_runtime.sharing.shared.Shared` it came from:
fixed point becomes ``float64``, integers ``int64``, and a public divisor (an average's count)
divides at the recipient.  The value's public bounds must fit the signed decoding, so a wrapped
value can never be printed as if it were right.

May import: numpy, errors, ids, sharing, runtime.arrays, runtime.dp.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from mpc_runtime.errors import LocalProtocolError, UnauthorizedReveal, UsageError
from mpc_runtime.ids import Identity, Role
from mpc_runtime.runtime.arrays import ArraySpec
from mpc_runtime.runtime.dp import PROGRAM_MECHANISMS, Calibration, NoiseDecl, add_noise
from mpc_runtime.sharing.shared import Shared, require_range

__all__ = ["ExternalSink", "OutputMeta", "RevealPolicy", "decode_output", "open_policy"]


@dataclass(frozen=True)
class OutputMeta:
    """How recipients decode an output: fixed-point bits and a public divisor."""

    frac_bits: int = 0
    divisor: int = 1
    shape: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "frac_bits": self.frac_bits,
            "signed": True,
            "divisor": self.divisor,
            "shape": list(self.shape),
        }


class ExternalSink(Protocol):
    """Delivers one party's output share to an external recipient, sealed to that recipient."""

    async def deliver(
        self, name: str, recipient: Identity, share: np.ndarray[Any, Any], meta: OutputMeta
    ) -> None: ...


class RevealExchange(Protocol):
    """The part of a context a reveal uses (one round)."""

    @property
    def party_id(self) -> int: ...

    @property
    def parties(self) -> tuple[int, ...]: ...

    @property
    def peers(self) -> tuple[int, ...]: ...

    async def exchange(
        self,
        outgoing: Mapping[int, Any],
        expect_from: Iterable[int] | None = None,
        *,
        expect: ArraySpec | None = None,
    ) -> dict[int, Any]: ...


AuditHook = Callable[[str, list[str]], None]


def decode_output(
    total: np.ndarray[Any, Any], frac_bits: int, divisor: int = 1
) -> np.ndarray[Any, Any]:
    """A reconstructed ring value as int64, or float64 (fixed point or a divisor other than 1).

    Division is correctly rounded even where the integer exceeds 2^53 (Python int division).
    """
    signed = total.view(np.int64)
    if divisor == 1 and not frac_bits:
        return signed.copy()
    denom = divisor << frac_bits
    if bool(np.any((signed >= 2**53) | (signed <= -(2**53)))):
        exact = [int(v) / denom for v in signed.reshape(-1).tolist()]  # rare: huge values
        return np.array(exact, dtype=np.float64).reshape(signed.shape)
    return signed.astype(np.float64) / float(denom)


class RevealPolicy:
    """Which recipients may receive which output; enforced in every party's own process."""

    def __init__(
        self,
        outputs: Mapping[str, Iterable[Identity]],
        *,
        external: ExternalSink | None = None,
        audit: AuditHook | None = None,
        allow_open: bool = False,
        noise: Mapping[str, NoiseDecl] | None = None,
    ) -> None:
        """``allow_open``: whether unnamed openings to every party (``open_value``) are allowed;
        only in-memory tests and benchmarks set it.  ``noise``: outputs released with
        differential privacy."""
        self.outputs = {name: frozenset(rs) for name, rs in outputs.items()}
        self.noise = dict(noise or {})
        self.releases: dict[str, Calibration | NoiseDecl] = {}
        self.allow_open = allow_open
        self.external = external
        self.audit = audit
        self.revealed: set[str] = set()

    def recipients(
        self, name: str, to: Iterable[str | Identity] | None = None
    ) -> frozenset[Identity]:
        """The recipients of ``name`` (optionally narrowed by ``to``); refuses anything else."""
        if name not in self.outputs:
            raise UnauthorizedReveal(f"output {name!r} is not declared by the job; reveal refused")
        if name in self.revealed:
            raise UnauthorizedReveal(
                f"output {name!r} was already revealed; a second reveal refused"
            )
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

    def _noisy(self, name: str, value: Shared, sensitivity: Any, noised: bool, n: int) -> Shared:
        if name not in self.outputs:
            return value  # recipients() below refuses it
        return _noisy_value(self, name, value, sensitivity, noised, n)

    async def reveal(
        self,
        ctx: RevealExchange,
        outputs: dict[str, Any],
        name: str,
        value: Shared,
        *,
        to: Iterable[str | Identity] | None = None,
        divisor: int = 1,
        sensitivity: Any = None,
        noised: bool = False,
    ) -> np.ndarray[Any, Any] | None:
        """Send our share of ``name`` to its recipients; return the value if we are one.

        ``sensitivity``: for a noisy output, how much one record can change ``value`` (L1, real
        units), as the program derives it from the declared bounds; the larger of it and the
        spec's is used.  ``noised``: the program applied the output's mechanism itself.
        """
        if not isinstance(value, Shared):
            raise LocalProtocolError(
                f"reveal of {name!r} takes a Shared value, got {type(value).__name__}"
            )
        value = self._noisy(name, value, sensitivity, noised, len(ctx.parties))
        if isinstance(divisor, bool) or not isinstance(divisor, int) or not 1 <= divisor < 2**31:
            raise LocalProtocolError("divisor must be an int in [1, 2**31)")
        require_range(value, -(2**63), 2**63 - 1, f"output {name!r}")
        rcpts = self.recipients(name, to)
        party_rcpts = sorted(i.party_id for i in rcpts if i.role is Role.PARTY and i.party_id)
        external = sorted((i for i in rcpts if i.role is Role.RECIPIENT), key=lambda i: i.name)
        unknown = [p for p in party_rcpts if p not in ctx.parties]
        if unknown:
            raise UnauthorizedReveal(f"output {name!r} names party {unknown[0]}, not in this job")
        if external and self.external is None:
            raise UnauthorizedReveal(f"output {name!r} has external recipients but no relay")
        self.revealed.add(name)
        shares = value.share
        meta = OutputMeta(value.frac_bits, divisor, tuple(shares.shape))
        me = ctx.party_id
        result: np.ndarray[Any, Any] | None = None
        if party_rcpts:
            flat = np.ascontiguousarray(shares.reshape(-1))
            outgoing = {p: flat for p in party_rcpts if p != me}
            expect_from = ctx.peers if me in party_rcpts else ()
            got = await ctx.exchange(outgoing, expect_from, expect=ArraySpec.like(flat))
            if me in party_rcpts:
                total = flat.copy()
                for v in got.values():
                    total += v
                result = decode_output(total.reshape(shares.shape), value.frac_bits, divisor)
                outputs[name] = result
        for r in external:
            if self.external is not None:
                await self.external.deliver(name, r, shares, meta)
        if self.audit is not None:
            self.audit(name, sorted(i.label for i in rcpts))
        return result


def _fraction(value: Any) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(str(value))


def _noisy_value(
    policy: RevealPolicy, name: str, value: Shared, sensitivity: Any, noised: bool, n: int
) -> Shared:
    decl = policy.noise.get(name)
    if decl is None:
        if noised:
            raise UsageError(f"output {name!r} declares no noise, yet the program noised it")
        return value
    if decl.mechanism in PROGRAM_MECHANISMS:
        if not noised:
            raise UnauthorizedReveal(
                f"output {name!r} must be released by the {decl.mechanism} mechanism; refused"
            )
        policy.releases[name] = decl
        return value
    candidates = [x for x in (decl.sensitivity, sensitivity) if x is not None]
    if not candidates:
        raise UsageError(
            f"output {name!r} has {decl.mechanism} noise but no sensitivity: give one in the"
            " job spec (noise.sensitivity)"
        )
    sens = max(_fraction(x) for x in candidates)
    noisy, cal = add_noise(value, decl, sens, n, True)
    policy.releases[name] = cal
    return noisy


def open_policy(parties: Iterable[int], names: Iterable[str]) -> RevealPolicy:
    """A policy revealing each named output to every party (handy for scripts and tests)."""
    everyone = [Identity.party(p) for p in parties]
    return RevealPolicy({n: everyone for n in names}, allow_open=True)
