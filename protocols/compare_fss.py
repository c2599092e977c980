"""Two-party comparison and equality by function secret sharing: 1 online round.

Boyle, Chandran, Gilboa, Gupta, Ishai, Kumar, Rathee, "Function Secret Sharing for Mixed-Mode
and Fixed-Point Secure Computation", Eurocrypt 2021: with an input mask ``r`` and a key pair of a
distributed comparison function (DCF) from the dealer, the parties open the masked input once
and each evaluates its key locally; the two results are additive shares of the answer.  Keys
are trees of fixed-key AES (:func:`~mpc_runtime.preprocessing.requests.dcf_prg`), evaluated for
all elements at once (one AES call per tree level and chunk).  Equality uses a distributed point
function (Boyle, Gilboa, Ishai, "Function Secret Sharing: Improvements and Extensions",
CCS 2016).  Exactly 2 parties; dealer material only (kinds ``dcf``, ``dpf``); semi-honest, the
dealer must not collude with a party.

:func:`msb`: open ``c = d + r`` (**the only round**).  The ``dcf`` key computes
``beta [c' < r']`` with ``c' = c mod 2^63``, ``r' = r mod 2^63`` and ``beta = 1 - 2 r_63``, and
``w`` shares ``r_63``, so ``w + DCF(c') = r_63 xor [c' < r']`` and
``MSB(d) = c_63 xor r_63 xor [c' < r']`` is linear in it (public ``c_63``).

:func:`is_zero`: open ``c = d + r``; the ``dpf`` key computes ``[c == r] = [d == 0]``.

Costs per party, m elements: **1 round**, ``8 m`` bytes online.  Material per element and party
(all from the dealer; its correction words go to both parties): ``dcf`` 1568 bytes (8 + 8 + 16 +
63 * 24 + 16 + 8), ``dpf`` 1072 bytes (8 + 16 + 64 * 16 + 16 + 8).  Local work: 63 (64) tree
levels of two AES blocks per element.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``,
``mpc_runtime.preprocessing.requests``, ``protocols.types``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np

from mpc_runtime.errors import UsageError
from mpc_runtime.preprocessing.requests import Component, Material, dcf_eval, dpf_eval
from mpc_runtime.runtime import Context
from protocols.types import U64

__all__ = ["KEY_CHUNK", "ROUNDS", "is_zero", "material_plan", "msb", "payload_bytes"]

ROUNDS = 1
KEY_CHUNK = 1 << 15
"""Elements per material request (a dcf request of this size is about 51 MB per party)."""
Opener = Callable[[Context, U64, U64], Awaitable[U64]]


def material_plan(op: str, m: int) -> list[list[Component]]:
    kind = "dcf" if op == "lt" else "dpf"
    return [[Component(kind, (min(KEY_CHUNK, m - s),))] for s in range(0, m, KEY_CHUNK)]


def payload_bytes(m: int) -> int:
    return 8 * m


async def _keys(ctx: Context, op: str, m: int) -> list[Material]:
    if ctx.n != 2:
        raise UsageError(f"function secret sharing needs exactly 2 parties, not {ctx.n}")
    keys = []
    for comps in material_plan(op, m):
        keys.extend(await ctx.material(comps))
    return keys


async def msb(ctx: Context, d: U64, opener: Opener) -> U64:
    """Additive shares of MSB(d) for a flat shared d: 1 round."""
    keys = await _keys(ctx, "lt", d.size)
    c = await opener(ctx, d, np.concatenate([k["r"] for k in keys]))  # the round
    del d
    party = 0 if ctx.is_first else 1
    low = c & np.uint64(2**63 - 1)
    z = np.empty(c.size, dtype=np.uint64)
    s = 0
    for key in keys:  # z = w + DCF(c') = r_63 xor [c' < r']
        e = s + key["r"].size
        np.add(key["w"], dcf_eval(party, low[s:e], key), out=z[s:e])
        s = e
    c63 = c >> np.uint64(63)  # MSB(d) = c_63 xor z = z + c_63 (1 - 2 z)
    flip = np.negative(c63)
    z ^= flip
    z += c63  # -z where c_63 = 1
    if ctx.is_first:
        z += c63
    return z


async def is_zero(ctx: Context, d: U64, opener: Opener) -> U64:
    """Additive shares of [d == 0] for a flat shared d: 1 round."""
    keys = await _keys(ctx, "eq", d.size)
    c = await opener(ctx, d, np.concatenate([k["r"] for k in keys]))  # the round
    del d
    party = 0 if ctx.is_first else 1
    out = np.empty(c.size, dtype=np.uint64)
    s = 0
    for key in keys:
        e = s + key["r"].size
        out[s:e] = dpf_eval(party, c[s:e], key)
        s = e
    return out
