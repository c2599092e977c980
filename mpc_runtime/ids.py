"""Small value types: party ids, participant identities, job ids and operation paths.

An :class:`Identity` is what a certificate proves: a role and a name inside one cluster.  It is
written into the certificate's SubjectAlternativeName as the URI ``mpc://<cluster>/<role>/<name>``.

This module imports nothing of ours but :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

PartyId = NewType("PartyId", int)
JobId = NewType("JobId", str)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_PARTY_ID = re.compile(r"[1-9][0-9]{0,3}")
"""Canonical party ids: plain decimal integers 1..9999, no sign, zeros, underscores or spaces."""


class Role(StrEnum):
    """What a participant does in a cluster."""

    PARTY = "party"
    COORDINATOR = "coordinator"
    DEALER = "dealer"
    RECIPIENT = "recipient"
    CONTRIBUTOR = "contributor"


@dataclass(frozen=True, order=True)
class Identity:
    """A participant's identity inside a cluster: role plus name (a party's name is its id)."""

    role: Role
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError("invalid identity name")
        if self.role is Role.PARTY and not _PARTY_ID.fullmatch(self.name):
            raise ValueError("a party is named by its id, a plain integer such as 1")
        if self.role in (Role.COORDINATOR, Role.DEALER) and self.name != self.role.value:
            raise ValueError(f"the {self.role.value} has no other name")

    @classmethod
    def party(cls, pid: int) -> Identity:
        if isinstance(pid, bool):
            raise ValueError("a party id is an integer")
        try:
            return cls(Role.PARTY, str(operator.index(pid)))
        except TypeError:
            raise ValueError("a party id is an integer") from None

    @classmethod
    def coordinator(cls) -> Identity:
        return cls(Role.COORDINATOR, "coordinator")

    @classmethod
    def dealer(cls) -> Identity:
        return cls(Role.DEALER, "dealer")

    @classmethod
    def recipient(cls, name: str) -> Identity:
        return cls(Role.RECIPIENT, name)

    @property
    def party_id(self) -> int | None:
        """The numeric party id, or None for other roles."""
        return int(self.name) if self.role is Role.PARTY else None

    @property
    def label(self) -> str:
        """Short text used in logs and job specs: ``party:1``, ``recipient:analyst``, ``dealer``."""
        if self.role in (Role.COORDINATOR, Role.DEALER):
            return self.role.value
        return f"{self.role.value}:{self.name}"

    @property
    def file_stem(self) -> str:
        """File stem of this identity's key and certificate: ``party-1``, ``coordinator``."""
        if self.role in (Role.COORDINATOR, Role.DEALER):
            return self.role.value
        return f"{self.role.value}-{self.name}"

    def uri(self, cluster: str) -> str:
        return f"mpc://{cluster}/{self.role.value}/{self.name}"

    @classmethod
    def from_uri(cls, uri: str, cluster: str) -> Identity:
        """Parse a SAN URI; raises ValueError if it is malformed or for another cluster."""
        prefix = f"mpc://{cluster}/"
        if not uri.startswith(prefix):
            raise ValueError("identity URI is not for this cluster")
        role, _, name = uri[len(prefix) :].partition("/")
        return cls(Role(role), name)

    @classmethod
    def from_label(cls, label: str) -> Identity:
        """Parse ``party:1`` / ``recipient:analyst`` / ``coordinator``; raises ValueError."""
        role, sep, name = label.partition(":")
        if not sep:
            if role in (Role.COORDINATOR.value, Role.DEALER.value):
                return cls(Role(role), role)
            raise ValueError(f"identity {label!r} must look like party:1 or recipient:NAME")
        return cls(Role(role), name)

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class OpPath:
    """The deterministic path of an operation, from the call structure: ``job/avg#0/sum#0``."""

    parts: tuple[str, ...] = ()

    def child(self, name: str) -> OpPath:
        return OpPath((*self.parts, name))

    def __str__(self) -> str:
        return "/".join(self.parts) if self.parts else "/"
