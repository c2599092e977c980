"""Dialing and accepting authenticated connections.

:func:`dial` connects with exponential backoff (capped at 0.25 s) under a deadline, checks that the
certificate proves the identity we wanted, and exchanges HELLO messages.  :class:`Listener` takes
plain TCP, upgrades it to TLS itself (so a failed handshake is our typed, logged refusal rather
than asyncio noise), reads the peer's identity from its certificate, and refuses a peer whose
HELLO claims a different identity, another cluster, or another job spec (with an ABORT saying so).

Refused certificates are explained on both sides: the listener logs why it refused ("its
certificate has expired"); the dialer says what is wrong with its own certificate ("ours expired on
2026-01-01 00:00 UTC") or, when it refuses the server, reads the server's certificate once more
without verifying it, only to say what is wrong with it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import (
    ConnectError,
    MPCError,
    PeerIdentityError,
    PeerLostError,
    ProtocolError,
    RemoteProtocolError,
    SpecMismatch,
)
from mpc_runtime.ids import Identity
from mpc_runtime.pki import der_certificate_problem, load_cert
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import ProtocolLink
from mpc_runtime.transport.tls import TLSFiles, peer_identity, verify_failure
from mpc_runtime.wire import Abort, EndOfStream, Hello, HelloEvent, PeerAbort, WireConnection

log = logging.getLogger("mpc.transport")

MAX_BACKOFF = 0.25
"""Longest pause between two dial attempts, seconds."""

HelloCheck = Callable[[Identity, Hello], None]
"""Raises an MPCError if a peer's HELLO is unacceptable."""

PAIR_SEED_BYTES = 16


def _fresh(hello: Hello) -> Hello:
    """Our HELLO for one connection: with 16 fresh random bytes toward the pair's seed."""
    return dataclasses.replace(hello, seed=os.urandom(PAIR_SEED_BYTES))


def pair_seed(mine: Hello, theirs: Hello) -> bytes | None:
    """The pair's seed: the XOR of both ends' HELLO seeds (uniform if either end is honest);
    None if the peer sent none."""
    if len(mine.seed) != PAIR_SEED_BYTES or len(theirs.seed) != PAIR_SEED_BYTES:
        return None
    return bytes(a ^ b for a, b in zip(mine.seed, theirs.seed, strict=True))


def compare_hello(mine: Hello) -> HelloCheck:
    """A check refusing a peer whose cluster, job id or spec hash differs from ours."""

    def check(peer: Identity, theirs: Hello) -> None:
        if theirs.cluster != mine.cluster:
            raise PeerIdentityError(f"{peer.label} belongs to another cluster", peer=peer.label)
        for field in ("job", "spec"):
            ours, other = getattr(mine, field), getattr(theirs, field)
            if ours and other != ours:
                raise SpecMismatch(
                    f"{peer.label} holds a different job spec ({field}: ours {ours[:16]},"
                    f" theirs {other[:16]}); refusing to start",
                    peer=peer.label,
                    culprit=peer.label,
                )

    return check


def cluster_check(cluster: str) -> HelloCheck:
    """A HELLO check that only compares the cluster (specs are compared by the join op)."""
    return compare_hello(Hello(cluster))


def refusal_error(peer: Identity, abort: Abort) -> MPCError:
    """The error for an ABORT a peer sent instead of HELLO."""
    text = f"{peer.label} refused the connection: {abort.reason}"
    if abort.code == "spec-mismatch":
        return SpecMismatch(text, peer=peer.label)
    if abort.code == "identity":
        return PeerIdentityError(text, peer=peer.label)
    return RemoteProtocolError(text, peer=peer.label)


async def _expect_hello(ch: Channel, deadline: Deadline, why_closed: Callable[[], str]) -> Hello:
    try:
        async with deadline.scope():
            event = await ch.next_event()
    except TimeoutError:
        raise PeerLostError(
            f"{ch.peer.label} sent no HELLO before the deadline", peer=ch.peer.label
        ) from None
    match event:
        case HelloEvent(hello=hello):
            return hello
        case PeerAbort(abort=abort):
            raise refusal_error(ch.peer, abort)
        case EndOfStream():
            raise PeerLostError(
                f"{ch.peer.label} closed the connection during the handshake{why_closed()}",
                peer=ch.peer.label,
            )
        case _:
            raise RemoteProtocolError(
                f"{ch.peer.label} did not start with HELLO", peer=ch.peer.label
            )


def _ssl_object(link: ProtocolLink) -> Any:
    return link.transport.get_extra_info("ssl_object") if link.transport is not None else None


def _closed_reason_of(link: ProtocolLink, tls: TLSFiles) -> Callable[[], str]:
    """Why a peer closed on us during the handshake, as a clause (or ''), computed when asked."""

    def why() -> str:
        reason = link.lost_reason
        if isinstance(reason, ssl.SSLError):
            return f": {verify_failure(reason)}"
        own = tls.own_problem()
        return f" (our certificate is {own})" if own else ""

    return why


async def _server_cert_problem(host: str, port: int, tls: TLSFiles, deadline: Deadline) -> str:
    """Read the server's certificate without verifying it, to say what is wrong with it."""
    try:
        async with asyncio.timeout(min(2.0, max(0.1, deadline.remaining()))):
            _, writer = await asyncio.open_connection(host, port, ssl=tls.diagnostic_client())
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.transport.abort()
        problem = der_certificate_problem(der, load_cert(tls.ca)) if der else None
    except (OSError, TimeoutError, ssl.SSLError, MPCError):
        return ""
    return f": its certificate is {problem}" if problem else ""


async def _connect(
    host: str, port: int, tls: TLSFiles, expected: Identity, deadline: Deadline, max_frame: int
) -> ProtocolLink:
    loop = asyncio.get_running_loop()
    try:
        _, link = await asyncio.wait_for(
            loop.create_connection(
                lambda: ProtocolLink(WireConnection(max_frame)),
                host,
                port,
                ssl=tls.client(),
                ssl_handshake_timeout=max(0.1, deadline.remaining()),
            ),
            timeout=max(0.1, deadline.remaining()),
        )
    except ssl.SSLCertVerificationError as exc:
        why = await _server_cert_problem(host, port, tls, deadline)
        raise PeerIdentityError(
            f"{expected.label} at {host}:{port} presented a certificate we do not trust"
            f"{why or f' ({exc.verify_message})'}",
            peer=expected.label,
            culprit=expected.label,
        ) from None
    except ssl.SSLError as exc:
        own = tls.own_problem()
        tail = f"; our certificate is {own}" if own else ""
        raise PeerIdentityError(
            f"TLS handshake with {expected.label} at {host}:{port} failed:"
            f" {verify_failure(exc)}{tail}",
            peer=expected.label,
        ) from None
    return link


async def dial(
    host: str,
    port: int,
    *,
    tls: TLSFiles,
    me: Identity,
    expected: Identity,
    hello: Hello,
    deadline: Deadline,
    max_frame_bytes: int,
    check: HelloCheck | None = None,
) -> Channel:
    """Connect to ``expected`` at host:port, retrying with capped backoff until ``deadline``."""
    delay = 0.02
    last = "no attempt made"
    while True:
        if deadline.expired:
            raise ConnectError(
                f"could not reach {expected.label} at {host}:{port} before the connect deadline"
                f" (last error: {last})",
                peer=expected.label,
                culprit=expected.label,
            )
        try:
            link = await _connect(host, port, tls, expected, deadline, max_frame_bytes)
        except (OSError, TimeoutError) as exc:
            last = type(exc).__name__ if not str(exc) else str(exc)[:120]
            await asyncio.sleep(min(delay, deadline.remaining()))
            delay = min(delay * 2, MAX_BACKOFF)
            continue
        try:
            got = peer_identity(_ssl_object(link), hello.cluster)
            if got != expected:
                raise PeerIdentityError(
                    f"{host}:{port} proved identity {got.label}, expected {expected.label}",
                    peer=expected.label,
                    claimed=got.label,
                )
            ch = Channel(link, got, me, max_frame_bytes, wire=link.wire)
            mine = _fresh(hello)
            await ch.send_hello(mine)
            at_least_1s = Deadline(max(deadline.when, Deadline.after(1.0).when))
            why = _closed_reason_of(link, tls)
            theirs = await _expect_hello(ch, at_least_1s, why)
            (check or compare_hello(hello))(got, theirs)
            ch.pair_seed = pair_seed(mine, theirs)
            return ch
        except MPCError:
            link.abort()
            raise
        except (ConnectionError, OSError) as exc:
            link.abort()
            last = type(exc).__name__
            await asyncio.sleep(min(delay, deadline.remaining()))
            delay = min(delay * 2, MAX_BACKOFF)


class Listener:
    """Accepts TLS connections from known identities and hands them out by identity."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ctx: ssl.SSLContext,
        me: Identity,
        hello: Hello,
        admit: Callable[[Identity], bool],
        max_frame_bytes: int,
        handshake_timeout: float = 10.0,
        check: HelloCheck | None = None,
        anonymous: Identity | None = None,
    ) -> None:
        """``anonymous``: the identity given to a peer that presents no certificate (the context
        must allow that); such a listener also admits one identity on many connections."""
        self.host, self.port = host, port
        self._anonymous = anonymous
        self._ctx = ctx
        self._me = me
        self._hello = hello
        self._admit = admit
        self._check = check or compare_hello(hello)
        self._max_frame = max_frame_bytes
        self._handshake_timeout = handshake_timeout
        self._server: asyncio.Server | None = None
        self._ready: dict[Identity, Channel] = {}
        self._queue: asyncio.Queue[Channel] = asyncio.Queue()
        self.errors: list[MPCError] = []
        self.refusals: list[str] = []
        self._changed = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(
                lambda: ProtocolLink(
                    WireConnection(self._max_frame),
                    on_connect=self._on_connect,
                    server_tls_pending=True,
                ),
                self.host,
                self.port,
                reuse_address=True,
            )
        except OSError as exc:
            raise ConnectError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None

    def _on_connect(self, link: ProtocolLink) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(link))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _serve(self, link: ProtocolLink) -> None:
        try:
            await self._handshake(link, link.peername)
        except asyncio.CancelledError:
            link.abort()
            raise

    def _refuse(self, addr: str, reason: str, link: ProtocolLink) -> None:
        text = f"refused connection from {addr}: {reason}"
        log.warning(text)
        self.refusals.append(text)
        link.abort()

    async def _tls(self, link: ProtocolLink, addr: str) -> Identity | None:
        """Upgrade to TLS and read the peer's identity; None (after logging why) if refused."""
        loop = asyncio.get_running_loop()
        try:
            if link.transport is None:
                raise ConnectionError("no transport")
            tls = await loop.start_tls(
                link.transport,
                link,
                self._ctx,
                server_side=True,
                ssl_handshake_timeout=self._handshake_timeout,
            )
            if tls is None:
                raise ConnectionError("connection closed during the TLS handshake")
            link.set_transport(tls)
        except ssl.SSLError as exc:
            self._refuse(addr, verify_failure(exc), link)
            return None
        except (TimeoutError, ConnectionError, OSError) as exc:
            self._refuse(addr, f"TLS handshake did not complete ({type(exc).__name__})", link)
            return None
        ssl_object = _ssl_object(link)
        if self._anonymous is not None and ssl_object is not None:
            if not ssl_object.getpeercert(binary_form=True):
                return self._anonymous
        try:
            ident = peer_identity(ssl_object, self._hello.cluster)
        except PeerIdentityError as exc:
            self._refuse(addr, str(exc), link)
            return None
        if not self._admit(ident):
            self._refuse(addr, f"{ident.label} is not expected here (wrong role or name)", link)
            return None
        return ident

    async def _handshake(self, link: ProtocolLink, addr: str) -> None:
        ident = await self._tls(link, addr)
        if ident is None:
            return
        ch = Channel(link, ident, self._me, self._max_frame, wire=link.wire)
        try:
            theirs = await _expect_hello(ch, Deadline.after(self._handshake_timeout), lambda: "")
        except RemoteProtocolError as exc:
            if exc.claimed is not None:
                reason = f"certificate proves {ident.label} but the peer claims to be {exc.claimed}"
                await ch.abort_quietly("", Abort("identity", reason))
                self._refuse(addr, reason, link)
                self._fail(PeerIdentityError(reason, peer=ident.label, claimed=exc.claimed))
            else:
                self._refuse(addr, str(exc), link)
            return
        except (ProtocolError, PeerLostError) as exc:
            self._refuse(addr, str(exc), link)
            return
        try:
            self._check(ident, theirs)
        except MPCError as exc:
            code = "spec-mismatch" if isinstance(exc, SpecMismatch) else "identity"
            await ch.abort_quietly("", Abort(code, exc.message))
            self._refuse(addr, str(exc), link)
            self._fail(exc)
            return
        if ident in self._ready and self._anonymous is None:
            self._refuse(addr, f"{ident.label} is already connected", link)
            return
        mine = _fresh(self._hello)
        try:
            await ch.send_hello(mine)
            ch.pair_seed = pair_seed(mine, theirs)
        except PeerLostError:
            self._refuse(addr, f"{ident.label} went away during the handshake", link)
            return
        log.info("accepted %s from %s", ident.label, addr)
        if self._anonymous is None:
            self._ready[ident] = ch
        self._queue.put_nowait(ch)
        self._changed.set()

    def _fail(self, err: MPCError) -> None:
        self.errors.append(err)
        self._changed.set()

    @property
    def connected(self) -> set[Identity]:
        return set(self._ready)

    async def accept_all(
        self, expected: set[Identity], deadline: Deadline
    ) -> dict[Identity, Channel]:
        """Wait until every expected identity has connected, or fail naming who is missing."""
        while True:
            if self.errors:
                raise self.errors[0]
            if expected <= set(self._ready):
                return {i: self._ready[i] for i in expected}
            if deadline.expired:
                missing = sorted(i.label for i in expected - set(self._ready))
                raise ConnectError(
                    f"{', '.join(missing)} did not connect before the connect deadline",
                    peer=missing[0],
                    culprit=missing[0],
                )
            self._changed.clear()
            try:
                async with deadline.scope():
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def next_channel(self, timeout: float | None = None) -> Channel:
        """The next admitted connection, in arrival order."""
        if timeout is None:
            return await self._queue.get()
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._handlers):
            t.cancel()

    async def aclose(self) -> None:
        self.close()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except (TimeoutError, asyncio.CancelledError):
                pass


__all__ = [
    "MAX_BACKOFF",
    "HelloCheck",
    "Listener",
    "cluster_check",
    "compare_hello",
    "dial",
    "refusal_error",
]
