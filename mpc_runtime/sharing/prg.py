"""A cryptographic pseudo-random generator: AES-128 in CTR mode keyed by a 16-byte seed.

What it is for: every random share, mask and piece of dealer material in mpc-runtime comes
from here (or directly from ``os.urandom``).  A :class:`PRG` is a *stateful sequential stream*:
the keystream of AES-128-CTR with an all-zero initial counter block, consumed front to back.
Two PRGs built from the same seed yield the same bytes in the same order, which is what lets
the dealer send a 16-byte seed instead of the arrays it expands to.  numpy's random module is
never used here: it is not a cryptographic generator.

Stream layout (the contract :mod:`mpc_runtime.sharing.dealer` relies on):

* ``bytes(n)`` consumes ``n`` bytes;
* ``uint8(shape)`` consumes ``size`` bytes, one per element;
* ``uint64(shape)`` consumes ``8 * size`` bytes, each element read little-endian;
* ``bits(shape)`` consumes ``ceil(size / 8)`` bytes, unpacked least-significant bit first.

Each request encrypts a shared read-only block of zeros into the output array, in
:data:`CHUNK_BYTES` pieces (AES-NI speed, GB/s class; no ``n``-byte zero input is allocated, so
expanding ``n`` bytes needs ``n`` bytes of memory, not ``2n``); the counter carries across calls,
so ``uint64(k)`` then ``uint64(m)`` equals ``uint64(k + m)`` split.

May import: numpy, ``cryptography`` and ``mpc_runtime.errors`` only.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpc_runtime.errors import LocalProtocolError

__all__ = ["SEED_BYTES", "PRG", "new_seed", "normalize_shape", "random_ring"]

SEED_BYTES = 16
_BLOCK = 16
_ZERO_NONCE = bytes(_BLOCK)
_LE_U64 = np.dtype("<u8")
CHUNK_BYTES = 1 << 20
"""Keystream is produced this many bytes per ``update_into`` call (a multiple of the block)."""
_ZEROS = bytes(CHUNK_BYTES)


def new_seed() -> bytes:
    """A fresh 16-byte seed from ``os.urandom``."""
    return os.urandom(SEED_BYTES)


def normalize_shape(shape: Any) -> tuple[int, ...]:
    """Turn an int or a sequence of ints into a shape tuple; reject negatives and non-ints."""
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        dims: tuple[Any, ...] = (shape,)
    elif isinstance(shape, tuple | list):
        dims = tuple(shape)
    else:
        raise LocalProtocolError(
            f"shape must be an int or a tuple of ints, got {type(shape).__name__}"
        )
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 0:
            raise LocalProtocolError("shape dimensions must be non-negative integers")
    return tuple(int(d) for d in dims)


class PRG:
    """AES-128-CTR keystream from ``seed`` (16 bytes), consumed sequentially.

    Not thread-safe.  The seed is not kept as an attribute and never appears in ``repr``.
    """

    __slots__ = ("_consumed", "_encryptor")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"PRG seed must be bytes, got {type(seed).__name__}")
        if len(seed) != SEED_BYTES:
            raise LocalProtocolError(f"PRG seed must be {SEED_BYTES} bytes, got {len(seed)}")
        cipher = Cipher(algorithms.AES(bytes(seed)), modes.CTR(_ZERO_NONCE))
        self._encryptor = cipher.encryptor()
        self._consumed = 0

    def __repr__(self) -> str:
        return f"PRG(consumed={self._consumed} bytes)"

    @property
    def consumed(self) -> int:
        """How many keystream bytes have been handed out so far."""
        return self._consumed

    def _stream(self, n: int) -> npt.NDArray[np.uint8]:
        """The next ``n`` keystream bytes as a fresh, writable uint8 array."""
        if n == 0:
            return np.empty(0, dtype=np.uint8)
        # update_into may need block_size - 1 spare bytes past what it writes: the next chunk's
        # bytes (overwritten next) or the tail kept for that purpose.
        out = np.empty(n + _BLOCK - 1, dtype=np.uint8)
        view = out.data  # a writable memoryview of the array
        zeros = memoryview(_ZEROS)
        for start in range(0, n, CHUNK_BYTES):
            m = min(CHUNK_BYTES, n - start)
            written = self._encryptor.update_into(zeros[:m], view[start : start + m + _BLOCK - 1])
            if written != m:  # CTR is a stream mode; anything else is a library bug.
                raise LocalProtocolError("AES-CTR produced a short keystream")
        self._consumed += n
        return out[:n]

    def bytes(self, n: int) -> bytes:
        """The next ``n`` keystream bytes."""
        (size,) = normalize_shape(n)
        return self._stream(size).tobytes()

    def uint8(self, shape: Any) -> npt.NDArray[np.uint8]:
        """Uniform uint8 values; consumes one byte per element."""
        dims = normalize_shape(shape)
        return self._stream(int(np.prod(dims, dtype=np.int64))).reshape(dims)

    def uint64(self, shape: Any) -> npt.NDArray[np.uint64]:
        """Uniform uint64 values (ring elements); consumes 8 little-endian bytes per element."""
        dims = normalize_shape(shape)
        raw = self._stream(8 * int(np.prod(dims, dtype=np.int64)))
        words = raw.view(_LE_U64).astype(np.uint64, copy=False)  # a no-op on little-endian hosts
        return words.reshape(dims)

    def bits(self, shape: Any) -> npt.NDArray[np.uint8]:
        """Uniform bits as a uint8 array of 0/1; consumes ``ceil(size / 8)`` bytes (LSB first)."""
        dims = normalize_shape(shape)
        size = int(np.prod(dims, dtype=np.int64))
        raw = self._stream((size + 7) // 8)
        return np.unpackbits(raw, count=size, bitorder="little").reshape(dims)


def random_ring(shape: Any) -> npt.NDArray[np.uint64]:
    """Fresh uniform ring elements from a PRG keyed by a new ``os.urandom`` seed."""
    return PRG(new_seed()).uint64(shape)
