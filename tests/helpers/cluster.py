"""Throwaway clusters for integration tests: free ports, a config file, certificates, meshes.

Everything lives under a test's ``tmp_path`` and listens on ports the kernel just handed out,
so these tests run in parallel with others (and with each other) without clashing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpc_runtime import pki
from mpc_runtime.config import ClusterConfig, load_cluster
from mpc_runtime.deadline import Deadline
from mpc_runtime.ids import Identity
from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.connect import Listener, dial
from mpc_runtime.transport.mesh import build_mesh, party_listener
from mpc_runtime.transport.tls import TLSFiles
from mpc_runtime.wire import Hello

LOCAL = "127.0.0.1"


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free a moment ago (bound to port 0, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOCAL, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def write_cluster(
    tmp_path: Path,
    n: int = 3,
    *,
    name: str = "test-cluster",
    connect: float = 5.0,
    round_timeout: float = 5.0,
    max_frame_bytes: int = 65536,
    dealer: bool = False,
    preprocessing: str = "dealer",
    certs: bool = True,
) -> tuple[Path, ClusterConfig]:
    """Write a loopback cluster of ``n`` parties on free ports; make its certificates.

    With ``dealer`` the cluster has a separate dealer endpoint; otherwise, for the ``dealer``
    provider, the coordinator embeds the dealer (the explicit opt-in).
    """
    ports = free_ports(n + 3)
    embedded = preprocessing == "dealer" and not dealer
    lines = [
        f'name = "{name}"',
        'cert_dir = "certs"',
        f'preprocessing = "{preprocessing}"',
        "",
        "[coordinator]",
        f'host = "{LOCAL}"',
        f"port = {ports[n]}",
        f"embedded_dealer = {'true' if embedded else 'false'}",
        f"contributor_port = {ports[n + 2]}",
        "",
    ]
    if dealer:
        lines += ["[dealer]", f'host = "{LOCAL}"', f"port = {ports[n + 1]}", ""]
    lines += [
        "[timeouts]",
        f"connect = {connect}",
        f"round = {round_timeout}",
        "",
        "[limits]",
        f"max_frame_bytes = {max_frame_bytes}",
        "",
    ]
    for i in range(1, n + 1):
        lines += [
            "[[parties]]",
            f"id = {i}",
            f'name = "p{i}"',
            f'host = "{LOCAL}"',
            f"port = {ports[i - 1]}",
            "",
        ]
    lines += ["[[recipients]]", 'name = "analyst"', ""]
    path = tmp_path / "cluster.toml"
    path.write_text("\n".join(lines))
    cfg = load_cluster(path)
    if certs:
        pki.ensure_cluster_certs(cfg)
    return path, cfg


def hello_for(cfg: ClusterConfig, job: str = "j") -> Hello:
    return Hello(cfg.name, job, "spec-hash")


# ---- certificates made by hand ---------------------------------------------------------------


def write_identity_files(
    directory: Path, stem: str, key: Any, cert: x509.Certificate
) -> tuple[Path, Path]:
    """Write ``stem.key`` / ``stem.pem``; returns (cert path, key path)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_p, key_p = directory / f"{stem}.pem", directory / f"{stem}.key"
    pki.write_private_key(key_p, key, force=True)
    pki.write_cert(cert_p, cert)
    return cert_p, key_p


def expired_cert(
    cfg: ClusterConfig, ident: Identity, key: Any, *, days_ago: int = 1
) -> x509.Certificate:
    """A certificate signed by the cluster CA, otherwise well-formed, that expired ``days_ago``."""
    ca_key = pki.load_key(cfg.ca_key_path)
    ca_cert = pki.load_cert(cfg.ca_cert_path)
    now = dt.datetime.now(dt.UTC)
    pub = key.public_key()
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, ident.label),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, cfg.name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=days_ago + 30))
        .not_valid_after(now - dt.timedelta(days=days_ago))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(ident.uri(cfg.name)),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# ---- dialing and meshes ------------------------------------------------------------------------


async def dial_party(
    cfg: ClusterConfig,
    target: int,
    *,
    me: Identity,
    cert: Path | None = None,
    key: Path | None = None,
    ca: Path | None = None,
    hello: Hello | None = None,
    timeout: float = 3.0,
    expected: Identity | None = None,
) -> Channel:
    """Dial party ``target``'s listener as ``me`` (by default with ``me``'s own cert files)."""
    ident_files = Identity.party(me.party_id) if me.party_id is not None else me
    tls = TLSFiles(
        ca or cfg.ca_cert_path,
        cert or cfg.cert_path(ident_files),
        key or cfg.key_path(ident_files),
    )
    ep = cfg.party(target)
    return await dial(
        ep.host,
        ep.port,
        tls=tls,
        me=me,
        expected=expected or Identity.party(target),
        hello=hello or hello_for(cfg),
        deadline=Deadline.after(timeout),
        max_frame_bytes=cfg.limits.max_frame_bytes,
    )


@dataclass
class Node:
    """One party's half of a mesh: its listener and its channels by peer id."""

    pid: int
    listener: Listener
    channels: dict[int, Channel] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def listening(
    cfg: ClusterConfig, pid: int, hello: Hello | None = None
) -> AsyncIterator[Listener]:
    """A started party listener, closed on exit."""
    lst = party_listener(cfg, pid, hello or hello_for(cfg))
    await lst.start()
    try:
        yield lst
    finally:
        await lst.aclose()


@contextlib.asynccontextmanager
async def party_meshes(
    cfg: ClusterConfig, pids: Sequence[int] | None = None, hello: Hello | None = None
) -> AsyncIterator[dict[int, Node]]:
    """Start real TLS meshes for ``pids`` (default: every party) in this event loop.

    Yields nodes by party id; on exit closes every channel and listener.  Raises whatever
    ``build_mesh`` raised (ConnectError if a party is missing) after closing what was started.
    """
    hello = hello or hello_for(cfg)
    pids = list(pids if pids is not None else cfg.party_ids)
    listeners = {p: party_listener(cfg, p, hello) for p in pids}
    nodes: dict[int, Node] = {}
    try:
        for lst in listeners.values():
            await lst.start()
        results = await asyncio.gather(
            *(
                build_mesh(cfg, p, hello, listeners[p], Deadline.after(cfg.timeouts.connect))
                for p in pids
            ),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        for p, r in zip(pids, results, strict=True):
            if not isinstance(r, BaseException):
                nodes[p] = Node(p, listeners[p], r)
        if errors:
            if len(errors) == 1:
                raise errors[0]
            raise ExceptionGroup(
                "build_mesh failed", [e for e in errors if isinstance(e, Exception)]
            )
        yield nodes
    finally:
        for node in nodes.values():
            for ch in node.channels.values():
                ch.close()
        for lst in listeners.values():
            await lst.aclose()
