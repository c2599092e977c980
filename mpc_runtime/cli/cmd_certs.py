"""``mpc certs``: make the cluster CA and every participant's key and certificate.

Shape::

    mpc certs [make] --config FILE [--force] [--only LABEL ...]   # local testing only
    mpc certs csr  --config FILE --identity LABEL [--out DIR] [--host H ...] [--force]
    mpc certs sign --config FILE --csr FILE --identity LABEL [--sealing] [--out DIR] [--force]
    mpc certs show --config FILE

Heavy imports (cryptography, pydantic) happen inside ``run`` so ``mpc --help`` stays fast.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING

from mpc_runtime.cli.output import info, result, warn

if TYPE_CHECKING:
    from mpc_runtime.config import ClusterConfig
    from mpc_runtime.ids import Identity

DESCRIPTION = """\
Provision the cluster PKI: a CA (ECDSA P-256) and one key + certificate per participant
(external recipients also get a separate sealing key and certificate for their outputs).

actions:
  make  (default) FOR LOCAL TESTING: create the CA and every identity's key and certificate
        in one directory.  Whoever runs it holds every private key and the CA key, so it can
        impersonate anyone and open any sealed output.  Existing keys are kept unless --force.
  csr   on a participant's own host: create its key (mode 0600, never leaves the host) and a
        certificate signing request <stem>.csr for the CA holder (a party or recipient also gets
        <stem>.seal.key and <stem>.seal.csr for its sealing key).
  sign  on the CA holder's machine: sign a CSR for exactly the identity named with --identity
        (a CSR claiming another identity is refused) and write <stem>.pem (--sealing:
        <stem>.seal.pem); an existing certificate is replaced only with --force.
  show  list identities, certificate expiry, and which keys are present.

For separate hosts or organisations, use csr on each host and sign at the CA holder: nothing
secret travels.  Labels look like party:2, coordinator, dealer, recipient:analyst.
The CA key (ca.key) is only needed to issue certificates: keep it offline afterwards."""


def _shared(p: argparse.ArgumentParser, *, sub: bool) -> None:
    # Sub-action parsers use SUPPRESS defaults so `mpc certs --config F show` also works.
    default = argparse.SUPPRESS if sub else None
    p.add_argument(
        "--config", metavar="FILE", default=default, help="cluster config (TOML)", required=False
    )
    p.add_argument(
        "--cert-dir",
        metavar="DIR",
        default=default,
        help="use this directory instead of the config's cert_dir (e.g. to make certificates"
        " on the host for a config whose cert_dir is a container path)",
    )


def _make_options(p: argparse.ArgumentParser, *, sub: bool) -> None:
    _shared(p, sub=sub)
    p.add_argument(
        "--force",
        action="store_true",
        default=argparse.SUPPRESS if sub else False,
        help="replace existing identity keys and certificates (the CA is never replaced)",
    )
    p.add_argument(
        "--only",
        metavar="LABEL",
        nargs="+",
        action="extend",
        default=argparse.SUPPRESS if sub else None,
        help="only these identities (e.g. party:1 coordinator)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "certs",
        help="make the cluster CA, keys and certificates (make|csr|sign|show)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _make_options(p, sub=False)
    p.set_defaults(func=run, action="make")
    actions = p.add_subparsers(dest="action", metavar="[make|csr|sign|show]")

    mk = actions.add_parser("make", help="(default) make the CA and every key and certificate")
    _make_options(mk, sub=True)

    csr = actions.add_parser("csr", help="on a participant's host: make its key and a CSR")
    _shared(csr, sub=True)
    csr.add_argument("--identity", metavar="LABEL", required=True, help="e.g. party:2")
    csr.add_argument("--out", metavar="DIR", help="where to write key and CSR (default cert_dir)")
    csr.add_argument(
        "--host",
        metavar="HOST",
        action="append",
        default=[],
        help="extra DNS name or IP for the certificate (repeatable)",
    )
    csr.add_argument(
        "--force",
        action="store_true",
        default=argparse.SUPPRESS,
        help="make a new key even if one exists (default: reuse it)",
    )

    sign = actions.add_parser("sign", help="as the CA holder: validate a CSR and issue its cert")
    _shared(sign, sub=True)
    sign.add_argument("--csr", metavar="FILE", required=True, help="the CSR file to sign")
    sign.add_argument(
        "--identity",
        metavar="LABEL",
        required=True,
        help="the identity to certify; a CSR claiming any other is refused",
    )
    sign.add_argument(
        "--sealing", action="store_true", help="issue a recipient's sealing certificate"
    )
    sign.add_argument("--out", metavar="DIR", help="where to write <stem>.pem (default cert_dir)")
    sign.add_argument(
        "--force", action="store_true", help="replace an existing certificate for this identity"
    )

    show = actions.add_parser("show", help="list identities, cert expiry and present keys")
    _shared(show, sub=True)


# ---- helpers ------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> ClusterConfig:
    from mpc_runtime.config import load_cluster
    from mpc_runtime.errors import ConfigError, UsageError

    path = getattr(args, "config", None)
    if not path:
        raise UsageError("--config FILE is required")
    try:
        cfg = load_cluster(path)
    except OSError as exc:  # read_toml maps only some OSErrors (not e.g. ENOTDIR, ELOOP)
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    override = getattr(args, "cert_dir", None)
    if override:
        cfg = cfg.model_copy(update={"cert_dir": Path(override).resolve()})
    return cfg


def _identity(cfg: ClusterConfig, label: str) -> Identity:
    from mpc_runtime.errors import UsageError
    from mpc_runtime.ids import Identity

    try:
        ident = Identity.from_label(label)
    except ValueError:
        raise UsageError(
            f"bad identity {label!r}: use party:N, coordinator, dealer or recipient:NAME"
        ) from None
    if not cfg.knows(ident):
        raise UsageError(f"{ident.label} is not a participant of cluster {cfg.name!r}")
    return ident


def _mode(path: Path) -> str:
    try:
        return f"{path.stat().st_mode & 0o777:04o}"
    except OSError:
        return "?"


# ---- actions ------------------------------------------------------------------------------


def _make(args: argparse.Namespace) -> int:
    from mpc_runtime import pki

    cfg = _config(args)
    only = None
    if getattr(args, "only", None):
        only = [_identity(cfg, label) for label in args.only]
    created = pki.ensure_cluster_certs(cfg, force=bool(getattr(args, "force", False)), only=only)
    warn(
        "for local testing: this directory now holds the CA key and every participant's private"
        " key; for separate hosts use `mpc certs csr` on each host and `mpc certs sign` here"
    )
    for path in created:
        result(f"created {path} (mode {_mode(path)})")
    if not created:
        info("nothing to do: every key and certificate exists (use --force to replace them)")
    if cfg.ca_key_path.exists():
        info(
            f"the CA key is {cfg.ca_key_path}: keep it offline; it is needed only to issue "
            "certificates, and whoever holds it can impersonate any participant"
        )
    return 0


def _csr(args: argparse.Namespace) -> int:
    from mpc_runtime import pki

    cfg = _config(args)
    ident = _identity(cfg, args.identity)
    out = Path(args.out) if args.out else cfg.cert_dir
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        from mpc_runtime.errors import ConfigError

        raise ConfigError(f"{out}: cannot create directory: {exc.strerror}") from None
    key_p = out / f"{ident.file_stem}.key"
    csr_p = out / f"{ident.file_stem}.csr"
    if key_p.exists() and not getattr(args, "force", False):
        key = pki.load_key(key_p)
        info(f"using the existing key {key_p} (use --force for a new one)")
    else:
        key = pki.generate_key()
        pki.write_private_key(key_p, key, force=bool(getattr(args, "force", False)))
        result(f"created {key_p} (mode {_mode(key_p)})")
    hosts = [*pki.hosts_for(cfg, ident), *args.host]
    pki.write_csr(csr_p, pki.make_csr(key, ident, cfg.name, hosts))
    result(f"created {csr_p}")
    info(
        f"send {csr_p.name} to the CA holder (`mpc certs sign --csr {csr_p.name} "
        f"--identity {ident.label}`); the key stays here"
    )
    if ident.role.value in ("recipient", "party"):
        _sealing_csr(args, cfg, ident, out)
    return 0


def _sealing_csr(args: argparse.Namespace, cfg: ClusterConfig, ident: Identity, out: Path) -> None:
    from mpc_runtime import pki

    key_p = out / f"{ident.file_stem}.seal.key"
    csr_p = out / f"{ident.file_stem}.seal.csr"
    if key_p.exists() and not getattr(args, "force", False):
        key = pki.load_key(key_p)
    else:
        key = pki.generate_key()
        pki.write_private_key(key_p, key, force=bool(getattr(args, "force", False)))
        result(
            f"created {key_p} (mode {_mode(key_p)}): "
            "your sealing key (it only receives sealed shares)"
        )
    pki.write_csr(csr_p, pki.make_csr(key, ident, cfg.name, []))
    result(f"created {csr_p}")
    info(
        f"send {csr_p.name} too (`mpc certs sign --csr {csr_p.name} --identity {ident.label}"
        " --sealing`)"
    )


def _sign(args: argparse.Namespace) -> int:
    from mpc_runtime import pki
    from mpc_runtime.errors import ConfigError, UsageError

    cfg = _config(args)
    expected = _identity(cfg, args.identity)
    csr = pki.load_csr(args.csr)
    if not cfg.ca_key_path.exists():
        raise ConfigError(f"{cfg.ca_key_path}: CA key not present; signing needs it")
    out = Path(args.out) if args.out else cfg.cert_dir
    suffix = ".seal.pem" if args.sealing else ".pem"
    cert_p = out / f"{expected.file_stem}{suffix}"
    if cert_p.exists() and not args.force:
        raise UsageError(f"{cert_p} exists: a certificate is replaced only with --force")
    ca_key = pki.load_key(cfg.ca_key_path)
    ca_cert = pki.load_cert(cfg.ca_cert_path)
    cert = pki.sign_csr(ca_key, ca_cert, csr, cfg.name, expected, sealing=args.sealing)
    replaced = cert_p.exists()
    pki.write_cert(cert_p, cert)
    kind = "sealing certificate" if args.sealing else "certificate"
    result(f"{'replaced' if replaced else 'created'} {cert_p}: the {kind} of {expected.label}")
    info(f"send {cert_p.name} and {cfg.ca_cert_path.name} back to the host of {expected.label}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from mpc_runtime import pki
    from mpc_runtime.errors import ConfigError

    cfg = _config(args)
    now = _dt.datetime.now(_dt.UTC)
    ca_cert = None
    result(f"cluster {cfg.name}  cert_dir {cfg.cert_dir}")
    if cfg.ca_cert_path.exists():
        ca_cert = pki.load_cert(cfg.ca_cert_path)
        ca_state = f"expires {ca_cert.not_valid_after_utc:%Y-%m-%d}"
    else:
        ca_state = "missing"
    key_state = "present (keep it offline)" if cfg.ca_key_path.exists() else "absent"
    result(f"{'CA':<24} cert {ca_state:<20} key {key_state}")
    for ident in cfg.identities:
        cert_p, key_p = cfg.cert_path(ident), cfg.key_path(ident)
        notes: list[str] = []
        if cert_p.exists():
            try:
                cert = pki.load_cert(cert_p)
            except ConfigError:
                cert_state = "unreadable"
            else:
                expiry = cert.not_valid_after_utc
                cert_state = f"expires {expiry:%Y-%m-%d}"
                if expiry <= now:
                    notes.append("EXPIRED")
                if ca_cert is not None and not pki.verify_issued_by(cert, ca_cert):
                    notes.append("not signed by this CA")
                if pki.cert_identity_or_none(cert, cfg.name) != ident:
                    notes.append("identity mismatch")
        else:
            cert_state = "missing"
        key = "present" if key_p.exists() else "absent"
        line = f"{ident.label:<24} cert {cert_state:<20} key {key}"
        result(line + (f"  [{', '.join(notes)}]" if notes else ""))
    return 0


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None) or "make"
    handlers = {"make": _make, "csr": _csr, "sign": _sign, "show": _show}
    return handlers[action](args)
