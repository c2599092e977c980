"""Bit-level array tools for OT extension: the 128 x m transpose, bit (un)packing, field packing.

Conventions (used everywhere in :mod:`mpc_runtime.preprocessing.ot`):

* A *column* of m bits is ``m // 64`` uint64 words, bit ``t`` being bit ``t % 64`` of word
  ``t // 64`` (least significant bit first; the same as AES-CTR bytes read little-endian).
* An IKNP matrix is 128 columns, shape ``(128, W)``; its transpose is ``m = 64 W`` *rows* of 128
  bits, shape ``(m, 2)``: bit ``l`` of row ``t`` is bit ``l % 64`` of word ``l // 64``.
* Choice vectors are columns, so ``choices`` as uint64 words ARE the packed choice bits.

The transpose works on 64 x 64 bit blocks, all blocks of a sub-matrix at once: six masked
delta-swap steps (Hacker's Delight 7-3) over uint64 views whose inner runs are contiguous, then
one gather into row order.  No per-bit unpacking of the matrix.

:class:`PackPlan` packs correction fields of known widths (at most 64 bits each) into whole
uint64 words by first-fit decreasing; the last field in each word is widened to fill it, so every
word sent is full of uniformly random bits and nothing is padding.

May import: numpy and :mod:`mpc_runtime.errors` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import LocalProtocolError

__all__ = [
    "PackPlan",
    "U64Array",
    "lsb_words",
    "transpose_into",
    "transpose128",
    "word_bits",
]

U64Array = npt.NDArray[np.uint64]
_U64 = np.uint64
_ALL = 0xFFFF_FFFF_FFFF_FFFF
_SWAPS = (
    (32, 0x0000_0000_FFFF_FFFF),
    (16, 0x0000_FFFF_0000_FFFF),
    (8, 0x00FF_00FF_00FF_00FF),
    (4, 0x0F0F_0F0F_0F0F_0F0F),
    (2, 0x3333_3333_3333_3333),
    (1, 0x5555_5555_5555_5555),
)
_SHIFTS = np.arange(64, dtype=np.uint64)


def transpose_into(cols: U64Array, scratch: U64Array, rows: U64Array) -> None:
    """Transpose the 128 x 64w bit matrix ``cols`` (shape (128, w)) into ``rows`` (64w, 2).

    ``cols`` may be a strided view (rows of a larger buffer) and is destroyed (swapped in place);
    ``scratch`` holds at least 64w words.  Vectorised over all w 64x64 blocks of each half.
    """
    w = cols.shape[1]
    if cols.shape != (128, w) or rows.shape != (64 * w, 2) or scratch.size < 64 * w:
        raise LocalProtocolError("transpose_into got arrays of mismatched shapes")
    blocks = cols.reshape(2, 64, w)
    for j, mask in _SWAPS:
        pairs = blocks.reshape(2, 64 // (2 * j), 2, j, w)
        lo = pairs[:, :, 0]
        hi = pairs[:, :, 1]
        t = scratch[: 64 * w].reshape(lo.shape)
        np.right_shift(lo, _U64(j), out=t)
        t ^= hi
        t &= _U64(mask)
        hi ^= t
        t <<= _U64(j)
        lo ^= t
    # Word (half h, row c, block b) now holds bits 64h..64h+63 of output row 64b + c.
    np.copyto(rows.reshape(w, 64, 2), blocks.transpose(2, 1, 0))


def transpose128(cols: U64Array, block_words: int = 1024) -> U64Array:
    """The (64W, 2) row form of a (128, W) column matrix (a convenience over transpose_into)."""
    if cols.ndim != 2 or cols.shape[0] != 128 or cols.dtype != np.uint64:
        raise LocalProtocolError("transpose128 needs a (128, W) uint64 array")
    width = cols.shape[1]
    out = np.empty((64 * width, 2), dtype=np.uint64)
    work = np.empty((128, min(width, block_words)), dtype=np.uint64)
    scratch = np.empty(64 * work.shape[1], dtype=np.uint64)
    for s in range(0, width, block_words):
        e = min(width, s + block_words)
        block = work[:, : e - s]
        np.copyto(block, cols[:, s:e])
        transpose_into(block, scratch, out[64 * s : 64 * e])
    return out


def word_bits(words: U64Array) -> U64Array:
    """Shape (M,) words -> (M, 64) array of their bits (0/1 as uint64), LSB first."""
    return (words[:, None] >> _SHIFTS) & _U64(1)


def lsb_words(values: U64Array) -> U64Array:
    """The least significant bits of ``64 M`` values, packed into M words (LSB first)."""
    bits = (values & _U64(1)).astype(np.uint8)
    packed = np.packbits(bits.reshape(-1, 64), axis=1, bitorder="little")
    return packed.view("<u8").astype(np.uint64, copy=False).reshape(-1)


@dataclass(frozen=True)
class _Layer:
    fields: npt.NDArray[np.intp]
    words: npt.NDArray[np.intp]
    shifts: U64Array
    masks: U64Array


class PackPlan:
    """How fields of given widths sit in uint64 words (first-fit decreasing, last field widened).

    ``widths[k]`` is how many low bits of field k matter.  ``effective[k]`` >= ``widths[k]`` is how
    many are sent; ``words`` is the number of uint64 words per element.
    """

    def __init__(self, widths: tuple[int, ...]) -> None:
        if not widths or any(not 1 <= w <= 64 for w in widths):
            raise LocalProtocolError("field widths must be between 1 and 64")
        order = sorted(range(len(widths)), key=lambda k: (-widths[k], k))
        bins: list[list[int]] = []  # field indices per word, in placement order
        used: list[int] = []
        for k in order:
            for b, u in enumerate(used):
                if u + widths[k] <= 64:
                    bins[b].append(k)
                    used[b] = u + widths[k]
                    break
            else:
                bins.append([k])
                used.append(widths[k])
        effective = list(widths)
        offsets = [0] * len(widths)
        for items in bins:
            off = 0
            for k in items:
                offsets[k] = off
                off += widths[k]
            effective[items[-1]] = 64 - offsets[items[-1]]
        self.widths = widths
        self.effective = tuple(effective)
        self.words = len(bins)
        layers = []
        for depth in range(max(len(items) for items in bins)):
            sel = [(items[depth], b) for b, items in enumerate(bins) if len(items) > depth]
            ks = np.array([k for k, _ in sel], dtype=np.intp)
            layers.append(
                _Layer(
                    fields=ks,
                    words=np.array([b for _, b in sel], dtype=np.intp),
                    shifts=np.array([offsets[k] for k in ks], dtype=np.uint64),
                    masks=np.array(
                        [(1 << effective[k]) - 1 if effective[k] < 64 else _ALL for k in ks],
                        dtype=np.uint64,
                    ),
                )
            )
        self._layers = tuple(layers)

    def pack(self, values: U64Array) -> U64Array:
        """(c, F) field values -> (c, words) packed words (bits above each width dropped)."""
        out = np.empty((values.shape[0], self.words), dtype=np.uint64)
        for i, layer in enumerate(self._layers):
            part = values[:, layer.fields] & layer.masks
            part <<= layer.shifts
            if i == 0:
                out[:, layer.words] = part
            else:
                out[:, layer.words] |= part
        return out

    def unpack(self, packed: U64Array) -> U64Array:
        """(c, words) packed words -> (c, F) field values (each masked to its effective width)."""
        out = np.empty((packed.shape[0], len(self.widths)), dtype=np.uint64)
        for layer in self._layers:
            part = packed[:, layer.words] >> layer.shifts
            part &= layer.masks
            out[:, layer.fields] = part
        return out
