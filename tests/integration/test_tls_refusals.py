"""TLS refusals over real sockets: untrusted CA, expired certificate, a lying HELLO, plain TCP.

Each hostile client is refused by a real party :class:`Listener`, the refusal is logged, and the
listener keeps working: a legitimate peer connects right afterwards.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from mpc_runtime import pki
from mpc_runtime.errors import PeerIdentityError, TransportError
from mpc_runtime.ids import Identity
from tests.helpers.cluster import (
    dial_party,
    expired_cert,
    hello_for,
    listening,
    write_identity_files,
)

TIMEOUT = 8.0


async def _legit_peer_still_connects(cfg, lst, pid: int = 3) -> None:  # type: ignore[no-untyped-def]
    """A correctly certified party dials the listener and is admitted."""
    ch = await dial_party(cfg, 1, me=Identity.party(pid))
    try:
        for _ in range(100):
            if Identity.party(pid) in lst.connected:
                break
            await asyncio.sleep(0.02)
        assert Identity.party(pid) in lst.connected
    finally:
        ch.close()


async def _wait_refusal(lst, count: int = 1) -> None:  # type: ignore[no-untyped-def]
    for _ in range(250):
        if len(lst.refusals) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"listener logged no refusal: {lst.refusals}")


async def test_certificate_from_another_ca_is_refused(make_cluster, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="mpc")
    _, cfg = make_cluster(3)
    # A second CA for the SAME cluster name: the identity URI looks right, the signature does not.
    other_key, other_ca = pki.make_ca(cfg.name)
    key = pki.generate_key()
    cert = pki.issue(
        other_key, other_ca, Identity.party(2), cfg.name, key.public_key(), ["127.0.0.1"]
    )
    cert_p, key_p = write_identity_files(tmp_path / "rogue", "party-2", key, cert)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        with pytest.raises(TransportError) as info:
            await dial_party(cfg, 1, me=Identity.party(2), cert=cert_p, key=key_p, timeout=2.0)
        assert "not issued by this cluster's CA" in str(info.value), info.value
        await _wait_refusal(lst)
        assert "not issued by this cluster's CA" in lst.refusals[0], lst.refusals
        assert Identity.party(2) not in lst.connected
        await _legit_peer_still_connects(cfg, lst)
    assert "refused connection" in caplog.text


async def test_expired_certificate_is_refused(make_cluster, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="mpc")
    _, cfg = make_cluster(3)
    key = pki.generate_key()
    cert = expired_cert(cfg, Identity.party(2), key)
    assert pki.verify_issued_by(cert, pki.load_cert(cfg.ca_cert_path))  # right CA, wrong dates
    cert_p, key_p = write_identity_files(tmp_path / "expired", "party-2", key, cert)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        with pytest.raises(TransportError) as info:
            await dial_party(cfg, 1, me=Identity.party(2), cert=cert_p, key=key_p, timeout=2.0)
        date = cert.not_valid_after_utc.strftime("%Y-%m-%d")
        assert "expired" in str(info.value) and date in str(info.value), info.value
        await _wait_refusal(lst)
        assert "expired" in lst.refusals[0], lst.refusals
        assert Identity.party(2) not in lst.connected
        await _legit_peer_still_connects(cfg, lst)
    assert "refused connection" in caplog.text


async def test_server_with_expired_certificate_is_refused_by_dialer(make_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The other direction: we dial a server whose certificate expired."""
    from mpc_runtime.transport.connect import Listener
    from mpc_runtime.transport.tls import server_context

    _, cfg = make_cluster(3)
    key = pki.generate_key()
    cert = expired_cert(cfg, Identity.party(1), key)
    cert_p, key_p = write_identity_files(tmp_path / "expired", "party-1", key, cert)
    ep = cfg.party(1)
    lst = Listener(
        ep.host,
        ep.port,
        ctx=server_context(cfg.ca_cert_path, cert_p, key_p),
        me=Identity.party(1),
        hello=hello_for(cfg),
        admit=lambda _i: True,
        max_frame_bytes=cfg.limits.max_frame_bytes,
    )
    await lst.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(PeerIdentityError) as info:
                await dial_party(cfg, 1, me=Identity.party(2), timeout=2.0)
        assert "party:1" in str(info.value)
        date = cert.not_valid_after_utc.strftime("%Y-%m-%d")
        assert "expired on" in str(info.value) and date in str(info.value), info.value
    finally:
        await lst.aclose()


async def test_hello_claiming_another_party_is_refused(make_cluster, caplog) -> None:  # type: ignore[no-untyped-def]
    """Party 3's certificate, but HELLO (and every message) says ``party:2``."""
    caplog.set_level(logging.INFO, logger="mpc")
    _, cfg = make_cluster(3)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        with pytest.raises(PeerIdentityError) as info:
            await dial_party(
                cfg,
                1,
                me=Identity.party(2),
                cert=cfg.cert_path(Identity.party(3)),
                key=cfg.key_path(Identity.party(3)),
            )
        text = str(info.value)
        assert "party:3" in text and "party:2" in text, text
        await _wait_refusal(lst)
        assert "party:3" in lst.refusals[0] and "party:2" in lst.refusals[0]
        # the listener recorded a typed error for whoever builds the mesh on it
        assert lst.errors and isinstance(lst.errors[0], PeerIdentityError)
        await _legit_peer_still_connects(cfg, lst, pid=2)
    assert "refused connection" in caplog.text


async def test_party_1_certificate_claiming_party_2(make_cluster, caplog) -> None:  # type: ignore[no-untyped-def]
    """Party 1's certificate while claiming party 2, against a listener that admits anyone."""
    from mpc_runtime.transport.connect import Listener
    from mpc_runtime.transport.mesh import tls_files

    caplog.set_level(logging.INFO, logger="mpc")
    _, cfg = make_cluster(3)
    ep = cfg.party(3)
    lst = Listener(
        ep.host,
        ep.port,
        ctx=tls_files(cfg, Identity.party(3)).server(),
        me=Identity.party(3),
        hello=hello_for(cfg),
        admit=lambda _i: True,
        max_frame_bytes=cfg.limits.max_frame_bytes,
    )
    await lst.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(PeerIdentityError) as info:
                await dial_party(
                    cfg,
                    3,
                    me=Identity.party(2),
                    cert=cfg.cert_path(Identity.party(1)),
                    key=cfg.key_path(Identity.party(1)),
                )
            text = str(info.value)
            assert "party:1" in text and "party:2" in text, text
            await _wait_refusal(lst)
            assert Identity.party(1) not in lst.connected
            assert Identity.party(2) not in lst.connected
    finally:
        await lst.aclose()
    assert "refused connection" in caplog.text


async def test_plain_tcp_to_tls_port_is_refused(make_cluster, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="mpc")
    _, cfg = make_cluster(3)
    ep = cfg.party(1)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        reader, writer = await asyncio.open_connection(ep.host, ep.port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        try:
            data = await reader.read(1024)
        except (ConnectionError, OSError):
            data = b""
        assert b"HTTP" not in data  # no answer in cleartext, just a closed connection
        writer.close()
        await _wait_refusal(lst)
        assert "TLS" in lst.refusals[0], lst.refusals
        await _legit_peer_still_connects(cfg, lst)
    assert "refused connection" in caplog.text


async def test_not_yet_valid_certificate_is_refused_with_its_date(make_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from cryptography.hazmat.primitives import hashes

    _, cfg = make_cluster(3)
    key = pki.generate_key()
    base = expired_cert(cfg, Identity.party(2), key)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    builder = (
        pki.x509.CertificateBuilder()
        .subject_name(base.subject)
        .issuer_name(base.issuer)
        .public_key(key.public_key())
        .serial_number(pki.x509.random_serial_number())
        .not_valid_before(later)
        .not_valid_after(later + dt.timedelta(days=30))
    )
    for ext in base.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    cert = builder.sign(pki.load_key(cfg.ca_key_path), hashes.SHA256())
    cert_p, key_p = write_identity_files(tmp_path / "future", "party-2", key, cert)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        with pytest.raises(TransportError) as info:
            await dial_party(cfg, 1, me=Identity.party(2), cert=cert_p, key=key_p, timeout=2.0)
        assert "not valid before" in str(info.value), info.value
        assert later.strftime("%Y-%m-%d") in str(info.value)
        await _wait_refusal(lst)
        assert "not valid yet" in lst.refusals[0], lst.refusals


async def test_a_certificate_of_the_wrong_role_is_refused(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """The analyst's (valid) certificate dialing a party's mesh port: wrong role."""
    _, cfg = make_cluster(3)
    analyst = Identity.recipient("analyst")
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        with pytest.raises(TransportError):
            await dial_party(cfg, 1, me=analyst, timeout=2.0)
        await _wait_refusal(lst)
        assert "recipient:analyst is not expected here" in lst.refusals[0], lst.refusals
        assert "wrong role" in lst.refusals[0]


async def test_dialing_a_server_proving_another_identity(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """We dial party 1's address expecting party 3: the certificate proves party:1, so we refuse."""
    _, cfg = make_cluster(3)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1):
        with pytest.raises(PeerIdentityError) as info:
            await dial_party(cfg, 1, me=Identity.party(2), expected=Identity.party(3))
    text = str(info.value)
    assert "party:1" in text and "party:3" in text, text


async def test_many_refusals_do_not_stop_the_listener(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """A burst of junk connections: each is refused, none is admitted, a real peer still gets in."""
    _, cfg = make_cluster(3)
    ep = cfg.party(1)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:

        async def junk(i: int) -> None:
            try:
                _, w = await asyncio.open_connection(ep.host, ep.port)
                w.write(bytes([0x16, 0x03, 0x01]) + bytes(range(i, i + 40)))
                await w.drain()
                w.close()
            except (ConnectionError, OSError):
                pass

        await asyncio.gather(*(junk(i) for i in range(10)))
        await _wait_refusal(lst, 10)
        assert not lst.connected and not lst.errors
        await _legit_peer_still_connects(cfg, lst)


async def test_silent_tcp_client_is_dropped_after_the_handshake_timeout(make_cluster) -> None:  # type: ignore[no-untyped-def]
    """Connect and say nothing (slowloris): refused when the handshake timeout runs out."""
    _, cfg = make_cluster(3, round_timeout=1.0)  # the listener's handshake timeout
    ep = cfg.party(1)
    async with asyncio.timeout(TIMEOUT), listening(cfg, 1) as lst:
        reader, writer = await asyncio.open_connection(ep.host, ep.port)
        await _legit_peer_still_connects(cfg, lst)  # served while the silent one hangs on
        try:
            async with asyncio.timeout(4.0):
                data = await reader.read(100)
        except (ConnectionError, OSError):
            data = b""
        assert data == b""
        await _wait_refusal(lst)
        assert "did not complete" in lst.refusals[0], lst.refusals
        writer.close()
