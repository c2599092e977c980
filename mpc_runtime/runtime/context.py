"""The context protocol code receives: who we are, op paths, rounds, preprocessing and reveal.

A :class:`Context` is passed explicitly to every protocol function (there is no global runtime).
``ctx.scope("mul")`` makes a child whose op path comes from the call structure (``main/mul#0``),
so concurrent operations never mix their messages.  Each ``exchange`` on a context is one round:
every party sends its messages for that round and then waits (bounded by the round timeout) for
the ones it expects.  The ledger counts rounds, messages and bytes per op path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError, MPCError, RemoteProtocolError
from mpc_runtime.ids import Identity, OpPath
from mpc_runtime.runtime.ledger import OFFLINE, ONLINE, Counts
from mpc_runtime.wire import Message, MsgKind, payload_nbytes

if TYPE_CHECKING:
    from mpc_runtime.runtime.session import Session
    from mpc_runtime.sharing.dealer import Component


class ArraySpec:
    """What an incoming array must look like: dtype and shape, checked before use."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: Any, shape: Sequence[int]) -> None:
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)

    @classmethod
    def like(cls, arr: np.ndarray) -> ArraySpec:
        return cls(arr.dtype, arr.shape)

    def check(self, value: Any, sender: str, path: str, rnd: int) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise RemoteProtocolError(
                f"{sender} sent {type(value).__name__} where an array was expected",
                peer=sender,
                op_path=path,
                round=rnd,
            )
        if value.dtype != self.dtype or value.shape != self.shape:
            raise RemoteProtocolError(
                f"{sender} sent a {value.dtype} array of shape {value.shape}, expected"
                f" {self.dtype} of shape {self.shape}",
                peer=sender,
                op_path=path,
                round=rnd,
            )
        return value


class Context:
    """One party's handle on an operation: identity, op path, rounds, dealer and reveal."""

    def __init__(self, session: Session, path: OpPath) -> None:
        self._s = session
        self.path = path
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
    def ledger(self) -> Any:
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

    # ---- structure -------------------------------------------------------------------------
    def scope(self, name: str) -> Context:
        """A child context for a sub-operation; call it before the operation's first await."""
        if not name or "/" in name or "#" in name:
            raise LocalProtocolError(f"bad scope name {name!r}")
        k = self._children.get(name, 0)
        self._children[name] = k + 1
        return Context(self._s, self.path.child(f"{name}#{k}"))

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
        rnd = self._round
        path = str(self.path)
        senders = tuple(self.peers if expect_from is None else expect_from)
        for p in (*outgoing.keys(), *senders):
            if p not in s.channels:
                raise LocalProtocolError(f"party {p} is not a peer of party {s.me}", op_path=path)
        started = time.perf_counter()
        sent = Counts(rounds=1)
        sends = []
        for pid, value in outgoing.items():
            msg = Message(
                MsgKind.DATA, sender=s.identity.label, job=s.job, path=path, round=rnd, body=value
            )
            sends.append(s.channels[pid].send(msg))
            sent.messages_sent += 1
            sent.payload_bytes_sent += payload_nbytes(value)
        try:
            async with asyncio.timeout(s.round_timeout):
                if len(sends) == 1:
                    sizes = [await sends[0]]
                elif sends:
                    sizes = list(await asyncio.gather(*sends))
                else:
                    sizes = []
        except TimeoutError:
            from mpc_runtime.errors import RoundTimeout

            raise RoundTimeout(
                "peers did not accept our messages within the round timeout",
                op_path=path,
                round=rnd,
            ) from None
        except MPCError as err:  # e.g. a peer lost while we sent: say which op we were in
            if err.op_path is not None:
                raise
            raise type(err)(err.message, peer=err.peer, op_path=path, round=rnd) from None
        finally:
            for coro in sends:
                if asyncio.iscoroutine(coro):
                    coro.close()
        sent.bytes_sent = sum(sizes)
        received: dict[int, Any] = {}
        for pid in senders:
            label = Identity.party(pid).label
            msg = await s.mailbox.take(path, rnd, label, s.round_timeout)
            value = msg.body
            spec = expect.get(pid) if isinstance(expect, Mapping) else expect
            if spec is not None:
                value = spec.check(value, label, path, rnd)
            received[pid] = value
            sent.messages_received += 1
            sent.bytes_received += s.mailbox.frame_bytes(path, rnd, label)
            sent.payload_bytes_received += payload_nbytes(value)
        sent.seconds = time.perf_counter() - started
        s.ledger.record(ONLINE, path, sent)
        return received

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
    async def material(self, components: Sequence[Component]) -> list[dict[str, np.ndarray]]:
        """This party's dealer material for ``components`` (keyed by this context's op path)."""
        if self._s.dealer is None:
            from mpc_runtime.errors import PreprocessingExhausted

            raise PreprocessingExhausted("this session has no dealer", op_path=str(self.path))
        started = time.perf_counter()
        mats, nbytes = await self._s.dealer.fetch(str(self.path), list(components))
        self._s.ledger.record(
            OFFLINE,
            str(self.path),
            Counts(
                rounds=1,
                messages_sent=1,
                messages_received=1,
                bytes_received=nbytes,
                payload_bytes_received=nbytes,
                seconds=time.perf_counter() - started,
            ),
        )
        return mats

    async def reveal(self, name: str, shares: Any, **kwargs: Any) -> Any:
        """Reveal output ``name`` to the recipients the job names; None on non-recipients."""
        if self._s.revealer is None:
            from mpc_runtime.errors import UnauthorizedReveal

            raise UnauthorizedReveal(f"no reveal policy: output {name!r} may go to nobody")
        return await self._s.revealer.reveal(self.scope("reveal"), name, shares, **kwargs)

    def __repr__(self) -> str:
        return f"Context(party={self.party_id}, path={self.path}, round={self._round})"
