"""Contributions: tokens and ids, signatures, sealed packets that only their party opens, shares
that add up, and the encoding's bounds check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime import pki
from mpc_runtime.errors import ConfigError, InputError, RemoteProtocolError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.contrib import (
    cid_for_key,
    digest,
    eligible_digest,
    encode_value,
    full_party,
    load_eligible,
    make_contribution,
    make_tokens,
    open_packet,
    token_public,
    verify_signature,
    write_eligible,
)
from mpc_runtime.jobs.spec import ContributionSpec

SPEC_HASH = "ab" * 32


def _sealing(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """n parties' sealing certificates and keys, from a throwaway CA."""
    ca_key, ca_cert = pki.make_ca("t")
    certs, keys = {}, {}
    for p in range(1, n + 1):
        key = pki.generate_key()
        ident = Identity.party(p)
        certs[ident.label] = pki.issue(
            ca_key, ca_cert, ident, "t", key.public_key(), [], sealing=True
        )
        keys[ident.label] = key
    return certs, keys


@pytest.fixture(scope="module")
def parties3() -> tuple[dict[str, Any], dict[str, Any]]:
    return _sealing(3)


def _open_all(op: Any, keys: dict[str, Any], size: int) -> np.ndarray:
    total = np.zeros(size, dtype=np.uint64)
    for label, key in keys.items():
        total += open_packet(
            key, op.packets[label], job_id="j", spec_hash=SPEC_HASH, cid=op.cid, party=label,
            size=size,
        )  # fmt: skip
    return total


def test_tokens_ids_and_eligible_digest(tmp_path: Path) -> None:
    tokens, keys = make_tokens(5)
    assert len(set(tokens)) == 5 and all(len(k) == 65 for k in keys)
    assert [token_public(t) for t in tokens] == keys
    assert len({cid_for_key(k) for k in keys}) == 5
    digest_ = write_eligible(tmp_path / "e.txt", keys)
    assert digest_ == eligible_digest(reversed(keys))  # order does not matter
    spec = ContributionSpec(eligible_file="e.txt", eligible_digest=digest_)
    assert load_eligible(spec, [tmp_path]) == frozenset(keys)
    wrong = ContributionSpec(eligible_file="e.txt", eligible_digest="0" * 64)
    with pytest.raises(ConfigError, match="digest differs"):
        load_eligible(wrong, [tmp_path])
    with pytest.raises(InputError, match="32 bytes"):
        token_public(b"short")


def test_shares_add_up_and_each_packet_opens_only_for_its_party(parties3: Any) -> None:
    certs, keys = parties3
    token = make_tokens(1)[0][0]
    value = np.array([5, 2**63, 7, 0], dtype=np.uint64)
    op = make_contribution(SPEC_HASH, "j", value, sealing_certs=certs, token=token)
    assert np.array_equal(_open_all(op, keys, 4), value)
    labels = list(certs)
    kinds = [len(op.packets[lab]) for lab in labels]
    full = full_party(op.cid, 3)
    assert kinds[full] > max(k for i, k in enumerate(kinds) if i != full)  # seeds are small
    with pytest.raises(RemoteProtocolError, match="does not open"):  # party 2's key, party 1's
        open_packet(
            keys[labels[1]], op.packets[labels[0]], job_id="j", spec_hash=SPEC_HASH,
            cid=op.cid, party=labels[0], size=4,
        )  # fmt: skip
    with pytest.raises(RemoteProtocolError, match="does not open"):  # moved to another id
        open_packet(
            keys[labels[0]], op.packets[labels[0]], job_id="j", spec_hash=SPEC_HASH,
            cid=b"\x00" * 16, party=labels[0], size=4,
        )  # fmt: skip


def test_the_signature_covers_every_packet(parties3: Any) -> None:
    certs, _ = parties3
    token = make_tokens(1)[0][0]
    op = make_contribution(SPEC_HASH, "j", np.zeros(2, np.uint64), sealing_certs=certs, token=token)
    digests = [digest(op.packets[lab]) for lab in certs]
    assert verify_signature(op.public_key, op.signature, SPEC_HASH, op.cid, digests)
    swapped = [digests[1], digests[0], digests[2]]
    assert not verify_signature(op.public_key, op.signature, SPEC_HASH, op.cid, swapped)
    assert not verify_signature(op.public_key, op.signature, "cd" * 32, op.cid, digests)
    other = token_public(make_tokens(1)[0][0])
    assert not verify_signature(other, op.signature, SPEC_HASH, op.cid, digests)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 5),
    values=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=6),
)
def test_any_ring_values_reconstruct(n: int, values: list[int]) -> None:
    certs, keys = _SEALING[n]
    value = np.array(values, dtype=np.uint64)
    op = make_contribution(SPEC_HASH, "j", value, sealing_certs=certs, label="contributor:x")
    assert np.array_equal(_open_all(op, keys, len(values)), value)
    assert op.signature == b"" and op.public_key == b""


_SEALING = {n: _sealing(n) for n in range(2, 6)}


def test_encode_value_refuses_out_of_bounds_without_the_value() -> None:
    c = ContributionSpec(
        shape=[3], kind="fixed", frac_bits=8, min=-1, max=1, credentials="certificates"
    )
    assert encode_value(c, [0.5, -1, 1]).view(np.int64).tolist() == [128, -256, 256]
    for bad in ([0.5, 2.0, 0], [np.nan, 0, 0], [0, 0]):
        with pytest.raises(InputError) as info:
            encode_value(c, bad)
        assert "2.0" not in str(info.value)
    ints = ContributionSpec(shape=[], min=0, max=10, credentials="certificates")
    assert encode_value(ints, 7).shape == ()
    with pytest.raises(InputError, match="bounds"):
        encode_value(ints, 11)
