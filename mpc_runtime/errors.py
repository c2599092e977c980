"""The exception tree of mpc-runtime.

Every error the runtime raises on purpose derives from :class:`MPCError`.  Errors carry declared,
structured fields so callers can act on them without parsing text:

* ``peer``: the participant this process was dealing with when the error happened;
* ``culprit``: the participant that *caused* the failure, when it is known (a party that was lost,
  froze, refused its input or failed in its program); defaults to ``peer``;
* ``claimed``: an identity a peer claimed that its certificate does not prove;
* ``op_path`` and ``round``: where in the program it happened;
* ``reporter``: who told us, when the failure was relayed (an ABORT from another participant).

Fields are added with :meth:`MPCError.with_context`, which keeps the subclass (never rebuild an
error with ``type(err)(err.message, ...)``).  Errors never carry an input, share or output value:
messages are built only from ids, names, sizes, dtypes and bounds.

This module imports nothing of ours.
"""

from __future__ import annotations

import copy
from typing import Any

_FIELDS = ("peer", "culprit", "claimed", "op_path", "round", "reporter", "code")


class MPCError(Exception):
    """Root of every error mpc-runtime raises on purpose.

    ``exit_code`` is the process exit status the CLI uses when this error ends a process.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        peer: str | None = None,
        culprit: str | None = None,
        claimed: str | None = None,
        op_path: str | None = None,
        round: int | None = None,
        reporter: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.peer = None if peer is None else str(peer)
        self.culprit = culprit
        self.claimed = claimed
        self.op_path = op_path
        self.round = round
        self.reporter = reporter
        self.code = code

    @property
    def blamed(self) -> str | None:
        """Who caused this failure: the culprit if known, else the peer we were dealing with."""
        return self.culprit if self.culprit is not None else self.peer

    @property
    def kind(self) -> str:
        """A short category for reports to other participants (never the message itself)."""
        return self.code or type(self).__name__

    def with_context(self, **fields: Any) -> MPCError:
        """A copy of this error (same class, same message) with ``fields`` set where unset.

        Only the declared fields (peer, culprit, claimed, op_path, round, reporter, code) may be
        given; a field that already has a value keeps it, so the innermost context wins.
        """
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise TypeError(f"unknown error fields: {', '.join(sorted(unknown))}")
        new = copy.copy(self)
        for name, value in fields.items():
            if getattr(new, name) is None and value is not None:
                setattr(new, name, str(value) if name in ("peer", "culprit") else value)
        new.__traceback__ = None
        return new

    def __str__(self) -> str:
        where = []
        if self.peer is not None and self.peer not in self.message:
            where.append(f"peer {self.peer}")
        if self.op_path is not None and self.op_path not in self.message:
            where.append(f"op {self.op_path}")
        if self.round is not None:
            where.append(f"round {self.round}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep exceptions copyable (asyncio/TaskGroup may copy them); never used for the wire.
        return (_rebuild, (type(self), self.message, {f: getattr(self, f) for f in _FIELDS}))


def _rebuild(cls: type[MPCError], message: str, fields: dict[str, Any]) -> MPCError:
    err = cls.__new__(cls)
    MPCError.__init__(err, message, **fields)
    return err


class UsageError(MPCError):
    """A user gave a bad argument or input (bad flag, value out of range, wrong length)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration or job-spec file is missing, unparsable or has a bad field."""


class InputError(UsageError):
    """A private input was rejected by its owner before any share left the party."""


class BoundsError(UsageError):
    """A computation could leave the ring's safe range: refused before it could wrap."""


class ProgramError(UsageError):
    """The job's program (user code) raised an exception that is not an MPCError."""


class ProtocolError(MPCError):
    """Somebody broke the message protocol."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow (a bug or a misuse)."""


class RemoteProtocolError(ProtocolError):
    """A peer sent something the protocol does not allow."""


class DecodeError(RemoteProtocolError):
    """Bytes from a peer could not be decoded into a valid message."""


class FrameTooLarge(DecodeError):
    """A frame's length prefix exceeds the configured maximum frame size."""


class SpecMismatch(ProtocolError):
    """Parties hold different job specs (their hashes differ); nothing was shared."""


class TransportError(MPCError):
    """A connection could not be made or was lost."""


class ConnectError(TransportError):
    """A peer could not be reached before the connect deadline."""


class PeerIdentityError(TransportError):
    """A peer's certificate does not prove the identity it claims, or is not trusted."""


class PeerLostError(TransportError):
    """A connected peer went away (closed, reset, or its process died)."""


class PeerUnresponsive(TransportError):
    """A connected peer sent nothing at all (not even a heartbeat) for too long: it is frozen."""


class RoundTimeout(MPCError):
    """A peer did not deliver its message for a round within the round timeout."""


class SessionAborted(MPCError):
    """Another participant aborted the session; ``culprit`` says who caused it, ``reporter`` who
    told us."""


class UnauthorizedReveal(MPCError):
    """A reveal to a recipient the job does not name was refused."""

    exit_code = 3


class PreprocessingExhausted(MPCError):
    """The preprocessing material ran out or is unavailable for this job."""


def first_mpc_error(exc: BaseException) -> MPCError | None:
    """The first MPCError inside an exception (group), depth first."""
    if isinstance(exc, MPCError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = first_mpc_error(sub)
            if found is not None:
                return found
    return None


def first_exception(exc: BaseException) -> BaseException:
    """The first leaf exception of an exception group (the exception itself otherwise)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
