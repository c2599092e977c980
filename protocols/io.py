"""Getting private inputs into shares and opening shared values.

* :func:`share_input` - one owner secret-shares its value: **1 online round**; the owner sends
  ``8 * (n - 1)`` bytes per element (one uint64 share to each peer), the others send nothing.
* :func:`share_inputs` - every listed owner shares its value at once, in **1 online round**;
  each owner sends ``8 * (n - 1)`` bytes per element, a non-owner sends 0.
* :func:`open_value` - every party learns the value: **1 online round**, ``8 * (n - 1)`` bytes
  per element per party.  For protocol-internal openings and tests only: outputs to users go
  through ``ctx.reveal(name, x.share, frac_bits=x.frac_bits)``, which enforces the reveal policy.

Additive n-out-of-n sharing over Z_2^64 (any n - 1 shares are uniform and independent of the
secret); shares come from :mod:`mpc_runtime.sharing.additive` (AES-CTR CSPRNG).  The owner
validates and encodes its input (:func:`mpc_runtime.sharing.ring.encode_int` /
``encode_fixed``) before anything is sent, so a bad input raises
:class:`~mpc_runtime.errors.InputError` at the owner with no share having left it; the session
then aborts every peer (they see ``SessionAborted``), nobody hangs.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError
from mpc_runtime.runtime import ArraySpec, Context
from mpc_runtime.sharing import additive, ring
from mpc_runtime.sharing.prg import normalize_shape
from protocols.types import U64, Shared, contig


def encode(value: Any, *, shape: Sequence[int] | int, frac_bits: int = 0) -> U64:
    """Validate and encode one owner's input into ring elements of exactly ``shape``.

    Raises InputError (bad type, out of range, wrong shape; never with the value).
    """
    from mpc_runtime.errors import InputError

    dims = normalize_shape(shape)
    enc = ring.encode_fixed(value, frac_bits) if frac_bits else ring.encode_int(value)
    if enc.shape != dims:
        raise InputError(f"input has shape {enc.shape}, the job expects {dims}")
    return contig(enc)


async def share_input(
    ctx: Context, value: Any, owner: int, *, shape: Sequence[int] | int, frac_bits: int = 0
) -> Shared:
    """Owner ``owner`` secret-shares ``value`` (ignored elsewhere) to all parties: 1 round."""
    ctx = ctx.scope("share_input")
    got = await _share(ctx, value, (owner,), shape, frac_bits)
    return got[owner]


async def share_inputs(
    ctx: Context,
    value: Any,
    *,
    owners: Sequence[int],
    shape: Sequence[int] | int,
    frac_bits: int = 0,
) -> dict[int, Shared]:
    """Every party in ``owners`` shares its own ``value`` at once: 1 round in total.

    ``value`` is this party's input (ignored if it is not an owner).  Returns a Shared per owner.
    """
    ctx = ctx.scope("share_inputs")
    return await _share(ctx, value, tuple(owners), shape, frac_bits)


async def _share(
    ctx: Context, value: Any, owners: tuple[int, ...], shape: Sequence[int] | int, frac_bits: int
) -> dict[int, Shared]:
    dims = normalize_shape(shape)
    if len(set(owners)) != len(owners) or not owners:
        raise LocalProtocolError("owners must be a non-empty list of distinct party ids")
    for o in owners:
        if o not in ctx.parties:
            raise LocalProtocolError(f"owner {o} is not a party of this job")
    me = ctx.party_id
    parties = ctx.parties
    outgoing: dict[int, U64] = {}
    mine: U64 | None = None
    if me in owners:
        enc = encode(value, shape=dims, frac_bits=frac_bits)  # raises before any send
        shares = additive.share(enc, ctx.n)
        for p, s in zip(parties, shares, strict=True):
            if p == me:
                mine = s
            else:
                outgoing[p] = contig(s.reshape(-1))
    senders = [o for o in owners if o != me]
    # Sent flat: the wire codec currently decodes a 0-d array as shape (1,).
    size = int(np.prod(dims, dtype=np.int64))
    got = await ctx.exchange(outgoing, senders, expect=ArraySpec(np.uint64, (size,)))
    out: dict[int, Shared] = {}
    for o in owners:
        share = mine if o == me else got[o].reshape(dims)
        if share is None:  # pragma: no cover - mine is set whenever me is an owner
            raise LocalProtocolError("missing own share")
        out[o] = Shared(share, frac_bits)
    return out


async def open_value(ctx: Context, x: Shared) -> U64:
    """Open ``x`` to every party (1 round): the reconstructed ring array (uint64).

    Protocol-internal and for tests; user outputs must go through ``ctx.reveal``.
    """
    ctx = ctx.scope("open")
    return await open_raw(ctx, x.share)


async def open_raw(ctx: Context, share: U64) -> U64:
    """One round on ``ctx`` (no new scope): broadcast ``share``, return the sum of all shares."""
    flat = contig(share.reshape(-1))  # flat: 0-d arrays do not survive the wire
    got = await ctx.broadcast(flat, expect=ArraySpec.like(flat))
    total = np.array(flat, dtype=np.uint64, copy=True)
    for p, v in got.items():
        if p != ctx.party_id:
            np.add(total, v, out=total)
    return total.reshape(share.shape)


async def open_xor_raw(ctx: Context, share: np.ndarray) -> np.ndarray:
    """One round on ``ctx``: broadcast an XOR share (uint8/uint64), return the XOR of all."""
    flat = contig(share.reshape(-1))
    got = await ctx.broadcast(flat, expect=ArraySpec.like(flat))
    total = np.array(flat, copy=True)
    for p, v in got.items():
        if p != ctx.party_id:
            np.bitwise_xor(total, v, out=total)
    return total.reshape(share.shape)
