"""The exception tree of mpc-runtime.

Every error the runtime raises on purpose derives from :class:`MPCError`.  Errors carry
structured fields (peer, op path, round) so callers can act on them, and they never carry
an input, share or output value: messages are built only from ids, names, sizes and dtypes.

This module imports nothing of ours.
"""

from __future__ import annotations


class MPCError(Exception):
    """Root of every error mpc-runtime raises on purpose.

    ``exit_code`` is the process exit status the CLI uses when this error ends a process.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        peer: int | str | None = None,
        op_path: str | None = None,
        round: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.peer = peer
        self.op_path = op_path
        self.round = round

    def __str__(self) -> str:
        where = []
        if self.peer is not None:
            where.append(f"peer {self.peer}")
        if self.op_path is not None:
            where.append(f"op {self.op_path}")
        if self.round is not None:
            where.append(f"round {self.round}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep exceptions copyable (asyncio/TaskGroup may copy them); never used for the wire.
        return (_rebuild, (type(self), self.message, self.peer, self.op_path, self.round))


def _rebuild(
    cls: type[MPCError], message: str, peer: int | str | None, op_path: str | None, rnd: int | None
) -> MPCError:
    err = cls.__new__(cls)
    MPCError.__init__(err, message, peer=peer, op_path=op_path, round=rnd)
    return err


class UsageError(MPCError):
    """A user gave a bad argument or input (bad flag, value out of range, wrong length)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration or job-spec file is missing, unparsable or has a bad field."""


class InputError(UsageError):
    """A private input was rejected by its owner before any share left the party."""


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


class RoundTimeout(MPCError):
    """A peer did not deliver its message for a round within the round timeout."""


class SessionAborted(MPCError):
    """Another participant aborted the session; the message says who and why."""


class UnauthorizedReveal(MPCError):
    """A reveal to a recipient the job does not name was refused."""

    exit_code = 3


class PreprocessingExhausted(MPCError):
    """The dealer's preprocessing material ran out or is unavailable for this job."""
