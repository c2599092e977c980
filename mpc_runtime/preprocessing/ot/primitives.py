"""Symmetric primitives of OT extension: 128 column PRGs and a fixed-key correlation-robust hash.

* :class:`ColumnPRG` -- 128 AES-128-CTR keystreams (one per base-OT seed, all-zero initial counter),
  each continued across calls, so no pad is ever used twice (the ALSZ 2013 PRG expansion).
* :class:`CRHash` -- the tweakable correlation-robust hash of Guo, Kolesnikov, Rosulek, Trieu and
  Wang (S&P 2020): ``H(i, x) = pi(pi(x) xor i) xor pi(x)`` with ``pi`` AES-128 under a fixed public
  key, ECB over whole arrays.  The tweak ``i`` is the 128-bit block (OT index, pair tag), so
  every OT of every ordered pair hashes under a distinct tweak.  Callers use the low 64 bits.
* :class:`Workspace` -- reusable scratch buffers (one per engine), so the hot loops write into
  warm memory instead of fresh pages.

May import: numpy, ``cryptography``, :mod:`mpc_runtime.errors` and :mod:`.bitmatrix`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from mpc_runtime.errors import LocalProtocolError

from .bitmatrix import U64Array

__all__ = ["BLOCK_WORDS", "ColumnPRG", "CRHash", "Workspace"]

BLOCK_WORDS = 1024
"""Column words per sub-block: 64 * 1024 = 65536 OTs, a 1 MiB bit matrix."""

_FIXED_KEY = hashlib.sha256(b"mpc-runtime/ot/crhash/fixed-key/v1").digest()[:16]
_ZERO_IV = bytes(16)


class Workspace:
    """Scratch buffers for one sub-block of up to ``BLOCK_WORDS`` column words."""

    def __init__(self, block_words: int = BLOCK_WORDS) -> None:
        w = block_words
        self.block_words = w
        self.mat_a = np.empty(128 * w, dtype=np.uint64)
        self.mat_b = np.empty(128 * w, dtype=np.uint64)
        self.scratch = np.empty(64 * w, dtype=np.uint64)
        self.rows = np.empty((64 * w, 2), dtype=np.uint64)
        # AES-ECB output buffers need block_size - 1 spare bytes: one spare row each.
        self.pi = np.empty((64 * w + 1, 2), dtype=np.uint64)
        self.tw = np.empty((64 * w + 1, 2), dtype=np.uint64)
        self.pi2 = np.empty((64 * w + 1, 2), dtype=np.uint64)
        self.zeros = np.zeros(8 * w, dtype=np.uint8)
        self.index = np.arange(64 * w, dtype=np.uint64)
        self.tweak = np.empty((64 * w, 2), dtype=np.uint64)
        self._views: dict[tuple[int, int], tuple[memoryview, list[memoryview]]] = {}

    def stream_views(self, buf: U64Array, w: int) -> tuple[memoryview, list[memoryview]]:
        """(w words of zeros, the 128 row slices of w words of ``buf``) as byte memoryviews.

        Cached per (buffer, w): the hot loop then makes no numpy views at all.
        """
        key = (id(buf), w)
        views = self._views.get(key)
        if views is None:
            if buf is not self.mat_a and buf is not self.mat_b:
                raise LocalProtocolError("stream_views only serves the workspace matrices")
            n = 8 * w
            raw = buf[: 128 * w].view(np.uint8)
            outs = [raw[row * n : row * n + n].data for row in range(128)]
            views = (self.zeros[:n].data, outs)
            self._views[key] = views
        return views


class ColumnPRG:
    """128 AES-128-CTR streams keyed by 16-byte seeds; each call takes the next bytes of each."""

    __slots__ = ("_streams",)

    def __init__(self, seeds: Sequence[bytes]) -> None:
        if len(seeds) != 128 or any(len(s) != 16 for s in seeds):
            raise LocalProtocolError("ColumnPRG needs 128 seeds of 16 bytes")
        self._streams: list[CipherContext] = [
            Cipher(algorithms.AES(bytes(s)), modes.CTR(_ZERO_IV)).encryptor() for s in seeds
        ]

    def __repr__(self) -> str:
        return "ColumnPRG(128 streams)"

    def fill(self, buf: U64Array, ws: Workspace, w: int) -> U64Array:
        """The next ``w`` words of every stream, as a (128, w) view of the flat buffer ``buf``."""
        n = 8 * w
        zeros, outs = ws.stream_views(buf, w)
        for enc, out in zip(self._streams, outs, strict=True):
            if enc.update_into(zeros, out) != n:
                raise LocalProtocolError("AES-CTR produced a short keystream")
        return buf[: 128 * w].reshape(128, w)


class CRHash:
    """``H(i, x) = pi(pi(x) xor i) xor pi(x)``, low 64 bits, over arrays of 128-bit rows."""

    __slots__ = ("_enc",)

    def __init__(self) -> None:
        self._enc = Cipher(algorithms.AES(_FIXED_KEY), modes.ECB()).encryptor()

    def __repr__(self) -> str:
        return "CRHash()"

    def _pi(self, src: U64Array, dst: U64Array, b: int) -> None:
        """``dst[:b] = pi(src[:b])``; ``dst`` has at least one spare row."""
        raw_in = src[:b].reshape(-1).view(np.uint8)
        raw_out = dst.reshape(-1).view(np.uint8)[: 16 * b + 15]
        if self._enc.update_into(raw_in.data, raw_out.data) != 16 * b:
            raise LocalProtocolError("AES-ECB produced a short output")

    def tweaks(self, b: int, first: int, tag: int, ws: Workspace) -> U64Array:
        """The tweak blocks ``(first + t, tag)`` for t < b, in the workspace."""
        out = ws.tweak[:b]
        np.add(ws.index[:b], np.uint64(first), out=out[:, 0])
        out[:, 1] = np.uint64(tag)
        return out

    def low64(self, rows: U64Array, tweak: U64Array, out: U64Array, ws: Workspace) -> None:
        """``out[t] = low64(H(tweak[t], rows[t]))`` for every row t of ``rows`` (b, 2)."""
        b = rows.shape[0]
        pi, tw, pi2 = ws.pi, ws.tw, ws.pi2
        self._pi(rows, pi, b)
        np.bitwise_xor(pi[:b], tweak, out=tw[:b])
        self._pi(tw, pi2, b)
        np.bitwise_xor(pi2[:b, 0], pi[:b, 0], out=out)
