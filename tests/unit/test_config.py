"""Unit tests of mpc_runtime.config: shipped configs load; bad ones give one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpc_runtime.config import load_cluster
from mpc_runtime.errors import ConfigError
from mpc_runtime.ids import Identity

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "party_configs").glob("*.toml"))

GOOD = """\
name = "t"
cert_dir = "certs"

[coordinator]
host = "127.0.0.1"
port = 7400

[[parties]]
id = 1
name = "alice"
host = "127.0.0.1"
port = 7401

[[parties]]
id = 2
name = "bob"
host = "127.0.0.1"
port = 7402
"""


def test_three_configs_are_shipped() -> None:
    assert {p.name for p in SHIPPED} >= {"local-3.toml", "local-4.toml", "compose-3.toml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    cfg = load_cluster(path)
    assert cfg.name == path.stem
    assert cfg.cert_dir.is_absolute()
    assert len(cfg.parties) >= 3
    assert list(cfg.party_ids) == sorted(cfg.party_ids)
    assert Identity.coordinator() in cfg.identities
    assert Identity.dealer() in cfg.identities
    assert all(cfg.knows(i) for i in cfg.identities)


def test_relative_cert_dir_is_taken_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(GOOD)
    cfg = load_cluster(tmp_path / "c.toml")
    assert cfg.cert_dir == (tmp_path / "certs").resolve()


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_cluster(path)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    assert info.value.exit_code == 2
    return msg


def test_unknown_top_level_field(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace('name = "t"', 'name = "t"\ncolour = "red"'))
    assert "colour" in msg and "unknown field" in msg


def test_unknown_party_field(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace('name = "bob"', 'name = "bob"\nrole = "x"'))
    assert "parties.1.role" in msg and "unknown field" in msg


def test_duplicate_party_id(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("id = 2", "id = 1"))
    assert "parties" in msg and "unique" in msg


def test_bad_port(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("port = 7402", "port = 70000"))
    assert "parties.1.port" in msg and "65535" in msg


def test_bad_coordinator_port(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("port = 7400", 'port = "seven"'))
    assert "coordinator.port" in msg


def test_missing_field(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace('cert_dir = "certs"\n', ""))
    assert "cert_dir" in msg


def test_two_participants_on_one_port(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("port = 7402", "port = 7401"))
    assert "7401" in msg


def test_invalid_toml(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD + "\n[[parties]\n")
    assert "not valid TOML" in msg


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_cluster(path)
    assert str(path) in str(info.value) and "not found" in str(info.value)
    assert "\n" not in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_cluster(tmp_path)
