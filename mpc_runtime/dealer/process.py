"""The dealer process (``mpc dealer``): serves preprocessing material to the parties of one job.

It joins the coordinator as ``dealer`` (so it learns when the job starts, finishes or aborts, and
the coordinator notices if the dealer dies or freezes), listens on the cluster's ``[dealer]``
endpoint for the parties, and answers their :class:`~mpc_runtime.wire.Material` requests with
PRG seeds (and corrections for the first party).  It exits 0 when the coordinator reports the job
finished, and 1 -- naming the culprit -- when the job is aborted, the coordinator is lost or
frozen, or a party is lost or frozen while the job runs (it then tells the coordinator, which
stops everyone).  A dealer never outlives its job.

The dealer sees the correlated randomness it makes, never an input or a share of one; it must not
collude with any party.

May import: config, errors, ids, deadline, jobs, preprocessing.dealer, transport, wire.
"""

from __future__ import annotations

import asyncio
import sys

from mpc_runtime.config import ClusterConfig
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import ConfigError, MPCError, PeerLostError, RemoteProtocolError
from mpc_runtime.ids import Identity, Role
from mpc_runtime.preprocessing.dealer.service import DealerService
from mpc_runtime.runtime.session import abort_of, aborted_by
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener
from mpc_runtime.transport.liveness import Liveness
from mpc_runtime.transport.mesh import dial_service, service_listener
from mpc_runtime.wire import (
    Accept,
    Bye,
    Control,
    EndOfStream,
    Finished,
    Join,
    Material,
    PeerAbort,
    Refuse,
    Start,
)

__all__ = ["run_dealer"]


def _say(msg: str) -> None:
    print(f"dealer: {msg}", file=sys.stderr, flush=True)


class _Dealer:
    def __init__(self, cfg: ClusterConfig, budget: int | None) -> None:
        self.cfg = cfg
        self.me = Identity.dealer()
        self.service = DealerService(cfg.party_ids, budget)
        self.parties: dict[int, Channel] = {}
        self.closed: set[int] = set()
        self.outcome: asyncio.Future[MPCError | None] = asyncio.get_running_loop().create_future()
        self.job = ""
        self.tasks: set[asyncio.Task[None]] = set()

    def end(self, err: MPCError | None) -> None:
        if not self.outcome.done():
            self.outcome.set_result(err)

    def watched(self) -> list[Channel]:
        return [ch for pid, ch in self.parties.items() if pid not in self.closed]

    async def serve_party(self, ch: Channel) -> None:
        pid = ch.peer.party_id
        label = ch.peer.label
        if pid is None:
            ch.close()
            return
        self.parties[pid] = ch
        try:
            while True:
                match await ch.next_event():
                    case Control(job=job, op=Material() as req):
                        self.job = self.job or job
                        await ch.send_op(job, await self.service.handle(job, pid, req))
                    case Bye():
                        self.closed.add(pid)
                    case PeerAbort(abort=abort):
                        self.closed.add(pid)
                        self.end(aborted_by(label, abort))
                        return
                    case EndOfStream():
                        if pid not in self.closed:
                            raise PeerLostError(
                                f"{label} was lost (connection closed)", culprit=label
                            )
                        return
                    case _:
                        raise RemoteProtocolError(
                            f"{label} sent something the dealer does not serve"
                        )
        except MPCError as err:
            self.end(err.with_context(peer=label))
        finally:
            ch.close()

    async def accept(self, listener: Listener) -> None:
        while True:
            ch = await listener.next_channel()
            _say(f"{ch.peer.label} connected")
            t = asyncio.create_task(self.serve_party(ch))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def follow(self, coord: Channel) -> None:
        """The coordinator's view of the job: finished, aborted, or lost."""
        label = coord.peer.label
        try:
            while True:
                match await coord.next_event():
                    case Control(op=Accept() | Start()):
                        continue
                    case Control(op=Refuse(reason=reason)):
                        raise ConfigError(f"the coordinator refused the dealer: {reason}")
                    case Control(op=Finished()):
                        self.end(None)
                        return
                    case PeerAbort(abort=abort):
                        self.end(aborted_by(label, abort))
                        return
                    case EndOfStream():
                        raise PeerLostError(f"{label} was lost (connection closed)", culprit=label)
                    case _:
                        raise RemoteProtocolError(f"{label} sent an unexpected message")
        except MPCError as err:
            self.end(err)


async def run_dealer(cfg: ClusterConfig, *, budget: int | None = None) -> int:
    """The stand-alone dealer process; returns the exit status."""
    if cfg.dealer is None:
        raise ConfigError("the cluster config has no [dealer] endpoint")
    dealer = _Dealer(cfg, budget)
    listener = service_listener(
        cfg, dealer.me, cfg.dealer, lambda p: p.role is Role.PARTY and cfg.knows(p)
    )
    await listener.start()
    _say(f"listening on {cfg.dealer.listen_host}:{cfg.dealer.port}")
    coord = await dial_service(
        cfg,
        dealer.me,
        cfg.coordinator,
        Identity.coordinator(),
        Deadline.after(cfg.timeouts.connect),
    )
    await coord.send_op("", Join("", {}))
    watch = Liveness(lambda: [coord, *dealer.watched()], cfg.timeouts.round)

    async def frozen(err: MPCError) -> None:
        dealer.end(err)

    tasks = [
        asyncio.create_task(dealer.accept(listener)),
        asyncio.create_task(dealer.follow(coord)),
        asyncio.create_task(watch.run(frozen)),
    ]
    try:
        err = await dealer.outcome
    finally:
        for t in (*tasks, *dealer.tasks):
            t.cancel()
    if err is None:
        _say(f"job finished; served {dealer.service.requests} requests")
        await coord.bye_quietly(dealer.job)
        coord.close()
        await listener.aclose()
        return 0
    if err.reporter != coord.peer.label:
        await coord.abort_quietly(dealer.job, abort_of(err, dealer.me.label))
    coord.close()
    for ch in dealer.parties.values():
        await ch.abort_quietly(dealer.job, abort_of(err, dealer.me.label), 0.3)
    await listener.aclose()
    culprit = f" (culprit: {err.blamed})" if err.blamed and err.blamed not in err.message else ""
    _say(f"job aborted: {err.message}{culprit}")
    return err.exit_code
