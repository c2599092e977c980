"""Identifier hashing and each party's local set preparation (no rounds: plain Python)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpc_runtime.errors import InputError, UsageError
from protocols.psi import hashing
from protocols.psi.hashing import (
    DUMMY_BASE,
    collision_bound,
    hash_identifiers,
    key_bound,
    lookup,
    offsets,
    prepare_set,
)

pytestmark = pytest.mark.dealer_only  # no protocol runs here: once is enough


def test_keys_are_62_bit_deterministic_and_salted() -> None:
    items = ["alice", "bob", 7, b"\x00raw", -3, 2**80]
    a = hash_identifiers(items, "salt-1")
    assert a.dtype == np.uint64 and a.shape == (6,)
    assert int(a.max()) < 2**62
    assert np.array_equal(a, hash_identifiers(items, "salt-1"))
    assert not np.any(a == hash_identifiers(items, "salt-2"))
    # a string, the integer it spells and its bytes are different identifiers
    s, i, b = hash_identifiers(["7", 7, b"7"], "s")
    assert len({int(s), int(i), int(b)}) == 3
    assert hash_identifiers([np.int64(7)], "s")[0] == i


def test_keys_spread_uniformly() -> None:
    keys = hash_identifiers(range(20_000), "spread")
    top = (keys >> np.uint64(56)).astype(np.int64)  # 6 top bits of 62
    counts = np.bincount(top, minlength=64)
    expected = keys.size / 64
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 120  # 63 degrees of freedom: p ~ 1e-5


def test_bad_identifiers_and_salts() -> None:
    with pytest.raises(InputError):
        hash_identifiers([1.5], "s")
    with pytest.raises(InputError):
        hash_identifiers([True], "s")
    with pytest.raises(UsageError):
        hash_identifiers([1], None)
    with pytest.raises(UsageError):
        hash_identifiers([1], "")


def test_prepare_sorts_dedups_merges_payloads_and_pads() -> None:
    items = ["b", "a", "c", "a", -1, "b"]
    pays = [1, 2, 3, 4, 99, 5]
    p = prepare_set(items, salt="s", size=8, offset=100, payloads=pays, payload_bounds=(0, 10))
    keys = {x: int(hash_identifiers([x], "s")[0]) for x in "abc"}
    assert p.count == 3
    assert list(p.keys[:3]) == sorted(keys.values())
    assert list(p.keys[3:]) == [DUMMY_BASE + 100 + j for j in range(5)]
    assert p.payloads is not None
    by_key = dict(zip(p.keys[:3].tolist(), p.payloads[:3].tolist(), strict=True))
    assert by_key == {keys["a"]: 6, keys["b"]: 6, keys["c"]: 3}  # repeated payloads add up
    assert not p.payloads[3:].any()
    assert sorted(lookup(p.keys.tolist(), p)) == ["a", "b", "c"]
    assert repr(p) == "PreparedSet(size=8)"  # never an identifier


def test_prepare_refusals() -> None:
    with pytest.raises(InputError, match=r"allows \(2\)"):
        prepare_set(["a", "b", "c"], salt="s", size=2, offset=0)
    with pytest.raises(InputError, match="declared bounds"):
        prepare_set(["a", "a"], salt="s", size=2, offset=0, payloads=[6, 6], payload_bounds=(0, 10))
    with pytest.raises(InputError, match="one integer per identifier"):
        prepare_set(["a"], salt="s", size=2, offset=0, payloads=[1, 2])
    with pytest.raises(InputError):
        prepare_set("abc", salt="s", size=4, offset=0)
    empty = prepare_set([], salt="s", size=3, offset=0)
    assert empty.count == 0 and int(empty.keys.min()) >= DUMMY_BASE


def test_a_collision_inside_one_set_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def clash(encoded: list[bytes], salt: bytes) -> np.ndarray:
        return np.full(len(encoded), 5, dtype=np.uint64)

    monkeypatch.setattr(hashing, "hash_encoded", clash)
    with pytest.raises(InputError, match="another salt") as err:
        prepare_set(["secret-a", "secret-b"], salt="s", size=4, offset=0)
    assert "secret" not in str(err.value)
    assert prepare_set(["x", "x"], salt="s", size=4, offset=0).count == 1  # a true duplicate


def test_offsets_bounds_and_collision_bound() -> None:
    sizes = {1: 4, 2: 6, 3: 5}
    assert offsets(sizes) == {1: 0, 2: 4, 3: 10}
    assert key_bound(sizes) == DUMMY_BASE + 14
    assert math.isclose(math.log2(collision_bound([2**16, 2**16])), -29, abs_tol=0.01)
    assert math.log2(collision_bound([2**14] * 3)) < -31.8
    assert hashing.log2_bound([1]) == -math.inf
