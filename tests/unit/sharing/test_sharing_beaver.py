"""Beaver multiplication and AND with all parties simulated locally."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing import additive, beaver
from mpc_runtime.sharing.prg import random_ring

shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=8)
parties = st.sampled_from([2, 3, 5])


def _pairs(draw_shape: tuple[int, ...]) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    arr = hnp.arrays(np.uint64, draw_shape)
    return st.tuples(arr, arr)


@given(st.data(), shapes, parties)
def test_beaver_mul(data: st.DataObject, shape: tuple[int, ...], n: int) -> None:
    x, y = data.draw(_pairs(shape))
    a, b = random_ring(shape), random_ring(shape)
    c = np.multiply(a, b, out=np.empty(shape, dtype=np.uint64))  # out= keeps 0-d an array
    xs, ys = additive.share(x, n), additive.share(y, n)
    as_, bs, cs = additive.share(a, n), additive.share(b, n), additive.share(c, n)
    masked = [beaver.mask_pair(xs[i], ys[i], as_[i], bs[i]) for i in range(n)]
    d = additive.reconstruct([m[0] for m in masked])
    e = additive.reconstruct([m[1] for m in masked])
    zs = [beaver.finish_mul(d, e, as_[i], bs[i], cs[i], i == 0) for i in range(n)]
    z = additive.reconstruct(zs)
    expected = (x.astype(object) * y.astype(object)) % 2**64
    assert z.astype(object).tolist() == np.asarray(expected).tolist()
    assert all(isinstance(zi, np.ndarray) and zi.shape == shape for zi in zs)


@given(st.data(), shapes, parties)
def test_beaver_and(data: st.DataObject, shape: tuple[int, ...], n: int) -> None:
    x, y = data.draw(_pairs(shape))
    a, b = random_ring(shape), random_ring(shape)
    c = np.bitwise_and(a, b, out=np.empty(shape, dtype=np.uint64))
    xs, ys = additive.share_xor(x, n), additive.share_xor(y, n)
    as_, bs, cs = additive.share_xor(a, n), additive.share_xor(b, n), additive.share_xor(c, n)
    masked = [beaver.mask_pair_xor(xs[i], ys[i], as_[i], bs[i]) for i in range(n)]
    d = additive.reconstruct_xor([m[0] for m in masked])
    e = additive.reconstruct_xor([m[1] for m in masked])
    zs = [beaver.finish_and(d, e, as_[i], bs[i], cs[i], first=i == 0) for i in range(n)]
    assert np.array_equal(additive.reconstruct_xor(zs), x & y)


def test_beaver_checks_operands() -> None:
    u = np.zeros(3, dtype=np.uint64)
    with pytest.raises(LocalProtocolError):
        beaver.mask_pair(u, u, u, np.zeros(3, dtype=np.int64))
    with pytest.raises(LocalProtocolError):
        beaver.finish_mul(u, u, u, u, np.zeros(4, dtype=np.uint64), True)
