"""Bit-matrix tools: the 128 x m transpose, bit packing helpers and the field packer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.preprocessing.ot.bitmatrix import (
    PackPlan,
    lsb_words,
    transpose128,
    word_bits,
)


def reference_transpose(cols: np.ndarray) -> np.ndarray:
    """Plain numpy: unpack every bit, transpose, pack (the slow way)."""
    bits = np.unpackbits(cols.astype("<u8").view(np.uint8), axis=1, bitorder="little")
    rows = np.packbits(np.ascontiguousarray(bits.T), axis=1, bitorder="little")
    return rows.view("<u8").astype(np.uint64)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=40),
    block=st.sampled_from([1, 3, 8, 1024]),
    seed=st.binary(min_size=8, max_size=8),
)
def test_transpose_matches_reference(width: int, block: int, seed: bytes) -> None:
    rng = np.random.default_rng(int.from_bytes(seed, "little"))
    cols = rng.integers(0, 2**64, size=(128, width), dtype=np.uint64, endpoint=False)
    got = transpose128(cols, block_words=block)
    assert got.shape == (64 * width, 2)
    assert np.array_equal(got, reference_transpose(cols))


@settings(max_examples=30, deadline=None)
@given(row=st.integers(0, 127), col=st.integers(0, 64 * 5 - 1))
def test_transpose_moves_single_bit(row: int, col: int) -> None:
    cols = np.zeros((128, 5), dtype=np.uint64)
    cols[row, col // 64] = np.uint64(1) << np.uint64(col % 64)
    rows = transpose128(cols)
    expect = np.zeros((320, 2), dtype=np.uint64)
    expect[col, row // 64] = np.uint64(1) << np.uint64(row % 64)
    assert np.array_equal(rows, expect)


def test_transpose_rejects_bad_shape() -> None:
    with pytest.raises(LocalProtocolError):
        transpose128(np.zeros((64, 2), dtype=np.uint64))


def test_word_bits_and_lsb_words_roundtrip() -> None:
    rng = np.random.default_rng(1)
    words = rng.integers(0, 2**64, size=50, dtype=np.uint64)
    bits = word_bits(words)
    assert bits.shape == (50, 64)
    ref = np.unpackbits(words.astype("<u8").view(np.uint8), bitorder="little").reshape(50, 64)
    assert np.array_equal(bits, ref)
    noise = rng.integers(0, 2**64, size=(50, 64), dtype=np.uint64) & ~np.uint64(1)
    assert np.array_equal(lsb_words((bits | noise).reshape(-1)), words)


@settings(max_examples=80, deadline=None)
@given(
    widths=st.lists(st.integers(1, 64), min_size=1, max_size=70),
    seed=st.integers(0, 2**32),
)
def test_pack_plan_roundtrip(widths: list[int], seed: int) -> None:
    plan = PackPlan(tuple(widths))
    assert all(e >= w for e, w in zip(plan.effective, widths, strict=True))
    assert sum(plan.effective) == 64 * plan.words  # no padding: every word full
    assert plan.words == -(-sum(plan.effective) // 64)
    rng = np.random.default_rng(seed)
    vals = rng.integers(0, 2**64, size=(7, len(widths)), dtype=np.uint64)
    masks = np.array(
        [(1 << e) - 1 if e < 64 else 2**64 - 1 for e in plan.effective], dtype=np.uint64
    )
    assert np.array_equal(plan.unpack(plan.pack(vals)), vals & masks)


def test_triple_plan_is_tight() -> None:
    plan = PackPlan(tuple(64 - k for k in range(64)))
    assert sum(64 - k for k in range(64)) == 2080
    assert plan.words == 33  # ceil(2080 / 64): one product's corrections
    with pytest.raises(LocalProtocolError):
        PackPlan((0, 3))
    with pytest.raises(LocalProtocolError):
        PackPlan((65,))
