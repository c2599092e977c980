"""The real `mpc certs` command, run as a subprocess on a copied config."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MPC = shutil.which("mpc", path=str(Path(sys.executable).parent))


def _config(tmp_path: Path) -> Path:
    text = (REPO / "party_configs" / "local-3.toml").read_text()
    cfg = tmp_path / "local-3.toml"
    cfg.write_text(text.replace('"../certs/local-3"', '"certs"'))
    return cfg


def run(*args: str, script: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    if script:
        assert MPC is not None, "the `mpc` console script is not installed in this venv"
        cmd = [MPC, *args]
    else:
        cmd = [sys.executable, "-m", "mpc_runtime.cli.main", *args]
    env = {k: v for k, v in os.environ.items() if k != "MPC_DEBUG"}
    return subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("script", [True, False], ids=["console-script", "python-m"])
def test_certs_creates_files_with_modes(tmp_path: Path, script: bool) -> None:
    cfg = _config(tmp_path)
    proc = run("certs", "--config", str(cfg), script=script)
    assert proc.returncode == 0, proc.stderr
    certs = tmp_path / "certs"
    assert _mode(certs) == 0o700
    keys = sorted(certs.glob("*.key"))
    pems = sorted(certs.glob("*.pem"))
    stems = {"ca", "party-1", "party-2", "party-3", "coordinator", "dealer", "recipient-analyst"}
    stems |= {f"{s}.seal" for s in ("recipient-analyst", "party-1", "party-2", "party-3")}
    assert {p.stem for p in keys} == stems
    assert {p.stem for p in pems} == stems
    assert all(_mode(k) == 0o600 for k in keys)
    assert all(_mode(p) == 0o644 for p in pems)
    assert proc.stdout.count("created ") == 2 * len(stems)
    assert "offline" in proc.stderr
    assert "for local testing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_second_run_does_not_overwrite(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert run("certs", "--config", str(cfg)).returncode == 0
    certs = tmp_path / "certs"
    before = {p.name: p.read_bytes() for p in certs.iterdir()}
    proc = run("certs", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert "created" not in proc.stdout
    assert {p.name: p.read_bytes() for p in certs.iterdir()} == before
    # --force --only replaces just that identity, never the CA
    proc = run("certs", "--config", str(cfg), "--force", "--only", "party:2")
    assert proc.returncode == 0, proc.stderr
    after = {p.name: p.read_bytes() for p in certs.iterdir()}
    changed = {n for n in after if after[n] != before[n]}
    assert changed == {"party-2.key", "party-2.pem", "party-2.seal.key", "party-2.seal.pem"}
    assert _mode(certs / "party-2.key") == 0o600


def test_csr_sign_show(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert run("certs", "--config", str(cfg), "--only", "party:1").returncode == 0
    host = tmp_path / "host2"
    proc = run("certs", "csr", "--config", str(cfg), "--identity", "party:2", "--out", str(host))
    assert proc.returncode == 0, proc.stderr
    assert _mode(host / "party-2.key") == 0o600
    csr = host / "party-2.csr"
    bad = run("certs", "sign", "--config", str(cfg), "--csr", str(csr), "--identity", "party:3")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "expected party:3" in bad.stderr
    ok = run("certs", "sign", "--config", str(cfg), "--csr", str(csr), "--identity", "party:2")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "certs" / "party-2.pem").exists()
    assert not (tmp_path / "certs" / "party-2.key").exists()  # the key stayed on its host
    show = run("certs", "show", "--config", str(cfg))
    assert show.returncode == 0, show.stderr
    line = next(ln for ln in show.stdout.splitlines() if ln.startswith("party:2 "))
    assert "expires" in line and "key absent" in line and "[" not in line


def test_sign_certifies_only_the_named_identity_and_never_overwrites(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert run("certs", "--config", str(cfg), "--only", "party:1").returncode == 0
    host = tmp_path / "host2"
    assert (
        run(
            "certs", "csr", "--config", str(cfg), "--identity", "party:2", "--out", str(host)
        ).returncode
        == 0
    )
    csr = str(host / "party-2.csr")
    # the README's old example without --identity: refused (one line, exit 2)
    noid = run("certs", "sign", "--config", str(cfg), "--csr", csr)
    assert noid.returncode == 2 and "--identity" in noid.stderr
    # party 2's CSR offered as the coordinator's or party 1's: refused, nothing written
    for other in ("coordinator", "party:1"):
        before = {p.name: p.read_bytes() for p in (tmp_path / "certs").iterdir()}
        bad = run("certs", "sign", "--config", str(cfg), "--csr", csr, "--identity", other)
        assert bad.returncode == 2, bad.stderr
        assert "exists" in bad.stderr or "expected" in bad.stderr, bad.stderr
        assert {p.name: p.read_bytes() for p in (tmp_path / "certs").iterdir()} == before
    ok = run("certs", "sign", "--config", str(cfg), "--csr", csr, "--identity", "party:2")
    assert ok.returncode == 0, ok.stderr
    again = run("certs", "sign", "--config", str(cfg), "--csr", csr, "--identity", "party:2")
    assert again.returncode == 2 and "--force" in again.stderr
    forced = run(
        "certs", "sign", "--config", str(cfg), "--csr", csr, "--identity", "party:2", "--force"
    )
    assert forced.returncode == 0, forced.stderr


def test_a_recipient_gets_a_separate_sealing_key_by_csr(tmp_path: Path) -> None:
    from mpc_runtime import pki

    cfg = _config(tmp_path)
    assert run("certs", "--config", str(cfg), "--only", "party:1").returncode == 0
    host = tmp_path / "analyst-host"
    proc = run(
        "certs", "csr", "--config", str(cfg), "--identity", "recipient:analyst", "--out", str(host)
    )
    assert proc.returncode == 0, proc.stderr
    for f in ("recipient-analyst.key", "recipient-analyst.csr"):
        assert (host / f).exists()
    for f in ("recipient-analyst.seal.key", "recipient-analyst.seal.csr"):
        assert (host / f).exists()
    args = ["certs", "sign", "--config", str(cfg), "--identity", "recipient:analyst"]
    assert run(*args, "--csr", str(host / "recipient-analyst.csr")).returncode == 0
    assert (
        run(*args, "--sealing", "--csr", str(host / "recipient-analyst.seal.csr")).returncode == 0
    )
    tls = pki.load_cert(tmp_path / "certs" / "recipient-analyst.pem")
    seal = pki.load_cert(tmp_path / "certs" / "recipient-analyst.seal.pem")
    assert not pki.is_sealing_cert(tls) and pki.is_sealing_cert(seal)
    assert tls.public_key() != seal.public_key()


def test_party_ids_are_canonical(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    for label in ("party:01", "party:0_1", "party:1\n", "party:+1", "party: 1"):
        proc = run("certs", "--config", str(cfg), "--only", label)
        assert proc.returncode == 2, (label, proc.stderr)
        assert "bad identity" in proc.stderr


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace('name = "bob"', 'name = "bob"\ncolour = "blue"'),
        lambda t: t.replace("port = 7402", "port = 99999"),
        lambda t: t.replace("id = 2", "id = 1"),
        lambda t: t + "\n[[parties]\n",
    ],
    ids=["unknown-field", "bad-port", "duplicate-id", "invalid-toml"],
)
def test_bad_config_one_line_exit_2(tmp_path: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path)
    cfg.write_text(mutate(cfg.read_text()))
    proc = run("certs", "--config", str(cfg))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mpc certs: error: ")
    assert str(cfg) in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "certs").exists()


def test_missing_config_and_usage_errors(tmp_path: Path) -> None:
    proc = run("certs", "--config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"mpc certs: error: {tmp_path / 'nope.toml'}: file not found"
    ]
    assert run("certs", "--config", str(_config(tmp_path)), "--only", "party:9").returncode == 2
    bad_path = tmp_path / "c.toml" / "x.toml"  # a path through a file: ENOTDIR
    proc = run("certs", "--config", str(bad_path))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert run("no-such-command").returncode == 2
    assert run().returncode == 2


def test_version_and_help() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("mpc ")
    proc = run("certs", "--help")
    assert proc.returncode == 0
    for action in ("make", "csr", "sign", "show"):
        assert action in proc.stdout
