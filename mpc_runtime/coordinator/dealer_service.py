"""The dealer service: answers ``{"svc": "dealer", "op": "material"}`` requests from parties.

:class:`DealerService` is the handler; it is used embedded in the coordinator (when the cluster
has no separate dealer, parties send their requests over the coordinator connection) and by the
stand-alone dealer process :func:`run_dealer` (``mpc dealer``), which listens on ``cfg.dealer``,
admits parties only and exits 0 once every party that connected has closed cleanly (BYE), or 1
naming a party lost mid-job.

Request  ``{"svc":"dealer","op":"material","rid": int,"path": str,"components": [...]}``
Reply    ``{"svc":"dealer","op":"material","rid","seed": bytes,"corrections": [...] | None}``
Error    ``{"svc":"dealer","op":"error","rid","code": "PreprocessingExhausted" |
"RemoteProtocolError","reason"}``

The dealer sees the correlated randomness it makes, never an input or a share of one.

May import: preprocessing, sharing, transport, wire, config, errors, ids.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.protocol import (
    control,
    send_quietly,
    service_listener,
    short,
)
from mpc_runtime.errors import (
    ConfigError,
    MPCError,
    PeerLostError,
    PreprocessingExhausted,
    RemoteProtocolError,
)
from mpc_runtime.ids import Identity, Role
from mpc_runtime.preprocessing.state import DEFAULT_BUDGET, DealerState, components_from_wire
from mpc_runtime.transport.channel import Channel
from mpc_runtime.wire import MsgKind

log = logging.getLogger("mpc.dealer")

THREAD_THRESHOLD = 1 << 16
"""Requests with more elements than this are generated in a worker thread."""

MAX_PATH = 512


class DealerService:
    """Turns material requests into replies; one :class:`DealerState` for the cluster."""

    def __init__(self, parties: tuple[int, ...] | list[int], budget: int | None = None) -> None:
        self.state = DealerState(parties, budget if budget is not None else DEFAULT_BUDGET)
        self._lock = asyncio.Lock()
        self.requests = 0

    async def handle(self, job: str, party: int, body: dict[str, Any]) -> dict[str, Any]:
        """The reply body for one request from ``party`` in ``job`` (never raises MPCError)."""
        rid = body.get("rid")
        if isinstance(rid, bool) or not isinstance(rid, int):
            return _error(None, RemoteProtocolError("material request without an integer rid"))
        try:
            if body.get("op") != "material":
                raise RemoteProtocolError("unknown dealer operation")
            path = body.get("path")
            if not isinstance(path, str) or not path or len(path) > MAX_PATH:
                raise RemoteProtocolError("material request without a valid op path")
            if not job:
                raise RemoteProtocolError("material request without a job id")
            comps = components_from_wire(body.get("components"))
            self.requests += 1
            size = sum(c.size for c in comps)
            # One lock keeps the DealerState consistent while a big batch is made off-loop.
            async with self._lock:
                if size > THREAD_THRESHOLD:
                    seed, corr = await asyncio.to_thread(self.state.take, job, path, comps, party)
                else:
                    seed, corr = self.state.take(job, path, comps, party)
        except (PreprocessingExhausted, RemoteProtocolError) as exc:
            return _error(rid, exc)
        except MPCError as exc:
            return _error(rid, RemoteProtocolError(exc.message))
        return {"svc": "dealer", "op": "material", "rid": rid, "seed": seed, "corrections": corr}


def _error(rid: int | None, exc: MPCError) -> dict[str, Any]:
    code = (
        "PreprocessingExhausted"
        if isinstance(exc, PreprocessingExhausted)
        else ("RemoteProtocolError")
    )
    return {"svc": "dealer", "op": "error", "rid": rid, "code": code, "reason": str(exc)[:300]}


def _say(msg: str) -> None:
    print(f"dealer: {msg}", file=sys.stderr, flush=True)


async def _serve_party(
    ch: Channel, service: DealerService, me: Identity, clean: set[int], lost: list[str]
) -> None:
    pid = ch.peer.party_id
    if pid is None:  # admit() lets parties only
        ch.close()
        return
    label = ch.peer.label
    try:
        while True:
            msg = await ch.receive()
            if msg is None:
                if pid not in clean:
                    raise PeerLostError(f"{label} was lost (connection closed)", peer=label)
                return
            if msg.kind is MsgKind.BYE:
                clean.add(pid)
                _say(f"{label} closed cleanly")
                continue
            if msg.kind is MsgKind.ABORT:
                raise PeerLostError(f"{label} aborted its job", peer=label)
            body = msg.body
            if msg.kind is MsgKind.CONTROL and isinstance(body, dict):
                if body.get("svc") == "job" and body.get("op") == "finished":
                    clean.add(pid)
                    continue
                if body.get("svc") == "dealer":
                    reply = await service.handle(msg.job, pid, body)
                    await ch.send(control(me, msg.job, reply))
                    continue
            raise RemoteProtocolError(f"{label} sent something the dealer does not serve")
    except MPCError as exc:
        if pid not in clean:
            lost.append(f"{label}: {short(exc)}")
    finally:
        ch.close()


async def run_dealer(cfg: ClusterConfig, *, budget: int | None = None, wait: float = 600.0) -> int:
    """The stand-alone dealer process; returns the exit status."""
    if cfg.dealer is None:
        raise ConfigError("the cluster config has no [dealer] endpoint; the coordinator deals")
    me = Identity.dealer()
    service = DealerService(cfg.party_ids, budget)

    def admit(peer: Identity) -> bool:
        return peer.role is Role.PARTY and peer.party_id in cfg.party_ids

    listener = service_listener(cfg, me, cfg.dealer, admit)
    await listener.start()
    _say(f"listening on {cfg.dealer.listen_host}:{cfg.dealer.port}")
    clean: set[int] = set()
    lost: list[str] = []
    seen: set[int] = set()
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    grace_end = deadline
    try:
        while True:
            if lost:
                _say(f"party lost mid-job: {lost[0]}")
                for t in tasks:
                    t.cancel()
                return 1
            everyone_done = bool(seen) and all(t.done() for t in tasks) and seen <= clean
            if everyone_done and (seen == set(cfg.party_ids) or loop.time() >= grace_end):
                missing = sorted(set(cfg.party_ids) - seen)
                tail = f"; parties {missing} never connected" if missing else ""
                _say(f"every party closed cleanly; served {service.requests} requests{tail}")
                return 0
            if not everyone_done:
                grace_end = loop.time() + cfg.timeouts.round
            remaining = deadline - loop.time()
            if remaining <= 0:
                missing = sorted(set(cfg.party_ids) - seen)
                _say(
                    "timed out waiting for parties"
                    + (f" (never connected: {missing})" if missing else "")
                )
                return 1
            try:
                ch = await listener.next_channel(timeout=min(remaining, 0.2))
            except TimeoutError:
                continue
            pid = ch.peer.party_id
            if pid is not None:
                seen.add(pid)
                _say(f"{ch.peer.label} connected")
            t = asyncio.create_task(_serve_party(ch, service, me, clean, lost))
            tasks.add(t)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        await listener.aclose()


__all__ = ["DealerService", "run_dealer", "send_quietly"]
