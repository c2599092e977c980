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

A serving party (``mpc party --serve``) runs job after job over one mesh: :class:`ServedMesh`
reads each shared channel once and routes every job's messages, by the job id each carries, to
that job's :class:`JobChannel` s, which the session uses like channels it does not own (their
BYE and ABORT are the job-level ``job_bye`` / ``job_abort`` operations; closing one only detaches
it).  A failed job leaves the mesh up; a lost, aborting or frozen peer fails every open job,
naming it, and takes that mesh down.

May import: errors, ids, wire, transport, preprocessing.provider, runtime.*.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
from collections import OrderedDict
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
    UsageError,
    first_exception,
    first_mpc_error,
)
from mpc_runtime.ids import Identity, OpPath
from mpc_runtime.preprocessing.provider import Provider
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.contrib import ContributionDecl, ContributionFeed
from mpc_runtime.runtime.core import InputDecl, SessionState
from mpc_runtime.runtime.ledger import Ledger
from mpc_runtime.runtime.mailbox import MAX_HELD_PER_SENDER, Mailbox
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.wire import Abort, Bye, Control, Data, EndOfStream, Event, Message, PeerAbort
from mpc_runtime.wire.control import Agree, JobAbort, JobBye

__all__ = ["JobChannel", "ServedMesh", "Session", "abort_of", "aborted_by"]

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


ENDED_JOBS_KEPT = 4096
"""Ids of ended jobs a :class:`ServedMesh` remembers, so their late messages are dropped quietly."""
EARLY_KEPT = 1024
"""Agreements (or refusals) held for jobs this party has not opened yet, at most."""

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
                        del data  # the mailbox holds it now; do not keep it until the next one
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


# ---- a mesh shared by many jobs (serving parties) ---------------------------------------------


class JobChannel(Channel):
    """One job's view of a shared mesh channel: sends go out on the shared connection; events
    for this job arrive from the :class:`ServedMesh` reader.  Its BYE and ABORT are the job-level
    ``job_bye`` / ``job_abort`` operations, and closing it only detaches it."""

    def __init__(self, shared: Channel, job: str, detach: Callable[[JobChannel], None]) -> None:
        super().__init__(shared.link, shared.peer, shared.me, wire=shared.wire)
        self.shared = shared
        self.job = job
        self.pair_seed = shared.pair_seed
        self._detach = detach
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._error: MPCError | None = None
        self.closed = False

    def deliver(self, event: Event) -> None:
        """File an event of this job (from the mesh reader); a flood fails the job only."""
        if self.closed or self._error is not None:
            return
        if self._events.qsize() >= MAX_HELD_PER_SENDER:
            label = self.peer.label
            self._error = RemoteProtocolError(
                f"{label} sent more than {MAX_HELD_PER_SENDER} messages nobody asked for",
                peer=label,
                culprit=label,
            )
            self._events.put_nowait(EndOfStream(clean=False))  # wakes the reader
            return
        self._events.put_nowait(event)

    async def send(self, msg: Message) -> int:
        n = await self.shared.send(msg)
        self.last_sent = self.shared.last_sent
        return n

    async def send_many(self, msgs: list[Message]) -> int:
        n = await self.shared.send_many(msgs)
        self.last_sent = self.shared.last_sent
        return n

    def ready_event(self) -> Event | None:
        if self._end is not None:
            return self._end
        try:
            event = self._events.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if isinstance(event, EndOfStream):
            self._end = event
        return event

    async def next_event(self) -> Event:
        if self._error is not None:
            raise self._error
        if self._end is not None:
            return self._end
        event = await self._events.get()
        if self._error is not None:
            raise self._error
        if isinstance(event, EndOfStream):
            self._end = event
        return event

    async def abort_quietly(self, job: str, abort: Abort, timeout: float = 1.0) -> bool:
        msg = self.shared.op_message(job or self.job, JobAbort.of(abort))
        return await self.shared.send_quietly(msg, timeout)

    async def bye_quietly(self, job: str = "", timeout: float = 0.5) -> bool:
        return await self.shared.send_quietly(
            self.shared.op_message(job or self.job, JobBye()), timeout
        )

    async def ping(self, timeout: float = 1.0) -> bool:
        self.last_sent = time.monotonic()
        if time.monotonic() - self.shared.last_sent < 0.05:
            return True  # the shared connection just carried something
        return await self.shared.ping(timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._detach(self)

    async def aclose(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JobChannel(peer={self.peer.label}, job={self.job!r})"


def _early(event: Event) -> bool:
    """Whether ``event`` may arrive before this party opened its job: a peer's agreement or
    refusal (DATA never: a peer computes only once we agreed too)."""
    return isinstance(event, PeerAbort) or (isinstance(event, Control) and event.op.op == "agree")


class ServedMesh:
    """The mesh of a serving session: a reader per peer routes every job's messages to that
    job's :class:`JobChannel` s; heartbeats keep idle connections alive and find frozen peers.

    ``on_down(err)`` is called once when a peer is lost, aborts the mesh, breaks the protocol
    or freezes; every open job is failed first, naming that peer."""

    def __init__(
        self,
        me: int,
        channels: dict[int, Channel],
        *,
        round_timeout: float,
        on_down: Callable[[MPCError], None],
    ) -> None:
        self.me = me
        self.channels = dict(channels)
        self.jobs: dict[str, dict[int, JobChannel]] = {}
        self.ended: OrderedDict[str, None] = OrderedDict()
        self.early: OrderedDict[str, list[tuple[int, Event]]] = OrderedDict()
        self.failure: MPCError | None = None
        self.dropped = 0
        self._left: set[int] = set()
        self._closing = False
        self._on_down = on_down
        self._liveness = Liveness(self._live, round_timeout)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for pid, ch in self.channels.items():
            self._tasks.append(asyncio.create_task(self._reader(pid, ch), name=f"mesh-{pid}"))
        self._tasks.append(asyncio.create_task(self._liveness.run(self._frozen)))

    def _live(self) -> list[Channel]:
        if self._closing or self.failure is not None:
            return []
        return [ch for pid, ch in self.channels.items() if pid not in self._left]

    def open_job(self, job: str) -> dict[int, JobChannel]:
        """Per-job channels to every peer; messages of ``job`` are routed to them from now on."""
        if self.failure is not None:
            raise self.failure
        if job in self.jobs or job in self.ended:
            raise UsageError(f"job {job} already ran on this mesh")
        views = {pid: JobChannel(ch, job, self._detach) for pid, ch in self.channels.items()}
        self.jobs[job] = views
        for pid, event in self.early.pop(job, []):
            views[pid].deliver(event)
        return views

    def close_job(self, job: str) -> None:
        for view in list(self.jobs.get(job, {}).values()):
            view.close()
        self._forget(job)

    def _detach(self, view: JobChannel) -> None:
        views = self.jobs.get(view.job)
        if views is None:
            return
        views.pop(view.peer.party_id or 0, None)
        if not views:
            self._forget(view.job)

    def _forget(self, job: str) -> None:
        if self.jobs.pop(job, None) is not None or job not in self.ended:
            self.ended[job] = None
            while len(self.ended) > ENDED_JOBS_KEPT:
                self.ended.popitem(last=False)

    def _route(self, pid: int, job: str, event: Event) -> None:
        view = self.jobs.get(job, {}).get(pid)
        if view is not None:
            view.deliver(event)
            return
        if job not in self.jobs and job not in self.ended and _early(event):
            held = self.early.setdefault(job, [])  # a peer agreed before we opened the job
            held.append((pid, event))
            while sum(len(v) for v in self.early.values()) > EARLY_KEPT:
                self.early.popitem(last=False)
            return
        self.dropped += 1  # a late message of an ended job, or of a job we refused
        if job not in self.ended:
            log.info("dropped a message of job %.64r from party:%s: no such job here", job, pid)

    async def _reader(self, pid: int, ch: Channel) -> None:
        label = ch.peer.label
        try:
            while True:
                match await ch.next_event():
                    case Data(job=job) as data:
                        self._route(pid, job, data)
                    case Control(job=job, op=Agree()) as agree:
                        self._route(pid, job, agree)
                    case Control(job=job, op=JobBye()):
                        self._route(pid, job, Bye(job))
                    case Control(job=job, op=JobAbort() as op):
                        self._route(pid, job, PeerAbort(job, op.abort()))
                    case Bye():
                        self._left.add(pid)
                    case PeerAbort(abort=abort):
                        raise aborted_by(label, abort)
                    case EndOfStream():
                        if self._closing:
                            return
                        how = "left the cluster" if pid in self._left else "was lost"
                        raise PeerLostError(f"{label} {how}", peer=label, culprit=label)
                    case _:
                        raise RemoteProtocolError(
                            f"{label} sent an unexpected message on the mesh", peer=label
                        )
        except MPCError as err:
            if not self._closing:
                self._down(err.with_context(peer=label, culprit=label))
        except asyncio.CancelledError:
            return

    async def _frozen(self, err: MPCError) -> None:
        self._down(err)

    def _down(self, err: MPCError) -> None:
        if self.failure is not None or self._closing:
            return
        self.failure = err
        abort = abort_of(err, self.me_label)
        for job, views in list(self.jobs.items()):
            for view in views.values():
                if view.peer.label == err.peer:  # that connection's reader fails the job
                    view.deliver(PeerAbort(job, abort))
        self._on_down(err)

    @property
    def me_label(self) -> str:
        return Identity.party(self.me).label

    async def close(self, abort: Abort | None = None) -> None:
        """Say BYE (a stop) or ABORT (a failure) to every peer, then close every connection."""
        self._closing = True
        for job in list(self.jobs):
            self.close_job(job)
        sends = [
            ch.abort_quietly("", abort, 0.5) if abort is not None else ch.bye_quietly("", 0.5)
            for pid, ch in self.channels.items()
            if pid not in self._left or abort is None
        ]
        if sends:
            await asyncio.gather(*sends)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*(ch.aclose() for ch in self.channels.values()))
