"""Contributors over real processes and real TLS: `mpc tokens`, `mpc submit`, the coordinator's
contributor port, three compute parties and an external recipient.

One vote mixes every kind of contributor: honest voters (through the CLI and the Python API), a
cheating ballot, a token used twice, a token not on the list, a contributor whose packet for one
compute party is garbage, and one that dies in the middle of its upload.  The tally must equal
numpy's over exactly the valid, complete ballots, and the counts must say what happened.  A
second job uses certificate credentials.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from mpc_runtime import pki
from mpc_runtime.config import load_cluster
from mpc_runtime.contributor.client import Contributor, submit
from mpc_runtime.ids import Identity, Role
from mpc_runtime.jobs.contrib import make_contribution
from mpc_runtime.jobs.spec import load_spec
from mpc_runtime.wire import Contribute
from tests.helpers.cluster import write_cluster
from tests.helpers.procs import ProcGroup, proc_group

LIMIT = 60.0
JOB = """
job_id = "{job}"
program = "protocols.contributions:aggregate_job"

[[outputs]]
name = "total"
recipients = ["recipient:analyst"]

[[outputs]]
name = "counts"
recipients = ["recipient:analyst"]

[contributions]
input = "ballot"
shape = [3]
min = 0
max = 1
checks = ["one_hot"]
max_count = 100
deadline = 60
quiet = {quiet}
batch = 4
"""


def _start(g: ProcGroup, cfg: Path, job: Path) -> None:
    g.start("coord", "coordinator", "--config", str(cfg), "--job", str(job))
    for pid in (1, 2, 3):
        g.start(f"p{pid}", "party", "--config", str(cfg), "--id", str(pid), "--job", str(job))
    g.start("analyst", "recipient", "--config", str(cfg), "--name", "analyst", "--job", str(job),
            "--json")  # fmt: skip


def _finish(g: ProcGroup) -> dict[str, Any]:
    names = ["coord", "p1", "p2", "p3", "analyst"]
    codes = g.wait_all(names, time.monotonic() + LIMIT)
    assert set(codes.values()) == {0}, g.describe()
    line = [x for x in g.procs["analyst"].stdout.splitlines() if x.startswith("{")][-1]
    return dict(json.loads(line)["outputs"])


def _garbage_for_party_2(who: Contributor, token: bytes) -> Contribute:
    """A signed contribution whose packet for party 2 is not sealed to it: the coordinator cannot
    tell; party 2 cannot open it, so every party leaves it out."""
    from mpc_runtime.jobs import contrib

    certs = dict(who.certs)
    certs["party:2"] = who.certs["party:1"]  # sealed to the wrong party
    value = np.array([1, 0, 0], dtype=np.uint64)
    return contrib.make_contribution(who.hash, who.spec.job_id, value, sealing_certs=certs,
                                     token=token)  # fmt: skip


async def _contributors(cfg_path: Path, job_path: Path, tokens: list[bytes]) -> dict[str, Any]:
    cfg, spec = load_cluster(cfg_path), load_spec(job_path)
    who = Contributor(cfg, spec)
    ballots = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0]]
    ops = [who.prepare(b, token=t) for b, t in zip(ballots, tokens[:5], strict=True)]
    ops.append(who.prepare_encoded([1, 1, 0], token=tokens[5]))  # a double vote
    ops.append(_garbage_for_party_2(who, tokens[6]))
    ch = await who.connect()
    results = await who.send(ch, ops)
    await ch.aclose()
    again = await submit(cfg, spec, [0, 0, 1], token=tokens[0])  # the token used twice
    outsider = await submit(cfg, spec, [0, 0, 1], token=b"\x01" * 32)  # not on the list
    await who.die_mid_upload(who.prepare([1, 0, 0], token=tokens[8]))
    return {"results": results, "again": again, "outsider": outsider}


def test_a_vote_with_every_kind_of_contributor(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=20.0, round_timeout=15.0, preprocessing="ot")
    logs = tmp_path / "logs"
    logs.mkdir()
    with proc_group(logs) as g:
        g.start("tokens", "tokens", "--count", "10", "--out", str(tmp_path))
        assert g.wait_all(["tokens"], time.monotonic() + 20)["tokens"] == 0, g.describe()
        digest = g.procs["tokens"].stdout.split('"')[1]
        assert (tmp_path / "tokens.txt").stat().st_mode & 0o777 == 0o600
        job = tmp_path / "vote.toml"
        job.write_text(JOB.format(job="vote", quiet=4.0) + f'eligible_file = "eligible.txt"\n'
                       f'eligible_digest = "{digest}"\n')  # fmt: skip
        tokens = [bytes.fromhex(x) for x in (tmp_path / "tokens.txt").read_text().split()]
        _start(g, cfg, job)
        (tmp_path / "t9").write_text(tokens[9].hex())
        g.start("cli", "submit", "--config", str(cfg), "--job", str(job), "--input", "[0,0,1]",
                "--token-file", str(tmp_path / "t9"))  # fmt: skip
        for name, value in (("shape", "[1,0]"), ("bounds", "[2,0,0]")):
            g.start(name, "submit", "--config", str(cfg), "--job", str(job), "--input", value,
                    "--token", tokens[7].hex())  # fmt: skip
        got = asyncio.run(_contributors(cfg, job, tokens))
        codes = g.wait_all(["cli", "shape", "bounds"], time.monotonic() + LIMIT)
        outputs = _finish(g)
    assert codes == {"cli": 0, "shape": 2, "bounds": 2}, g.describe()
    assert "accepted: contribution" in g.procs["cli"].stdout
    for name in ("shape", "bounds"):  # one line, no traceback
        err = g.procs[name].stderr.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], err
    assert "[2, 0, 0]" not in g.procs["bounds"].stderr  # the refused value is never echoed
    assert all(r.accepted for r in got["results"])
    assert (got["again"].accepted, got["again"].code) == (False, "used")
    assert (got["outsider"].accepted, got["outsider"].code) == (False, "not-eligible")
    valid = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert outputs["total"] == valid.sum(axis=0).tolist()
    # valid 6; invalid 2 (the double vote, the garbage packet); 1 dropped; 2 refused
    assert outputs["counts"] == [6, 2, 1, 2]
    assert "8 accepted, 2 refused, 1 dropped mid-upload" in g.procs["coord"].stderr


def _contributor_cert(cfg_path: Path, name: str) -> None:
    cfg = load_cluster(cfg_path)
    ident = Identity(Role.CONTRIBUTOR, name)
    key = pki.generate_key()
    ca_key, ca_cert = pki.load_key(cfg.ca_key_path), pki.load_cert(cfg.ca_cert_path)
    cert = pki.issue(ca_key, ca_cert, ident, cfg.name, key.public_key(), [])
    pki.write_private_key(cfg.key_path(ident), key, force=True)
    pki.write_cert(cfg.cert_path(ident), cert)


def test_certificate_contributors_one_contribution_each(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=20.0, round_timeout=15.0, preprocessing="dealer")
    for name in ("alice", "bob"):
        _contributor_cert(cfg, name)
    job = tmp_path / "vote.toml"
    job.write_text(JOB.format(job="vote-certs", quiet=3.0) + 'credentials = "certificates"\n')
    logs = tmp_path / "logs"
    logs.mkdir()
    with proc_group(logs) as g:
        _start(g, cfg, job)
        g.start("alice", "submit", "--config", str(cfg), "--job", str(job), "--input", "[0,1,0]",
                "--name", "alice")  # fmt: skip
        assert g.wait_all(["alice"], time.monotonic() + LIMIT)["alice"] == 0, g.describe()
        g.start("alice2", "submit", "--config", str(cfg), "--job", str(job), "--input", "[1,0,0]",
                "--name", "alice")  # fmt: skip
        g.start("bob", "submit", "--config", str(cfg), "--job", str(job), "--input", "[1,0,0]",
                "--name", "bob")  # fmt: skip
        codes = g.wait_all(["alice2", "bob"], time.monotonic() + LIMIT)
        outputs = _finish(g)
    assert codes == {"alice2": 1, "bob": 0}, g.describe()
    assert "already contributed" in g.procs["alice2"].stderr
    assert outputs == {"total": [1, 1, 0], "counts": [2, 0, 0, 1]}


def test_make_contribution_needs_exactly_one_credential() -> None:
    import pytest

    from mpc_runtime.errors import InputError

    with pytest.raises(InputError):
        make_contribution("h", "j", np.zeros(1, np.uint64), sealing_certs={})
