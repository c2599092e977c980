"""Additive and XOR secret sharing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing import additive

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)
parties = st.sampled_from([2, 3, 5])


@given(hnp.arrays(np.uint64, shapes), parties)
def test_share_reconstruct(secret: np.ndarray, n: int) -> None:
    shares = additive.share(secret, n)
    assert len(shares) == n
    for s in shares:
        assert s.dtype == np.uint64 and s.shape == secret.shape and s.flags.c_contiguous
        assert isinstance(s, np.ndarray)
    assert np.array_equal(additive.reconstruct(shares), secret)
    assert additive.reconstruct(shares).shape == secret.shape


@given(hnp.arrays(np.uint64, shapes), parties)
def test_share_reconstruct_xor_u64(secret: np.ndarray, n: int) -> None:
    shares = additive.share_xor(secret, n)
    assert len(shares) == n and all(s.dtype == np.uint64 for s in shares)
    assert np.array_equal(additive.reconstruct_xor(shares), secret)


@given(hnp.arrays(np.uint8, shapes), parties)
def test_share_reconstruct_xor_u8(secret: np.ndarray, n: int) -> None:
    shares = additive.share_xor(secret, n)
    assert all(s.dtype == np.uint8 for s in shares)
    assert np.array_equal(additive.reconstruct_xor(shares), secret)


@given(hnp.arrays(np.uint8, shapes, elements=st.integers(0, 1)), parties)
def test_share_bits_only(secret: np.ndarray, n: int) -> None:
    shares = additive.share_xor(secret, n, bits_only=True)
    assert all(s.dtype == np.uint8 and np.all(s <= 1) for s in shares)
    assert np.array_equal(additive.reconstruct_xor(shares), secret)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_shares_are_fresh_and_hide_the_secret(n: int) -> None:
    secret = np.arange(1000, dtype=np.uint64)
    a, b = additive.share(secret, n), additive.share(secret, n)
    for sa, sb in zip(a, b, strict=True):
        assert not np.array_equal(sa, sb)
    # Any n-1 shares look nothing like the secret (and their partial sums neither).
    for skip in range(n):
        partial = additive.reconstruct([s for i, s in enumerate(a) if i != skip])
        assert np.count_nonzero(partial == secret) < 5
        for i, s in enumerate(a):
            if i != skip:
                assert np.count_nonzero(s == secret) < 5
    xa = additive.share_xor(secret, n)
    for s in xa[:-1]:
        assert np.count_nonzero(s == secret) < 5


def test_zero_secret_shares_are_not_zero() -> None:
    shares = additive.share(np.zeros(256, dtype=np.uint64), 3)
    assert all(np.count_nonzero(s) > 250 for s in shares)


@pytest.mark.parametrize("n", [0, 1, -2, True, 2.0])
def test_bad_n(n: object) -> None:
    with pytest.raises(LocalProtocolError):
        additive.share(np.zeros(2, dtype=np.uint64), n)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        additive.share_xor(np.zeros(2, dtype=np.uint64), n)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    with pytest.raises(LocalProtocolError):
        additive.share(np.zeros(2, dtype=np.int64), 2)
    with pytest.raises(LocalProtocolError):
        additive.share([1, 2], 2)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        additive.share_xor(np.zeros(2, dtype=np.uint32), 2)
    with pytest.raises(LocalProtocolError):
        additive.share_xor(np.array([2], dtype=np.uint8), 2, bits_only=True)
    with pytest.raises(LocalProtocolError):
        additive.reconstruct([])
    with pytest.raises(LocalProtocolError):
        additive.reconstruct([np.zeros(2, dtype=np.uint64), np.zeros(3, dtype=np.uint64)])
    with pytest.raises(LocalProtocolError):
        additive.reconstruct_xor([np.zeros(2, dtype=np.uint64), np.zeros(2, dtype=np.uint8)])
