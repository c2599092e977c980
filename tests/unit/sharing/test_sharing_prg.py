"""The AES-CTR PRG."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.sharing import prg as prg_mod
from mpc_runtime.sharing.prg import PRG, SEED_BYTES, new_seed, random_ring

SEED = bytes(range(16))


def test_seed() -> None:
    assert SEED_BYTES == 16
    s = new_seed()
    assert isinstance(s, bytes) and len(s) == 16 and s != new_seed()


def test_known_answer() -> None:
    # AES-128-CTR keystream with a zero counter block = AES_k(0), AES_k(1), ...
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(SEED), modes.ECB()).encryptor()
    blocks = enc.update(bytes(16) + (1).to_bytes(16, "big")) + enc.finalize()
    assert PRG(SEED).bytes(32) == blocks
    assert PRG(SEED).uint64(4).tolist() == np.frombuffer(blocks, dtype="<u8").tolist()


def test_determinism_and_seed_dependence() -> None:
    a, b = PRG(SEED), PRG(SEED)
    assert np.array_equal(a.uint64((3, 5)), b.uint64((3, 5)))
    assert np.array_equal(a.bits(77), b.bits(77))
    other = PRG(bytes(15) + b"\x01").uint64((3, 5))
    assert not np.array_equal(PRG(SEED).uint64((3, 5)), other)


@given(st.integers(0, 300), st.integers(0, 300))
def test_stream_is_sequential(k: int, m: int) -> None:
    p = PRG(SEED)
    first, second = p.uint64(k), p.uint64(m)
    whole = PRG(SEED).uint64(k + m)
    assert np.array_equal(np.concatenate([first, second]), whole)
    assert p.consumed == 8 * (k + m)


@pytest.mark.parametrize("odd", [0, 1, 7, 15, 16, 17])
def test_chunked_keystream_across_chunk_boundaries(odd: int) -> None:
    # The keystream is made CHUNK_BYTES at a time from a shared zero block: across chunk
    # boundaries and after an unaligned earlier request it must be exactly AES-CTR's.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    chunk = prg_mod.CHUNK_BYTES
    n = 2 * chunk + 3 * 16 + odd
    want = Cipher(algorithms.AES(SEED), modes.CTR(bytes(16))).encryptor().update(bytes(odd + n))
    p = PRG(SEED)
    head = p.bytes(odd)
    got = p.uint8(n)
    assert head + got.tobytes() == want
    assert got.flags.writeable and got.size == n
    assert p.consumed == odd + n


def test_mixed_requests_consume_documented_bytes() -> None:
    p = PRG(SEED)
    p.uint8(3)
    p.bits(9)  # ceil(9 / 8) = 2 bytes
    p.bytes(5)
    tail = p.uint64(2)
    ref = PRG(SEED).bytes(3 + 2 + 5 + 16)
    assert tail.tolist() == np.frombuffer(ref[10:], dtype="<u8").tolist()
    assert p.consumed == 26


def test_bits_are_bits_lsb_first() -> None:
    raw = PRG(SEED).bytes(2)
    bits = PRG(SEED).bits((2, 8))
    assert bits.dtype == np.uint8 and set(np.unique(bits).tolist()) <= {0, 1}
    expected = [(raw[i // 8] >> (i % 8)) & 1 for i in range(16)]
    assert bits.reshape(-1).tolist() == expected


def test_output_shapes_and_writable() -> None:
    p = PRG(SEED)
    x = p.uint64((2, 3, 4))
    assert x.shape == (2, 3, 4) and x.dtype == np.uint64 and x.flags.writeable
    assert x.flags.c_contiguous
    assert p.uint8(()).shape == () and p.uint64(0).shape == (0,)
    x[...] = 0  # writable, not a view on an immutable bytes object


def test_uniformity_smoke() -> None:
    x = PRG(new_seed()).uint64(1 << 16)
    ones = np.unpackbits(x.view(np.uint8)).mean()
    assert abs(ones - 0.5) < 0.01
    assert len(np.unique(x)) == x.size


@pytest.mark.parametrize("bad", [b"", bytes(15), bytes(17), bytes(32), "0" * 16, None])
def test_bad_seed(bad: object) -> None:
    with pytest.raises(LocalProtocolError):
        PRG(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [-1, (2, -1), 1.5, (True,), "3"])
def test_bad_shape(shape: object) -> None:
    with pytest.raises(LocalProtocolError):
        PRG(SEED).uint64(shape)


def test_repr_hides_seed() -> None:
    p = PRG(SEED)
    p.uint64(1)
    r = repr(p)
    assert SEED.hex() not in r and str(SEED) not in r and "consumed=8" in r
    assert not hasattr(p, "__dict__")
    assert all("seed" not in s for s in type(p).__slots__)


def test_random_ring_fresh() -> None:
    a, b = random_ring((4, 4)), random_ring((4, 4))
    assert a.dtype == np.uint64 and a.shape == (4, 4) and not np.array_equal(a, b)
    assert prg_mod.random_ring(0).shape == (0,)
