"""Dialing and accepting authenticated connections.

:func:`dial` connects with exponential backoff under a deadline (never forever), checks that the
certificate proves the identity we wanted, and exchanges HELLO messages.  :class:`Listener` takes
plain TCP, upgrades it to TLS itself (so a failed handshake is our typed, logged refusal rather
than asyncio noise), reads the peer's identity from its certificate, and refuses a peer whose
HELLO claims a different identity, another cluster, or another job spec.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

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
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import ProtocolLink
from mpc_runtime.transport.tls import peer_identity
from mpc_runtime.wire import Message, MsgKind, WireConnection

log = logging.getLogger("mpc.transport")

HelloCheck = Callable[[Identity, dict[str, Any]], None]
"""Raises an MPCError if a peer's HELLO body is unacceptable."""


def compare_hello(mine: dict[str, Any]) -> HelloCheck:
    """A check refusing a peer whose cluster, job id or spec hash differs from ours."""

    def check(peer: Identity, theirs: dict[str, Any]) -> None:
        if theirs.get("cluster") != mine.get("cluster"):
            raise PeerIdentityError(f"{peer.label} belongs to another cluster", peer=peer.label)
        for field in ("job", "spec"):
            if field in mine and theirs.get(field) != mine[field]:
                raise SpecMismatch(
                    f"{peer.label} holds a different job spec "
                    f"({field}: ours {str(mine[field])[:16]},"
                    f" theirs {str(theirs.get(field))[:16]});"
                    " refusing to start",
                    peer=peer.label,
                )

    return check


def _abort_error(peer: Identity, body: Any) -> MPCError:
    reason = body.get("reason", "no reason given") if isinstance(body, dict) else "no reason"
    code = body.get("code", "") if isinstance(body, dict) else ""
    text = f"{peer.label} refused the connection: {str(reason)[:200]}"
    if code == "spec-mismatch":
        return SpecMismatch(text, peer=peer.label)
    if code == "identity":
        return PeerIdentityError(text, peer=peer.label)
    return RemoteProtocolError(text, peer=peer.label)


async def _expect_hello(ch: Channel, timeout: float) -> dict[str, Any]:
    try:
        async with asyncio.timeout(timeout):
            msg = await ch.receive()
    except TimeoutError:
        raise PeerLostError(f"{ch.peer.label} sent no HELLO within {timeout:g}s") from None
    if msg is None:
        raise PeerLostError(f"{ch.peer.label} closed the connection during the handshake")
    if msg.kind is MsgKind.ABORT:
        raise _abort_error(ch.peer, msg.body)
    if msg.kind is not MsgKind.HELLO or not isinstance(msg.body, dict):
        raise RemoteProtocolError(f"{ch.peer.label} did not start with HELLO", peer=ch.peer.label)
    return msg.body


async def dial(
    host: str,
    port: int,
    *,
    ctx: ssl.SSLContext,
    me: Identity,
    expected: Identity,
    cluster: str,
    hello: dict[str, Any],
    deadline: float,
    max_frame_bytes: int,
    check: HelloCheck | None = None,
) -> Channel:
    """Connect to ``expected`` at host:port, retrying with backoff until ``deadline``."""
    loop = asyncio.get_running_loop()
    delay = 0.05
    last = "no attempt made"
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise ConnectError(
                f"could not reach {expected.label} at {host}:{port} before the connect deadline"
                f" (last error: {last})",
                peer=expected.label,
            )
        try:
            _, link = await asyncio.wait_for(
                loop.create_connection(
                    lambda: ProtocolLink(WireConnection(max_frame_bytes)),
                    host,
                    port,
                    ssl=ctx,
                    ssl_handshake_timeout=remaining,
                ),
                timeout=remaining,
            )
        except ssl.SSLCertVerificationError as exc:
            raise PeerIdentityError(
                f"{host}:{port} presented a certificate we do not trust ({exc.verify_message})",
                peer=expected.label,
            ) from None
        except ssl.SSLError as exc:
            raise PeerIdentityError(
                f"TLS handshake with {host}:{port} failed ({exc.reason or type(exc).__name__})",
                peer=expected.label,
            ) from None
        except (OSError, TimeoutError) as exc:
            last = type(exc).__name__ if not str(exc) else str(exc)[:120]
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 1.0)
            continue
        try:
            got = peer_identity(_ssl_object(link), cluster)
            if got != expected:
                raise PeerIdentityError(
                    f"{host}:{port} proved identity {got.label}, expected {expected.label}",
                    peer=expected.label,
                )
            ch = Channel(link, got, me, max_frame_bytes, wire=link.wire)
            await ch.send(Message(MsgKind.HELLO, sender=me.label, body=hello))
            body = await _expect_hello(ch, max(1.0, deadline - loop.time()))
            (check or compare_hello(hello))(got, body)
            return ch
        except MPCError:
            link.abort()
            raise
        except (ConnectionError, OSError) as exc:
            link.abort()
            last = type(exc).__name__
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 1.0)


def _ssl_object(link: ProtocolLink) -> Any:
    return link.transport.get_extra_info("ssl_object") if link.transport is not None else None


class Listener:
    """Accepts TLS connections from known identities and hands them out by identity."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ctx: ssl.SSLContext,
        me: Identity,
        cluster: str,
        hello: dict[str, Any],
        admit: Callable[[Identity], bool],
        max_frame_bytes: int,
        handshake_timeout: float = 10.0,
        check: HelloCheck | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._ctx = ctx
        self._me = me
        self._cluster = cluster
        self._hello = hello
        self._admit = admit
        self._check = check or compare_hello(hello)
        self._max_frame = max_frame_bytes
        self._handshake_timeout = handshake_timeout
        self._server: asyncio.Server | None = None
        self._ready: dict[Identity, Channel] = {}
        self._waiters: dict[Identity, asyncio.Future[Channel]] = {}
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
        addr = link.peername
        try:
            await self._handshake(link, addr)
        except asyncio.CancelledError:
            link.abort()
            raise

    def _refuse(self, addr: str, reason: str, link: ProtocolLink) -> None:
        text = f"refused connection from {addr}: {reason}"
        log.warning(text)
        self.refusals.append(text)
        link.abort()

    async def _handshake(self, link: ProtocolLink, addr: str) -> None:
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
            self._refuse(addr, f"TLS handshake failed ({exc.reason or type(exc).__name__})", link)
            return
        except (TimeoutError, ConnectionError, OSError) as exc:
            self._refuse(addr, f"TLS handshake did not complete ({type(exc).__name__})", link)
            return
        try:
            ident = peer_identity(_ssl_object(link), self._cluster)
        except PeerIdentityError as exc:
            self._refuse(addr, str(exc), link)
            return
        if not self._admit(ident):
            self._refuse(addr, f"{ident.label} is not expected here", link)
            return
        ch = Channel(link, ident, self._me, self._max_frame, wire=link.wire)
        try:
            body = await _expect_hello(ch, self._handshake_timeout)
        except RemoteProtocolError as exc:
            if "claiming to be" in exc.message:
                claimed = getattr(exc, "claimed", "another identity")
                reason = f"certificate proves {ident.label} but the peer claims to be {claimed}"
                await self._send_abort(ch, "identity", reason)
                self._refuse(addr, reason, link)
                self.errors.append(PeerIdentityError(reason, peer=ident.label))
                self._changed.set()
            else:
                self._refuse(addr, str(exc), link)
            return
        except (ProtocolError, PeerLostError) as exc:
            self._refuse(addr, str(exc), link)
            return
        try:
            self._check(ident, body)
        except MPCError as exc:
            code = "spec-mismatch" if isinstance(exc, SpecMismatch) else "identity"
            await self._send_abort(ch, code, exc.message)
            self._refuse(addr, str(exc), link)
            self.errors.append(exc)
            self._changed.set()
            return
        if ident in self._ready:
            self._refuse(addr, f"{ident.label} is already connected", link)
            return
        try:
            await ch.send(Message(MsgKind.HELLO, sender=self._me.label, body=self._hello))
        except PeerLostError:
            self._refuse(addr, f"{ident.label} went away during the handshake", link)
            return
        log.info("accepted %s from %s", ident.label, addr)
        self._ready[ident] = ch
        self._queue.put_nowait(ch)
        self._changed.set()

    async def _send_abort(self, ch: Channel, code: str, reason: str) -> None:
        body = {"code": code, "reason": reason[:200]}
        await ch.send_quietly(Message(MsgKind.ABORT, sender=self._me.label, body=body))

    @property
    def connected(self) -> set[Identity]:
        return set(self._ready)

    async def accept_all(self, expected: set[Identity], deadline: float) -> dict[Identity, Channel]:
        """Wait until every expected identity has connected, or fail naming who is missing."""
        loop = asyncio.get_running_loop()
        while True:
            if self.errors:
                raise self.errors[0]
            if expected <= set(self._ready):
                return {i: self._ready[i] for i in expected}
            remaining = deadline - loop.time()
            if remaining <= 0:
                missing = sorted(i.label for i in expected - set(self._ready))
                raise ConnectError(
                    f"{', '.join(missing)} did not connect before the connect deadline",
                    peer=missing[0],
                )
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
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
