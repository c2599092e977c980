"""What a serving coordinator accepts as a submission (coordinator.serve.check_submission).

May import: pytest, the standard library, tests.helpers, mpc_runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mpc_runtime.config import ClusterConfig
from mpc_runtime.coordinator.served_jobs import check_submission
from mpc_runtime.errors import UsageError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.spec import JobSpec, resolve, spec_hash
from mpc_runtime.wire.control import Submit
from tests.helpers.cluster import write_cluster

ANALYST = Identity.recipient("analyst")


def sum_spec(job: str = "s1", recipients: tuple[str, ...] = ("recipient:analyst",)) -> dict:
    return {
        "job_id": job,
        "program": "protocols.apps:secure_sum_job",
        "inputs": [{"party": i, "name": "value", "min": 0, "max": 100} for i in (1, 2, 3)],
        "outputs": [{"name": "total", "recipients": list(recipients)}],
    }


def submit(cfg: ClusterConfig, raw: dict[str, Any], *, nonce: bytes = b"n" * 16) -> Submit:
    spec = resolve(JobSpec.model_validate(raw), cfg)
    return Submit(spec_hash(spec), spec.model_dump(mode="json"), nonce)


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    return write_cluster(tmp_path, 3, preprocessing="ot", certs=False)[1]


def test_a_valid_submission_is_resolved_and_hashed(cfg: ClusterConfig) -> None:
    op = submit(cfg, sum_spec())
    spec, h = check_submission(cfg, ANALYST, "s1", op, set())
    assert spec.preprocessing == "ot" and h == op.spec_hash


def refusal(cfg: ClusterConfig, job: str, op: Submit, used: set[str] | None = None) -> UsageError:
    with pytest.raises(UsageError) as info:
        check_submission(cfg, ANALYST, job, op, used or set())
    return info.value


def test_refusals_say_why_with_a_code(cfg: ClusterConfig) -> None:
    good = submit(cfg, sum_spec())
    err = refusal(cfg, "s1", Submit("0" * 64, good.spec, good.nonce))
    assert err.code == "bad-spec" and "does not match" in err.message
    err = refusal(cfg, "other", good)
    assert err.code == "bad-spec"
    err = refusal(cfg, "s1", Submit(good.spec_hash, {"job_id": "s1"}, good.nonce))
    assert err.code == "bad-spec" and "program" in err.message
    err = refusal(cfg, "s1", good, used={"s1"})
    assert err.code == "job-id-used" and "already used" in err.message
    err = refusal(cfg, "s1", submit(cfg, sum_spec(), nonce=b""))
    assert err.code == "bad-submit"


def test_outputs_for_anyone_but_the_submitter_are_refused(cfg: ClusterConfig) -> None:
    raw = sum_spec(recipients=("recipient:analyst",))
    with pytest.raises(UsageError) as info:
        check_submission(cfg, Identity.recipient("someone"), "s1", submit(cfg, raw), set())
    assert info.value.code == "not-submitter"
    assert "recipient:analyst" in info.value.message


def test_party_outputs_need_no_nonce(cfg: ClusterConfig) -> None:
    op = submit(cfg, sum_spec(recipients=("party:1",)), nonce=b"")
    spec, _ = check_submission(cfg, ANALYST, "s1", op, set())
    assert spec.external_recipients() == {}


def test_contribution_jobs_are_refused_with_one_clear_line(cfg: ClusterConfig) -> None:
    raw = {
        "job_id": "c1",
        "program": "protocols.contributions:sum_contributions",
        "outputs": [{"name": "total", "recipients": ["recipient:analyst"]}],
        "contributions": {"credentials": "certificates"},
    }
    err = refusal(cfg, "c1", submit(cfg, raw))
    assert err.code == "unsupported" and "contribution" in err.message


def test_a_separate_dealer_is_refused(tmp_path: Path) -> None:
    cfg = write_cluster(tmp_path, 3, preprocessing="dealer", dealer=True, certs=False)[1]
    err = refusal(cfg, "s1", submit(cfg, sum_spec()))
    assert err.code == "unsupported" and "dealer" in err.message
