"""Encodings of integers and fixed point into Z_2^64."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpc_runtime.errors import InputError, LocalProtocolError, UsageError
from mpc_runtime.sharing import ring
from mpc_runtime.sharing.ring import INT_MAX, INT_MIN

ints = st.integers(min_value=INT_MIN, max_value=INT_MAX)
u64_arrays = hnp.arrays(np.uint64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5))


def test_constants() -> None:
    assert ring.RING_BITS == 64
    assert ring.INT_BITS == 63
    assert (INT_MIN, INT_MAX) == (-(2**62), 2**62 - 1)
    # The reason for the range: a difference of two in-range values never wraps.
    assert INT_MAX - INT_MIN < 2**63 and INT_MIN - INT_MAX >= -(2**63)


@given(st.lists(ints, max_size=20))
def test_int_round_trip(values: list[int]) -> None:
    enc = ring.encode_int(values)
    assert enc.dtype == np.uint64 and enc.flags.c_contiguous
    assert ring.decode_int(enc).tolist() == values


@pytest.mark.parametrize("v", [INT_MIN, INT_MIN + 1, -1, 0, 1, INT_MAX - 1, INT_MAX])
def test_int_extremes(v: int) -> None:
    assert int(ring.decode_int(ring.encode_int(v))) == v
    assert ring.decode_int(ring.encode_int([v])).tolist() == [v]
    assert ring.decode_int(ring.encode_int(np.array([v], dtype=np.int64))).tolist() == [v]


def test_int_encoding_is_twos_complement() -> None:
    assert ring.encode_int([-1]).tolist() == [2**64 - 1]
    assert ring.encode_int([INT_MIN]).tolist() == [2**64 - 2**62]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32])
def test_int_numpy_dtypes(dtype: type) -> None:
    arr: np.ndarray = np.arange(0, 100, dtype=dtype).reshape(10, 10)
    enc = ring.encode_int(arr)
    assert enc.shape == (10, 10)
    assert ring.decode_int(enc).tolist() == arr.astype(np.int64).tolist()


def test_int_scalar_keeps_shape() -> None:
    assert ring.encode_int(7).shape == ()
    assert ring.encode_int(np.int64(7)).shape == ()
    assert ring.encode_int(np.array(7)).shape == ()


SECRET = 2**62 + 12345  # out of range; must not show up in messages


@pytest.mark.parametrize(
    "bad",
    [
        SECRET,
        -SECRET,
        [1, SECRET, 2],
        [SECRET * 1000, 3],  # beyond 64 bits: numpy builds an object array
        np.array([1, SECRET], dtype=np.int64),
        np.array([2**64 - 1, SECRET], dtype=np.uint64),
    ],
)
def test_int_out_of_range(bad: object) -> None:
    with pytest.raises(InputError) as info:
        ring.encode_int(bad)
    msg = str(info.value)
    assert "outside the integer range" in msg
    assert str(SECRET) not in msg and str(SECRET)[:8] not in msg


def test_int_out_of_range_counts() -> None:
    with pytest.raises(InputError, match=r"^2 of 4 values"):
        ring.encode_int(np.array([0, INT_MAX + 1, INT_MIN - 1, 5], dtype=np.int64))


@pytest.mark.parametrize(
    "bad",
    [
        True,
        [True, False],
        np.array([True]),
        1.0,
        [1.5],
        np.array([2.0]),
        "3",
        [1, "x"],
        np.array([1 + 2j]),
        [[1, 2**70], [object(), 3]],
    ],
)
def test_int_rejects_non_integers(bad: object) -> None:
    with pytest.raises(InputError) as info:
        ring.encode_int(bad)
    assert "1.5" not in str(info.value)


def test_decode_int_rejects_wrong_dtype() -> None:
    with pytest.raises(LocalProtocolError):
        ring.decode_int(np.array([1], dtype=np.int64))


fracs = st.integers(min_value=0, max_value=ring.MAX_FRAC_BITS)


@given(fracs, st.data())
def test_fixed_round_trip(f: int, data: st.DataObject) -> None:
    lo, hi = ring.fixed_range(f)
    x = data.draw(st.lists(st.floats(min_value=lo, max_value=hi), min_size=1, max_size=10))
    dec = ring.decode_fixed(ring.encode_fixed(x, f), f)
    # Exact up to the rounding step (and float precision for huge magnitudes).
    tol = np.maximum(2.0 ** (-f - 1), np.abs(x) * 2.0**-52)
    assert np.all(np.abs(dec - np.array(x)) <= tol)


@pytest.mark.parametrize("f", [0, 1, 16, 40])
def test_fixed_range_edges(f: int) -> None:
    lo, hi = ring.fixed_range(f)
    assert lo == -(2.0**62) / 2**f and hi < 2.0**62 / 2**f
    enc = ring.encode_fixed([lo, hi, 0.0], f)
    assert ring.decode_int(enc).tolist() == [INT_MIN, 2**62 - 512, 0]
    assert ring.decode_fixed(enc, f).tolist() == [lo, hi, 0.0]
    for beyond in (np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)):
        with pytest.raises(InputError, match="fixed-point range"):
            ring.encode_fixed([beyond], f)


def test_fixed_negative_values_and_rounding() -> None:
    enc = ring.encode_fixed([-1.5, -0.25, 3.0, 2.0**-17, -(2.0**-16)], 16)
    assert ring.decode_int(enc).tolist() == [-(3 * 2**15), -(2**14), 3 * 2**16, 0, -1]
    assert ring.decode_fixed(enc, 16).tolist() == [-1.5, -0.25, 3.0, 0.0, -(2.0**-16)]
    assert ring.encode_fixed(np.array([2, -3], dtype=np.int32), 4).view(np.int64).tolist() == [
        32,
        -48,
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_fixed_not_finite(bad: float) -> None:
    with pytest.raises(InputError, match="1 of 3 values are not a finite number"):
        ring.encode_fixed([1.0, bad, 2.0])


def test_fixed_out_of_range_message_has_no_values() -> None:
    with pytest.raises(InputError) as info:
        ring.encode_fixed([123456789012.345, 1.0], 30)
    assert "1 of 2" in str(info.value) and "123456789012" not in str(info.value)


@pytest.mark.parametrize("bad", [True, [True], np.array(["a"]), np.array([1j]), [None]])
def test_fixed_wrong_dtype(bad: object) -> None:
    with pytest.raises(InputError):
        ring.encode_fixed(bad)


@pytest.mark.parametrize("f", [-1, 41, 1.5, True, None])
def test_fixed_bad_frac_bits(f: object) -> None:
    with pytest.raises(UsageError):
        ring.encode_fixed([1.0], f)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        ring.fixed_range(f)  # type: ignore[arg-type]


@given(u64_arrays, st.data())
def test_ring_ops_wrap(x: np.ndarray, data: st.DataObject) -> None:
    y = data.draw(hnp.arrays(np.uint64, x.shape))
    m = 2**64
    xs, ys = x.astype(object), y.astype(object)

    def same(got: np.ndarray, want: object) -> None:
        assert isinstance(got, np.ndarray) and got.dtype == np.uint64
        assert got.astype(object).tolist() == np.asarray(want, dtype=object).tolist()

    same(ring.add(x, y), (xs + ys) % m)
    same(ring.sub(x, y), (xs - ys) % m)
    same(ring.neg(x), (-xs) % m)
    same(ring.mul_public(x, -7), (xs * -7) % m)
    same(ring.mul_public(x, 2**70 + 3), (xs * (2**70 + 3)) % m)
    assert ring.add(x, y).shape == x.shape


def test_as_ring() -> None:
    a = np.zeros((3, 4), dtype=np.uint64)
    assert ring.as_ring(a) is a
    with pytest.raises(LocalProtocolError):
        ring.as_ring(a.T)
    with pytest.raises(LocalProtocolError):
        ring.as_ring(np.zeros(3, dtype=np.int64))
    with pytest.raises(LocalProtocolError):
        ring.as_ring([1, 2])
