"""The recipient accepts only shares its senders sealed and signed for this run."""

from __future__ import annotations

import numpy as np
import pytest

from mpc_runtime import pki
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.sealing import SealError, make_aad, seal_share, sign_blob
from mpc_runtime.jobs.spec import JobSpec, spec_hash
from mpc_runtime.recipient.receive import _Collect
from mpc_runtime.wire import Sealed

SPEC = JobSpec.model_validate(
    {
        "job_id": "j",
        "program": "protocols.apps:secure_sum_job",
        "inputs": [{"party": p, "name": "value"} for p in (1, 2)],
        "outputs": [{"name": "total", "recipients": ["recipient:analyst"]}],
    }
)


def _keys() -> tuple[object, object, dict[str, object], dict[str, object]]:
    ca_key, ca = pki.make_ca("c")
    seal_key = pki.generate_key()
    seal = pki.issue(
        ca_key, ca, Identity.recipient("analyst"), "c", seal_key.public_key(), [], sealing=True
    )
    keys, certs = {}, {}
    for p in (1, 2):
        k = pki.generate_key()
        keys[f"party:{p}"] = k
        certs[f"party:{p}"] = pki.issue(ca_key, ca, Identity.party(p), "c", k.public_key(), [])
    return seal_key, seal, keys, certs


def _blob(seal, key, sender: str, nonce: bytes, value: int) -> Sealed:  # type: ignore[no-untyped-def]
    aad = make_aad("j", spec_hash(SPEC), "total", sender, "recipient:analyst", nonce)
    blob = seal_share(seal, np.array([value], dtype=np.uint64), frac_bits=0, signed=True, aad=aad)
    return Sealed("total", "recipient:analyst", blob, sign_blob(key, blob, aad), sender=sender)


def test_forged_replayed_and_honest_shares() -> None:
    seal_key, seal, keys, certs = _keys()
    run = b"\x07" * 16
    st = _Collect(
        Identity.recipient("analyst"),
        SPEC,
        spec_hash(SPEC),
        seal_key,
        ["party:1", "party:2"],
        run,
        certs,
        {"total": {}},
    )
    # the relay seals a share of its own choosing and claims party 1 sent it
    forged = _blob(seal, pki.generate_key(), "party:1", run, 999)
    with pytest.raises(SealError):
        st.add("coordinator", forged)
    # party 1's honest share from an earlier run of the same spec, replayed
    with pytest.raises(SealError):
        st.add("coordinator", _blob(seal, keys["party:1"], "party:1", b"\x06" * 16, 5))
    assert not st.add("coordinator", _blob(seal, keys["party:1"], "party:1", run, 5))
    assert st.add("coordinator", _blob(seal, keys["party:2"], "party:2", run, 7))
    assert int(st.results()["total"][0]) == 12
