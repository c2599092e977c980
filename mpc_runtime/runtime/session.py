"""A session: one party's view of a running job over a mesh of authenticated channels.

The session runs one reader per peer, a heartbeat/watchdog task and the program under a
TaskGroup.  Readers ``match`` on typed events: DATA goes to the
:class:`~mpc_runtime.runtime.mailbox.Mailbox` by (op path, round, sender), BYE and ABORT end the
peer, and an end of stream without either means the peer was lost.  Protocol code talks to a
:class:`~mpc_runtime.runtime.context.Context`; every wait on a peer is bounded by the round
timeout, and a peer that sends nothing at all (not even heartbeats) for the round timeout is named
as frozen.

When anything fails the session tells every peer why (an ABORT carrying the category, a reason
without values, the culprit and the op) and closes, so the whole mesh stops within the round
timeout instead of hanging.  An exception in the program that is not an MPCError becomes a
:class:`~mpc_runtime.errors.ProgramError` showing its type, message and the program's file:line
on this party only; peers learn only that this party failed in its program, and where.

May import: errors, ids, wire, transport, preprocessing.provider, runtime.*.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mpc_runtime.deadline import Deadline, wait_until
from mpc_runtime.errors import (
    InputError,
    MPCError,
    PeerLostError,
    ProgramError,
    RemoteProtocolError,
    SessionAborted,
    first_exception,
    first_mpc_error,
)
from mpc_runtime.ids import Identity, OpPath
from mpc_runtime.preprocessing.provider import Provider
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.contrib import ContributionDecl, ContributionFeed
from mpc_runtime.runtime.core import InputDecl, SessionState
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.mailbox import Mailbox
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.wire import Abort, Bye, Data, EndOfStream, PeerAbort

__all__ = ["Session", "abort_of", "aborted_by"]

log = logging.getLogger("mpc.session")

T = TypeVar("T")
_LIBRARY = Path(__file__).resolve().parents[1]  # mpc_runtime/


def abort_of(err: MPCError, me: str) -> Abort:
    """What we tell others when ``err`` ends our session: never a value, never user text."""
    culprit = err.blamed
    if isinstance(err, ProgramError):
        reason, culprit = f"{me} failed in its program at {err.op_path or 'its start'}", me
    elif isinstance(err, InputError):
        reason, culprit = f"{me} refused its own input: {err.message}", me
    elif isinstance(err, SessionAborted) and err.reporter:  # relay the original reason
        reason = err.message.removesuffix(f" (reported by {err.reporter})")
    else:
        reason = err.message
    return Abort(err.kind, reason, culprit, err.op_path, err.round)


JOB_LEVEL = frozenset({"BoundsError"})
"""Failures caused by the job as declared, not by a participant: no culprit is named."""


def aborted_by(reporter: str, abort: Abort) -> SessionAborted:
    """The error for an ABORT received from ``reporter``."""
    culprit = abort.culprit or (None if abort.code in JOB_LEVEL else reporter)
    mentioned = re.search(rf"(?<![\w:]){re.escape(reporter)}(?![\w])", abort.reason)
    text = abort.reason if mentioned else f"{abort.reason} (reported by {reporter})"
    return SessionAborted(
        text,
        peer=reporter,
        culprit=culprit,
        reporter=reporter,
        op_path=abort.op_path,
        round=abort.round,
        code=abort.code,
    )


def program_error(exc: BaseException, op_path: str) -> ProgramError:
    """A user program's exception as one line: type, message and the program's file:line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for fr in reversed(frames):
        path = Path(fr.filename).resolve()
        if _LIBRARY not in path.parents and "asyncio" not in path.parts:
            where = f" ({path.name}:{fr.lineno})"
            break
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return ProgramError(
        f"the program raised {type(exc).__name__}{': ' + text if text else ''}{where} at {op_path}",
        op_path=op_path,
        code="ProgramError",
    )


class Session:
    """One party's side of a job: channels to every peer, a mailbox, a ledger."""

    def __init__(
        self,
        me: int,
        channels: Mapping[int, Channel],
        *,
        job: str,
        round_timeout: float,
        ledger: Ledger | None = None,
        provider: Provider | None = None,
        policy: RevealPolicy | None = None,
        inputs: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        declared: Sequence[InputDecl] = (),
        feed: ContributionFeed | None = None,
        contribution: ContributionDecl | None = None,
        on_abort: Callable[[MPCError], Awaitable[None]] | None = None,
    ) -> None:
        chans = dict(channels)
        self.state = SessionState(
            me=me,
            parties=tuple(sorted({me, *chans})),
            job=job,
            round_timeout=round_timeout,
            channels=chans,
            mailbox=Mailbox(),
            ledger=ledger if ledger is not None else Ledger(),
            liveness=Liveness(self._open_channels, round_timeout),
            provider=provider,
            policy=policy,
            inputs=dict(inputs or {}),
            params=dict(params or {}),
            declared=tuple(declared),
            feed=feed,
            contribution=contribution,
        )
        self._on_abort = on_abort
        self._bye: set[int] = set()
        self._bye_event = asyncio.Event()
        self._closing = False

    # ---- public ----------------------------------------------------------------------------
    @property
    def me(self) -> int:
        return self.state.me

    @property
    def ledger(self) -> Ledger:
        return self.state.ledger

    @property
    def outputs(self) -> dict[str, Any]:
        return self.state.outputs

    @property
    def mailbox(self) -> Mailbox:
        return self.state.mailbox

    def context(self) -> Context:
        return Context(self.state, OpPath(("main",)))

    def fail(self, err: MPCError) -> None:
        """Stop the session from outside (e.g. the coordinator aborted): wake every wait."""
        self.state.mailbox.fail_all(err)
        self._bye_event.set()

    async def run(self, program: Callable[[Context], Awaitable[T]]) -> T:
        """Run ``program(ctx)`` with readers on every channel; close cleanly or abort everyone."""
        result: T
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._reader(pid, ch)) for pid, ch in self._items()]
                tasks.append(tg.create_task(self.state.liveness.run(self._frozen)))
                try:
                    result = await self._program(program)
                    await self._goodbye()
                finally:
                    self._closing = True
                    for t in tasks:
                        t.cancel()
        except BaseException as exc:  # noqa: BLE001 - mapped to one MPCError below
            err = first_mpc_error(exc)
            if err is None:
                inner = first_exception(exc)
                if isinstance(inner, KeyboardInterrupt | asyncio.CancelledError | SystemExit):
                    await self.abort(MPCError(f"{self.state.label} was interrupted"))
                    raise
                err = program_error(inner, self.state.current_op)
            await self.abort(err)
            raise err from None
        return result

    async def _program(self, program: Callable[[Context], Awaitable[T]]) -> T:
        try:
            return await program(self.context())
        except MPCError as err:
            if err.op_path is None:
                raise err.with_context(op_path=self.state.current_op) from None
            raise
        except Exception as exc:
            raise program_error(exc, self.state.current_op) from None

    async def abort(self, err: MPCError) -> None:
        """Tell every peer why we stop (best effort, bounded), then close every channel."""
        self._closing = True
        self.state.mailbox.fail_all(err)
        abort = abort_of(err, self.state.label)
        sends = [
            ch.abort_quietly(self.state.job, abort, 0.5)
            for pid, ch in self._items()
            if Identity.party(pid).label != err.reporter
        ]
        if sends:
            await asyncio.gather(*sends)
        for ch in self.state.channels.values():
            ch.close()
        if self._on_abort is not None:
            try:
                async with asyncio.timeout(1.0):
                    await self._on_abort(err)
            except (MPCError, TimeoutError, OSError):
                pass

    # ---- internals -------------------------------------------------------------------------
    def _items(self) -> list[tuple[int, Channel]]:
        return list(self.state.channels.items())

    def _open_channels(self) -> list[Channel]:
        return [ch for pid, ch in self._items() if pid not in self._bye]

    async def _frozen(self, err: MPCError) -> None:
        log.error("party %s: %s", self.me, err)
        self.fail(err)

    async def _goodbye(self) -> None:
        """Say BYE to everyone and wait (bounded) for everyone's BYE, then close."""
        st = self.state
        await asyncio.gather(*(ch.bye_quietly(st.job) for ch in st.channels.values()))
        everyone = lambda: len(self._bye) == len(st.channels) or st.mailbox.failure is not None  # noqa: E731
        if not await wait_until(self._bye_event, everyone, Deadline.after(st.round_timeout)):
            missing = sorted(set(st.channels) - self._bye)
            log.warning("parties %s did not say goodbye in time", missing)
        if st.mailbox.failure is not None:
            raise st.mailbox.failure
        if st.mailbox.unclaimed():
            raise RemoteProtocolError(
                f"peers sent {st.mailbox.unclaimed()} messages the program never asked for"
            )
        for ch in st.channels.values():
            ch.close()

    async def _reader(self, pid: int, ch: Channel) -> None:
        label = ch.peer.label
        try:
            while True:
                match await ch.next_event():
                    case Data() as data:
                        if data.job != self.state.job:
                            raise RemoteProtocolError(
                                f"{label} sent a message for another job", peer=label, culprit=label
                            )
                        self.state.mailbox.put(label, data)
                    case Bye():
                        self._bye.add(pid)
                        self._bye_event.set()
                    case PeerAbort(abort=abort):
                        raise aborted_by(label, abort)
                    case EndOfStream(detail=detail):
                        if pid in self._bye or self._closing:
                            return
                        where = f" {detail}" if detail else ""
                        raise PeerLostError(
                            f"{label} was lost (connection closed{where})",
                            peer=label,
                            culprit=label,
                        )
                    case _:
                        raise RemoteProtocolError(
                            f"{label} sent an unexpected message", peer=label, culprit=label
                        )
        except MPCError as err:
            if self._closing and isinstance(err, PeerLostError):
                return
            if not isinstance(err, SessionAborted):
                log.error("party %s: %s", self.me, err)
            self.fail(err.with_context(peer=label))
        except asyncio.CancelledError:
            return
