"""How a serving party checks an offered job (node.serve.PartyServer): its inputs from
``--inputs-dir``, file programs by SHA-256 (and as they are now, not as first imported), and
one refusal line naming itself.

May import: pytest, the standard library, tests.helpers, mpc_runtime.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mpc_runtime.config import ClusterConfig
from mpc_runtime.errors import ConfigError, InputError, MPCError, UsageError
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.node.serve import PartyServer, _Job
from mpc_runtime.wire.control import Offer
from tests.helpers.cluster import write_cluster


def offer(cfg: ClusterConfig, raw: dict[str, Any]) -> Offer:
    spec = resolve(JobSpec.model_validate(raw), cfg)
    return Offer(spec_hash(spec), spec.model_dump(mode="json"))


def sum_raw(job: str) -> dict[str, Any]:
    return {
        "job_id": job,
        "program": "protocols.apps:secure_sum_job",
        "inputs": [{"party": i, "name": "value", "min": 0, "max": 100} for i in (1, 2, 3)],
        "outputs": [{"name": "total", "recipients": ["party:1"]}],
    }


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> ClusterConfig:
    return write_cluster(tmp_path_factory.mktemp("c"), 3, preprocessing="ot")[1]


def checked(server: PartyServer, op: Offer, job: str) -> Any:
    return server._checked(_Job(job), op)


def test_inputs_come_from_the_inputs_dir(cfg: ClusterConfig, tmp_path: Path) -> None:
    (tmp_path / "s1.json").write_text(json.dumps({"value": 7}))
    server = PartyServer(cfg, 1, inputs_dir=tmp_path)
    prep = checked(server, offer(cfg, sum_raw("s1")), "s1")
    assert not isinstance(prep, MPCError) and prep.inputs == {"value": 7}
    (tmp_path / "s2.toml").write_text("value = 9\n")
    prep = checked(server, offer(cfg, sum_raw("s2")), "s2")
    assert not isinstance(prep, MPCError) and prep.inputs == {"value": 9}


def test_a_missing_input_file_is_one_refusal_naming_the_party(
    cfg: ClusterConfig, tmp_path: Path
) -> None:
    err = checked(PartyServer(cfg, 2, inputs_dir=tmp_path), offer(cfg, sum_raw("s3")), "s3")
    assert isinstance(err, InputError) and err.culprit == "party:2"
    assert "party:2 has no input file for job s3" in err.message
    err = checked(PartyServer(cfg, 2), offer(cfg, sum_raw("s3")), "s3")
    assert isinstance(err, InputError) and "--inputs-dir" in err.message


def test_an_input_outside_its_bounds_is_refused_without_its_value(
    cfg: ClusterConfig, tmp_path: Path
) -> None:
    (tmp_path / "s4.json").write_text(json.dumps({"value": 123456789}))
    err = checked(PartyServer(cfg, 3, inputs_dir=tmp_path), offer(cfg, sum_raw("s4")), "s4")
    assert isinstance(err, InputError) and err.culprit == "party:3"
    assert "123456789" not in str(err)


def test_a_tampered_offer_is_refused(cfg: ClusterConfig, tmp_path: Path) -> None:
    good = offer(cfg, sum_raw("s5"))
    err = checked(PartyServer(cfg, 1, inputs_dir=tmp_path), Offer("0" * 64, good.spec), "s5")
    assert isinstance(err, MPCError) and "different spec" in err.message
    assert err.culprit == "party:1"


def test_contribution_jobs_are_refused(cfg: ClusterConfig, tmp_path: Path) -> None:
    raw = {
        "job_id": "c1",
        "program": "protocols.contributions:sum_contributions",
        "outputs": [{"name": "total", "recipients": ["party:1"]}],
        "contributions": {"credentials": "certificates"},
    }
    err = checked(PartyServer(cfg, 1, inputs_dir=tmp_path), offer(cfg, raw), "c1")
    assert isinstance(err, UsageError) and "contribution" in err.message


def file_raw(job: str, source: bytes) -> dict[str, Any]:
    return {
        "job_id": job,
        "program": "prog.py:job",
        "program_sha256": hashlib.sha256(source).hexdigest(),
        "outputs": [{"name": "total", "recipients": ["party:1"]}],
    }


def test_file_programs_are_checked_and_run_as_they_are_now(
    cfg: ClusterConfig, tmp_path: Path
) -> None:
    progs = tmp_path / "programs"
    progs.mkdir()
    server = PartyServer(cfg, 1, programs=[progs])
    for version in (1, 2):
        source = f"VERSION = {version}\n\nasync def job(ctx):\n    return VERSION\n".encode()
        (progs / "prog.py").write_bytes(source)
        prep = checked(server, offer(cfg, file_raw(f"f{version}", source)), f"f{version}")
        assert not isinstance(prep, MPCError), prep
        assert prep.program.__globals__["VERSION"] == version
    err = checked(server, offer(cfg, file_raw("f3", b"something else")), "f3")
    assert isinstance(err, ConfigError) and err.culprit == "party:1"
    assert "every party must run the same code" in err.message
