"""IKNP OT extension with the ALSZ optimisations, for one ordered pair, vectorised over numpy.

Follows Ishai, Kilian, Nissim and Petrank, "Extending Oblivious Transfers Efficiently" (CRYPTO
2003) with the optimisations of Asharov, Lindell, Schneider and Zohner, "More Efficient Oblivious
Transfer and Extensions for Faster Secure Computation" (CCS 2013): the 128 base OTs give seeds,
not messages; the receiver expands both seeds of each base OT with a PRG and sends only
``u_l = G(k0_l) xor G(k1_l) xor r``.

Roles for an ordered pair (S sends OTs, R receives them).  The base OTs ran the other way: S
chose ``Delta`` (128 bits) and learnt ``k_{Delta_l, l}``; R holds both seeds ``k0_l, k1_l``.

* R: ``t_l = G(k0_l)``, sends ``u_l = t_l xor G(k1_l) xor r`` (128 columns of m bits);
* S: ``q_l = G(k_{Delta_l, l}) xor Delta_l u_l = t_l xor Delta_l r``; row-wise
  ``q_t = t_t xor r_t Delta``;
* outputs ``H(t, q_t)``, ``H(t, q_t xor Delta)`` for S and ``H(t, t_t) = H(t, q_t xor r_t Delta)``
  for R, with the tweakable correlation-robust hash of :mod:`.primitives` (low 64 bits): a
  random OT with 64-bit messages.  Callers derandomise it (correlated OT, AND shares).

Cost per extension of m OTs (m a multiple of 64): one message R -> S of exactly ``16 m`` bytes
(``u``, a flat uint64 array of ``2 m`` words); no message S -> R.  Work is done in sub-blocks of
``BLOCK_WORDS`` column words so the bit matrix stays in cache; the 128 column PRG streams and the
OT index (hash tweak) continue across calls, so no pad or tweak is reused.  Both ends must call
with the same m in the same order (the engine guarantees it: every size is public).

May import: numpy, :mod:`mpc_runtime.errors` and the siblings ``bitmatrix``, ``exchange``,
``primitives``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc_runtime.errors import LocalProtocolError

from .bitmatrix import U64Array, transpose_into
from .exchange import check_array
from .primitives import ColumnPRG, CRHash, Workspace

__all__ = ["ExtReceiver", "ExtSender", "Links", "pair_tag"]

_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def pair_tag(sender: int, receiver: int) -> int:
    """The public 64-bit hash-tweak tag of the ordered pair (OT sender, OT receiver)."""
    if not (0 <= sender < 2**32 and 0 <= receiver < 2**32):
        raise LocalProtocolError("party ids must fit in 32 bits for OT tweaks")
    return (sender << 32) | receiver


class ExtReceiver:
    """Our end of the pair (peer sends OTs to us): extends with our choice bits."""

    __slots__ = ("_count", "_g0", "_g1", "_tag")

    def __init__(self, seeds0: Sequence[bytes], seeds1: Sequence[bytes], tag: int) -> None:
        self._g0 = ColumnPRG(seeds0)
        self._g1 = ColumnPRG(seeds1)
        self._tag = tag
        self._count = 0

    def __repr__(self) -> str:
        return f"ExtReceiver(ots={self._count})"

    def extend(self, choices: U64Array, ws: Workspace, crh: CRHash) -> tuple[U64Array, U64Array]:
        """``(u, h)`` for ``m = 64 * len(choices)`` OTs: u to send, h[t] = H(t, t_t) to keep."""
        width = choices.shape[0]
        u = np.empty((128, width), dtype=np.uint64)
        h = np.empty(64 * width, dtype=np.uint64)
        for s in range(0, width, ws.block_words):
            e = min(width, s + ws.block_words)
            w = e - s
            t = self._g0.fill(ws.mat_a, ws, w)
            g1 = self._g1.fill(ws.mat_b, ws, w)
            ub = u[:, s:e]
            np.bitwise_xor(t, g1, out=ub)
            ub ^= choices[s:e]
            rows = ws.rows[: 64 * w]
            transpose_into(t, ws.scratch, rows)
            tweak = crh.tweaks(64 * w, self._count + 64 * s, self._tag, ws)
            crh.low64(rows, tweak, h[64 * s : 64 * e], ws)
        self._count += 64 * width
        return u.reshape(-1), h


class ExtSender:
    """Our end of the pair (we send OTs to the peer): answers the peer's ``u``."""

    __slots__ = ("_count", "_delta", "_g", "_mask", "_tag")

    def __init__(self, delta: bytes, seeds: Sequence[bytes], tag: int) -> None:
        if len(delta) != 16:
            raise LocalProtocolError("Delta must be 16 bytes")
        self._delta = np.frombuffer(delta, dtype="<u8").astype(np.uint64)
        bits = np.unpackbits(np.frombuffer(delta, dtype=np.uint8), bitorder="little")
        self._mask = np.where(bits.astype(bool), _ALL, np.uint64(0))[:, None]
        self._g = ColumnPRG(seeds)
        self._tag = tag
        self._count = 0

    def __repr__(self) -> str:
        return f"ExtSender(ots={self._count})"

    def respond(self, u: U64Array, ws: Workspace, crh: CRHash) -> tuple[U64Array, U64Array]:
        """``(h0, h1)``: h0[t] = H(t, q_t), h1[t] = H(t, q_t xor Delta), for the peer's ``u``."""
        if u.ndim != 1 or u.size % 128:
            raise LocalProtocolError("u must be a flat array of 128 columns")
        width = u.size // 128
        cols = u.reshape(128, width)
        h0 = np.empty(64 * width, dtype=np.uint64)
        h1 = np.empty(64 * width, dtype=np.uint64)
        for s in range(0, width, ws.block_words):
            e = min(width, s + ws.block_words)
            w = e - s
            q = self._g.fill(ws.mat_a, ws, w)
            masked = ws.mat_b[: 128 * w].reshape(128, w)
            np.bitwise_and(cols[:, s:e], self._mask, out=masked)
            q ^= masked
            rows = ws.rows[: 64 * w]
            transpose_into(q, ws.scratch, rows)
            tweak = crh.tweaks(64 * w, self._count + 64 * s, self._tag, ws)
            crh.low64(rows, tweak, h0[64 * s : 64 * e], ws)
            rows[:, 0] ^= self._delta[0]
            rows[:, 1] ^= self._delta[1]
            crh.low64(rows, tweak, h1[64 * s : 64 * e], ws)
        self._count += 64 * width
        return h0, h1


class Links:
    """One party's extension state with every peer, plus the shared workspace and hash."""

    __slots__ = ("crh", "me", "parties", "peers", "receivers", "senders", "ws")

    def __init__(
        self,
        me: int,
        parties: tuple[int, ...],
        senders: dict[int, ExtSender],
        receivers: dict[int, ExtReceiver],
    ) -> None:
        self.me = me
        self.parties = parties
        self.peers = tuple(p for p in parties if p != me)
        self.senders = senders
        self.receivers = receivers
        self.ws = Workspace()
        self.crh = CRHash()

    def __repr__(self) -> str:
        return f"Links(me={self.me}, peers={self.peers})"

    def extend(self, peer: int, choices: U64Array) -> tuple[U64Array, U64Array]:
        """As OT receiver of ``peer``: ``(u to send, H(t, t_t) to keep)``."""
        return self.receivers[peer].extend(choices, self.ws, self.crh)

    def respond(self, peer: int, u: object, width: int) -> tuple[U64Array, U64Array]:
        """As OT sender to ``peer``: check its ``u`` (``128 * width`` words), return (h0, h1)."""
        cols = check_array(u, np.uint64, (128 * width,), peer, "IKNP u")
        return self.senders[peer].respond(cols, self.ws, self.crh)
