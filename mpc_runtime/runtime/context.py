"""The context protocol code receives: who we are, op paths, rounds, preprocessing and reveal.

A :class:`Context` is passed explicitly to every protocol function (there is no global runtime).
``ctx.scope("mul")`` makes a child whose op path comes from the call structure (``main/mul#0``),
so concurrent operations never mix their messages.  Each ``exchange`` on a context is one round:
every party sends its messages for that round and then waits (bounded by the round timeout) for
the ones it expects.  The ledger counts rounds, messages and bytes per phase and op path: frame
sizes come from the channel (sent) and from the events (received), counted once.

When a wait times out, the context asks the liveness monitor who is really silent: a party
blocked behind a frozen peer is not blamed; the frozen peer is
(:class:`~mpc_runtime.errors.PeerUnresponsive`).

May import: numpy, errors, ids, wire, preprocessing (requests and provider), sharing.shared,
runtime.core, runtime.arrays, runtime.ledger, runtime.reveal.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from mpc_runtime.errors import (
    LocalProtocolError,
    MPCError,
    PeerLostError,
    PreprocessingExhausted,
    RoundTimeout,
    UnauthorizedReveal,
)
from mpc_runtime.ids import Identity, OpPath
from mpc_runtime.preprocessing.requests import Component, Material, check_material
from mpc_runtime.runtime.arrays import ArraySpec
from mpc_runtime.runtime.contrib import ContributionBatch, ContributionDecl, agree, totals_of
from mpc_runtime.runtime.core import InputDecl, SessionState
from mpc_runtime.runtime.dp import NoiseDecl
from mpc_runtime.runtime.ledger import OFFLINE, ONLINE, Counts, Ledger
from mpc_runtime.sharing.shared import Shared
from mpc_runtime.wire import Data, Message, MsgKind, payload_nbytes

__all__ = ["ArraySpec", "Context", "Program"]

T = TypeVar("T")


class Context:
    """One party's handle on an operation: identity, op path, rounds, preprocessing, reveal."""

    def __init__(self, state: SessionState, path: OpPath, phase: str = ONLINE) -> None:
        self._s = state
        self.path = path
        self.phase = phase
        self._round = 0
        self._children: dict[str, int] = {}

    # ---- who is here ---------------------------------------------------------------------
    @property
    def party_id(self) -> int:
        return self._s.me

    @property
    def parties(self) -> tuple[int, ...]:
        return self._s.parties

    @property
    def n(self) -> int:
        return len(self._s.parties)

    @property
    def peers(self) -> tuple[int, ...]:
        return tuple(p for p in self._s.parties if p != self._s.me)

    @property
    def index(self) -> int:
        """0-based position of this party among the sorted party ids."""
        return self._s.parties.index(self._s.me)

    @property
    def is_first(self) -> bool:
        """True on the party with the lowest id (it adds public constants to shares)."""
        return self._s.me == self._s.parties[0]

    @property
    def job(self) -> str:
        return self._s.job

    @property
    def ledger(self) -> Ledger:
        return self._s.ledger

    @property
    def inputs(self) -> dict[str, Any]:
        """This party's private inputs by name (empty on parties that provide none)."""
        return self._s.inputs

    @property
    def params(self) -> dict[str, Any]:
        """The job's public parameters."""
        return self._s.params

    @property
    def outputs(self) -> dict[str, Any]:
        """Outputs revealed to this party so far, by name."""
        return self._s.outputs

    @property
    def round_timeout(self) -> float:
        return self._s.round_timeout

    @property
    def openings_allowed(self) -> bool:
        """Whether unnamed openings to every party are allowed (tests and benchmarks only)."""
        return self._s.policy is not None and self._s.policy.allow_open

    @property
    def contribution(self) -> ContributionDecl:
        """What the job's contributors submit (shape, encoding, declared bounds, checks)."""
        if self._s.contribution is None:
            raise LocalProtocolError("this job takes no contributions")
        return self._s.contribution

    @property
    def contribution_totals(self) -> dict[str, int]:
        """What the relay reported at the close of the window (after the last batch)."""
        return dict(totals_of(self._s.feed))

    async def contributions(self) -> AsyncIterator[ContributionBatch]:
        """The contributors' shares, batch by batch, each agreed by every party (1 round)."""
        feed, decl = self._s.feed, self.contribution
        if feed is None:
            raise LocalProtocolError("this session receives no contributions")
        scope = self.scope("contributions")
        while (batch := await feed.next_batch()) is not None:
            yield await agree(scope.scope("agree"), batch, decl, self._s.relay)

    def declared_inputs(self, name: str) -> list[InputDecl]:
        """The public declarations of input ``name``, one per owner, by party id."""
        return sorted((d for d in self._s.declared if d.name == name), key=lambda d: d.party)

    # ---- structure -------------------------------------------------------------------------
    def scope(self, name: str) -> Context:
        """A child context for a sub-operation; call it before the operation's first await."""
        if not name or "/" in name or "#" in name:
            raise LocalProtocolError(f"bad scope name {name!r}")
        k = self._children.get(name, 0)
        self._children[name] = k + 1
        child = Context(self._s, self.path.child(f"{name}#{k}"), self.phase)
        self._s.current_op = str(child.path)
        return child

    # ---- communication ---------------------------------------------------------------------
    async def exchange(
        self,
        outgoing: Mapping[int, Any],
        expect_from: Iterable[int] | None = None,
        *,
        expect: ArraySpec | Mapping[int, ArraySpec] | None = None,
    ) -> dict[int, Any]:
        """One round: send ``outgoing[p]`` to each p, then receive from each of ``expect_from``.

        ``expect_from`` defaults to every peer.  With ``expect`` every received value must be an
        array of that dtype and shape, else a RemoteProtocolError names the sender.
        """
        s = self._s
        self._round += 1
        rnd, path = self._round, str(self.path)
        s.current_op = path
        senders = tuple(self.peers if expect_from is None else expect_from)
        if len(set(senders)) != len(senders):
            raise LocalProtocolError("expect_from names a party twice", op_path=path)
        for p in (*outgoing.keys(), *senders):
            if p not in s.channels:
                raise LocalProtocolError(f"party {p} is not a peer of party {s.me}", op_path=path)
        started = time.perf_counter()
        counts = Counts(rounds=1)
        await self._send_all(outgoing, path, rnd, counts)
        received: dict[int, Any] = {}
        for pid in senders:
            label = Identity.party(pid).label
            event = await self._take(path, rnd, label)
            value = event.body
            spec = expect.get(pid) if isinstance(expect, Mapping) else expect
            if spec is not None:
                value = spec.check(value, label, path, rnd)
            received[pid] = value
            counts.messages_received += 1
            counts.bytes_received += event.frame_bytes
            counts.payload_bytes_received += payload_nbytes(value)
        counts.seconds = time.perf_counter() - started
        s.ledger.record(self.phase, path, counts)
        return received

    async def _send_all(
        self, outgoing: Mapping[int, Any], path: str, rnd: int, counts: Counts
    ) -> None:
        s = self._s
        sends = []
        for pid, value in outgoing.items():
            msg = Message(MsgKind.DATA, s.label, s.job, path, rnd, value)
            sends.append(s.channels[pid].send(msg))
            counts.messages_sent += 1
            counts.payload_bytes_sent += payload_nbytes(value)
        started = False
        try:
            async with asyncio.timeout(s.round_timeout):
                started = True
                sizes = list(await asyncio.gather(*sends)) if sends else []
        except TimeoutError:
            suspect = s.liveness.suspect()
            if suspect is not None:
                raise s.liveness.frozen_error(suspect).with_context(
                    op_path=path, round=rnd
                ) from None
            raise RoundTimeout(
                "peers did not accept our messages within the round timeout",
                op_path=path,
                round=rnd,
            ) from None
        except PeerLostError as err:  # it may have told us why first: an ABORT still being read
            raise (await _explained(s, err)).with_context(op_path=path, round=rnd) from None
        except MPCError as err:
            raise err.with_context(op_path=path, round=rnd) from None
        finally:
            if not started:
                for coro in sends:
                    coro.close()  # never awaited: gather was not reached
        counts.bytes_sent = sum(sizes)

    async def _take(self, path: str, rnd: int, label: str) -> Data:
        s = self._s
        try:
            return await s.mailbox.take(path, rnd, label, s.round_timeout)
        except RoundTimeout:
            suspect = s.liveness.suspect()
            if suspect is not None and suspect.peer.label != label:
                raise s.liveness.frozen_error(suspect).with_context(
                    op_path=path, round=rnd
                ) from None
            raise

    async def broadcast(self, value: Any, *, expect: ArraySpec | None = None) -> dict[int, Any]:
        """One round: send ``value`` to every peer and receive theirs; includes our own value."""
        got = await self.exchange({p: value for p in self.peers}, expect=expect)
        got[self.party_id] = value
        return got

    async def send(self, to: int, value: Any) -> None:
        """One round on this context in which we only send (the receiver calls ``receive``)."""
        await self.exchange({to: value}, expect_from=())

    async def receive(self, frm: int, *, expect: ArraySpec | None = None) -> Any:
        """One round on this context in which we only receive from ``frm``."""
        return (await self.exchange({}, expect_from=(frm,), expect=expect))[frm]

    # ---- preprocessing and reveal ----------------------------------------------------------
    async def material(self, components: Sequence[Component]) -> list[Material]:
        """This party's preprocessing material for ``components``, from the job's provider.

        Interactive providers run their rounds under a child scope in the ledger's offline
        phase; a dealer's bytes are recorded there too.
        """
        provider = self._s.provider
        if provider is None:
            raise PreprocessingExhausted(
                "this session has no preprocessing provider", op_path=str(self.path)
            )
        pre = Context(self._s, self.path.child(f"pre#{self._next('pre')}"), OFFLINE)
        started = time.perf_counter()
        fetched = await provider.fetch(pre, str(pre.path), components)
        check_material(components, fetched.materials, peer=None)
        if fetched.third_party_requests:
            self._s.ledger.record(
                OFFLINE,
                str(pre.path),
                Counts(
                    rounds=fetched.third_party_requests,
                    messages_sent=fetched.third_party_requests,
                    messages_received=fetched.third_party_requests,
                    bytes_received=fetched.third_party_bytes,
                    payload_bytes_received=fetched.third_party_bytes,
                    seconds=time.perf_counter() - started,
                ),
            )
        return fetched.materials

    def pair_keys(self, owner: int) -> dict[int, bytes]:
        """16-byte PRG keys only ``owner`` and one other party know, fresh for this job, op path
        and call: ``{p: key}`` for every other party p if we are the owner, else ``{owner: key}``.

        Each key is HMAC-SHA256 of the pair's seed (agreed in the mesh handshake, never sent
        again or logged) over the job id, op path, call number and owner, cut to 16 bytes.
        Every party calls this at the same point of the program, so both ends of each pair
        derive the same key without a message: this is what makes input sharing free.
        """
        s = self._s
        k = self._next("pair-keys")
        info = f"{s.job}\x00{self.path}\x00{k}\x00{owner}".encode()
        peers = [p for p in self.parties if p != owner] if owner == s.me else [owner]
        keys: dict[int, bytes] = {}
        for p in peers:
            seed = s.channels[p].pair_seed if p in s.channels else None
            if seed is None:
                raise LocalProtocolError(
                    f"no pair seed with party {p}: share inputs by messages"
                    ' (params input_sharing = "messages")',
                    op_path=str(self.path),
                )
            keys[p] = hmac.new(seed, info, hashlib.sha256).digest()[:16]
        return keys

    def _next(self, name: str) -> int:
        k = self._children.get(name, 0)
        self._children[name] = k + 1
        return k

    def declares_output(self, name: str) -> bool:
        """Whether the job declares output ``name`` (programs with optional outputs ask)."""
        return self._s.policy is not None and name in self._s.policy.outputs

    async def reveal(
        self,
        name: str,
        value: Shared,
        *,
        to: Iterable[str | Identity] | None = None,
        divisor: int = 1,
        sensitivity: Any = None,
        noised: bool = False,
    ) -> np.ndarray[Any, Any] | None:
        """Reveal output ``name`` (a Shared value; fixed point decoded from its ``frac_bits``) to
        the recipients the job names; returns the value on a recipient, None elsewhere.

        ``divisor`` is a public count the recipients divide by (an average reveals the sum).
        If the job declares noise on the output, each party adds its share of it first
        (``sensitivity``: what one record can change, from the declared bounds; see
        :mod:`mpc_runtime.runtime.dp`); ``noised`` says the program applied its mechanism.
        """
        policy = self._s.policy
        if policy is None:
            raise UnauthorizedReveal(f"no reveal policy: output {name!r} may go to nobody")
        return await policy.reveal(
            self.scope("reveal"),
            self._s.outputs,
            name,
            value,
            to=to,
            divisor=divisor,
            sensitivity=sensitivity,
            noised=noised,
        )

    def output_noise(self, name: str) -> NoiseDecl | None:
        """The differential-privacy noise the job declares on output ``name``, if any."""
        policy = self._s.policy
        return policy.noise.get(name) if policy is not None else None

    def __repr__(self) -> str:
        return f"Context(party={self.party_id}, path={self.path}, round={self._round})"


EXPLAIN_WAIT = 0.5
"""How long a send that found a peer gone waits for that peer's ABORT to be read."""


async def _explained(s: SessionState, err: MPCError) -> MPCError:
    """The session's failure once the readers have seen it (an ABORT names the real culprit), or
    ``err`` if nothing better arrives within :data:`EXPLAIN_WAIT`."""
    try:
        async with asyncio.timeout(EXPLAIN_WAIT):
            while s.mailbox.failure is None:
                await asyncio.sleep(0.01)
    except TimeoutError:
        return err
    return s.mailbox.failure


Program = Callable[[Context], Awaitable[Any]]
"""A secure computation: ``async def program(ctx: Context) -> Any``, run on every party."""
