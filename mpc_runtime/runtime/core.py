"""The state one party's session and its contexts share, and the public input declarations.

:class:`SessionState` is what a :class:`~mpc_runtime.runtime.context.Context` reads and the
:class:`~mpc_runtime.runtime.session.Session` owns: who we are, the channels, the mailbox, the
ledger, the preprocessing provider, the reveal policy, our private inputs and the job's public
parameters.  Keeping it here lets the context and the session each import it without importing
each other.

:class:`InputDecl` is the public declaration of one input (owner, name, encoding, shape and
bounds), from the job spec; every party knows every declaration, never the values.

May import: errors, ids, transport (channels, liveness), preprocessing.provider, runtime.mailbox,
runtime.ledger, runtime.reveal, runtime.contrib.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mpc_runtime.ids import Identity
from mpc_runtime.preprocessing.provider import Provider
from mpc_runtime.runtime.contrib import ContributionDecl, ContributionFeed
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.mailbox import Mailbox
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.liveness import Liveness

__all__ = ["InputDecl", "SessionState"]


@dataclass(frozen=True)
class InputDecl:
    """One declared input: owner, name, ``kind`` ("int" or "fixed"), shape, fractional bits and
    inclusive bounds on the *encoded* value (the real value times ``2^frac_bits``)."""

    party: int
    name: str
    kind: str = "int"
    shape: tuple[int, ...] = ()
    frac_bits: int = 0
    lo: int = -(2**31 - 1)
    hi: int = 2**31 - 1


@dataclass
class SessionState:
    """Everything one party's contexts need, owned by its session."""

    me: int
    parties: tuple[int, ...]
    job: str
    round_timeout: float
    channels: dict[int, Channel]
    mailbox: Mailbox
    ledger: Ledger
    liveness: Liveness
    provider: Provider | None = None
    policy: RevealPolicy | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    declared: tuple[InputDecl, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)
    current_op: str = "main"
    feed: ContributionFeed | None = None
    contribution: ContributionDecl | None = None
    relay: str = "coordinator"

    @property
    def identity(self) -> Identity:
        return Identity.party(self.me)

    @property
    def label(self) -> str:
        return self.identity.label
