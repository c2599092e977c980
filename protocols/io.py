"""Getting private inputs into shares, with their declared bounds; masked openings.

* :func:`share_declared` - every owner of the job's input ``name`` shares it, with the encoding,
  shape and bounds the job spec declares.  By default from **pairwise seeds: 0 rounds, 0 bytes**
  (as MP-SPDZ does): each pair of parties agreed a 16-byte seed in the mesh handshake; the owner
  derives every other party's share from the key it shares with that party
  (:meth:`~mpc_runtime.runtime.Context.pair_keys`, fresh per job, op path and call) and keeps
  ``x - sum(derived)``; the other party derives the same share without a message.  With
  ``via="messages"`` (or the job's ``params.input_sharing = "messages"``) the owner sends the
  shares instead: **1 online round**, ``8 * (n - 1)`` bytes per element per owner (a non-owner
  sends 0).  Security: a share derived from a key only the owner and its holder know is as
  uniform as a sent one; a coalition without the owner sees the same distribution either way.
* :func:`share_inputs` / :func:`share_input` - the same for explicit owners, shape and bounds.
* :func:`open_value` - every party learns the value: **1 round**, ``8 * (n - 1)`` bytes per
  element per party.  Allowed only where the session's policy allows unnamed openings (in-memory
  tests and benchmarks); outputs to users go through ``ctx.reveal(name, x)``, which enforces the
  reveal policy.  :func:`open_raw` / :func:`open_xor_raw` are the protocol-internal openings of
  values already masked by uniformly random material.

Additive n-out-of-n sharing over Z_2^64 (any n - 1 shares are uniform and independent of the
secret); shares come from :mod:`mpc_runtime.sharing.additive` (AES-CTR CSPRNG).  The owner
validates its input against the declared bounds and encodes it before anything is sent, so a bad
input raises :class:`~mpc_runtime.errors.InputError` at the owner with no share having left it;
the session then tells every peer that this owner refused its input (the category and the declared
bounds, never the value).  The declared bounds are public and become the :class:`Shared` value's
bounds, which every later operation carries forward so nothing can silently wrap.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_runtime.errors import InputError, LocalProtocolError, UnauthorizedReveal
from mpc_runtime.runtime import ArraySpec, Context
from mpc_runtime.sharing import additive, ring
from mpc_runtime.sharing.prg import PRG, normalize_shape
from protocols.types import DEFAULT_BOUND, U64, Shared, contig, describe

INPUT_SHARING = ("seeds", "messages")
"""How inputs are shared: derived from pairwise seeds (default, 0 rounds) or sent (1 round)."""

__all__ = [
    "encode",
    "encoded_bounds",
    "open_raw",
    "open_value",
    "open_xor_raw",
    "share_declared",
    "share_input",
    "share_inputs",
]


def encoded_bounds(bounds: tuple[float, float] | None, frac_bits: int) -> tuple[int, int]:
    """Real ``(lo, hi)`` bounds as inclusive encoded integers (outward rounding); the default
    (``None``) is ``±(2^31 - 1)`` encoded."""
    if bounds is None:
        return -DEFAULT_BOUND, DEFAULT_BOUND
    lo, hi = bounds
    scale = 2**frac_bits
    elo = math.floor(lo * scale) if frac_bits else int(lo)
    ehi = math.ceil(hi * scale) if frac_bits else int(hi)
    if elo > ehi or elo < ring.INT_MIN or ehi > ring.INT_MAX:
        raise LocalProtocolError(
            "bounds must satisfy lo <= hi inside the input range [-2^62, 2^62 - 1] (encoded)"
        )
    return elo, ehi


def encode(
    value: Any,
    *,
    shape: Sequence[int] | int,
    frac_bits: int = 0,
    lo: int = -DEFAULT_BOUND,
    hi: int = DEFAULT_BOUND,
    name: str = "input",
) -> U64:
    """Validate and encode one owner's input into ring elements of exactly ``shape``, inside
    the encoded bounds ``[lo, hi]``.  Raises InputError (never with the value)."""
    dims = normalize_shape(shape)
    try:
        enc = ring.encode_fixed(value, frac_bits) if frac_bits else ring.encode_int(value)
    except InputError as exc:
        raise InputError(f"{name}: {exc.message}") from None
    if enc.shape != dims:
        raise InputError(f"{name} has shape {enc.shape}, the job expects {dims}")
    signed = enc.view(np.int64)
    bad = int(np.count_nonzero((signed < lo) | (signed > hi)))
    if bad:
        raise InputError(
            f"{name}: {bad} of {signed.size} value{'s are' if signed.size != 1 else ' is'}"
            f" outside its declared bounds [{describe(lo, frac_bits)}, {describe(hi, frac_bits)}]"
        )
    return contig(enc)


async def share_input(
    ctx: Context,
    value: Any,
    owner: int,
    *,
    shape: Sequence[int] | int,
    frac_bits: int = 0,
    bounds: tuple[float, float] | None = None,
    via: str | None = None,
) -> Shared:
    """Owner ``owner`` secret-shares ``value`` (ignored elsewhere) to all parties: 0 rounds from
    pairwise seeds, 1 round with ``via="messages"``."""
    ctx = ctx.scope("share_input")
    lo, hi = encoded_bounds(bounds, frac_bits)
    dims = normalize_shape(shape)
    got = await _share(ctx, {owner: value}, (owner,), dims, frac_bits, lo, hi, via=via)
    return got[owner]


async def share_inputs(
    ctx: Context,
    value: Any,
    *,
    owners: Sequence[int],
    shape: Sequence[int] | int,
    frac_bits: int = 0,
    bounds: tuple[float, float] | None = None,
    via: str | None = None,
) -> dict[int, Shared]:
    """Every party in ``owners`` shares its own ``value`` at once: 0 rounds from pairwise seeds,
    1 round in total with ``via="messages"``.

    ``value`` is this party's input (ignored if it is not an owner); ``bounds`` are the public
    real bounds every owner's value must lie in (default ``±(2^31 - 1)`` encoded).
    """
    ctx = ctx.scope("share_inputs")
    lo, hi = encoded_bounds(bounds, frac_bits)
    values = {ctx.party_id: value}
    dims = normalize_shape(shape)
    return await _share(ctx, values, tuple(owners), dims, frac_bits, lo, hi, via=via)


async def share_declared(ctx: Context, name: str, *, via: str | None = None) -> dict[int, Shared]:
    """Every owner of the job's input ``name`` shares it with its declared encoding, shape and
    bounds: 0 rounds from seeds (1 with ``via="messages"``).  Returns a Shared per owner."""
    decls = ctx.declared_inputs(name)
    if not decls:
        raise LocalProtocolError(f"the job declares no input named {name!r}")
    first = decls[0]
    for d in decls[1:]:
        if (d.kind, d.shape, d.frac_bits) != (first.kind, first.shape, first.frac_bits):
            raise LocalProtocolError(f"owners of input {name!r} declare different encodings")
    ctx = ctx.scope("share_inputs")
    lo, hi = min(d.lo for d in decls), max(d.hi for d in decls)
    mine = {d.party: d for d in decls}.get(ctx.party_id)
    values: dict[int, Any] = {}
    own_bounds = (lo, hi)
    if mine is not None:
        values[ctx.party_id] = ctx.inputs.get(name)
        own_bounds = (mine.lo, mine.hi)
    owners = tuple(d.party for d in decls)
    return await _share(
        ctx,
        values,
        owners,
        first.shape,
        first.frac_bits,
        lo,
        hi,
        own_bounds,
        f"input {name!r}",
        via=via,
    )


async def _share(
    ctx: Context,
    values: dict[int, Any],
    owners: tuple[int, ...],
    dims: tuple[int, ...],
    frac_bits: int,
    lo: int,
    hi: int,
    own_bounds: tuple[int, int] | None = None,
    what: str = "input",
    *,
    via: str | None = None,
) -> dict[int, Shared]:
    if len(set(owners)) != len(owners) or not owners:
        raise LocalProtocolError("owners must be a non-empty list of distinct party ids")
    for o in owners:
        if o not in ctx.parties:
            raise LocalProtocolError(f"owner {o} is not a party of this job")
    via = via or str(ctx.params.get("input_sharing", "seeds"))
    if via not in INPUT_SHARING:
        raise LocalProtocolError(f"input sharing must be one of {', '.join(INPUT_SHARING)}")
    if via == "seeds":
        return _share_from_seeds(ctx, values, owners, dims, frac_bits, lo, hi, own_bounds, what)
    me = ctx.party_id
    outgoing: dict[int, U64] = {}
    mine: U64 | None = None
    if me in owners:
        olo, ohi = own_bounds or (lo, hi)
        enc = encode(values.get(me), shape=dims, frac_bits=frac_bits, lo=olo, hi=ohi, name=what)
        shares = additive.share(enc, ctx.n)
        for p, s in zip(ctx.parties, shares, strict=True):
            if p == me:
                mine = s
            else:
                outgoing[p] = contig(s.reshape(-1))
    senders = [o for o in owners if o != me]
    size = int(np.prod(dims, dtype=np.int64))
    got = await ctx.exchange(outgoing, senders, expect=ArraySpec(np.uint64, (size,)))
    out: dict[int, Shared] = {}
    for o in owners:
        share = mine if o == me else got[o].reshape(dims)
        if share is None:  # pragma: no cover - mine is set whenever me is an owner
            raise LocalProtocolError("missing own share")
        out[o] = Shared(contig(share), frac_bits, lo, hi)
    return out


def _share_from_seeds(
    ctx: Context,
    values: dict[int, Any],
    owners: tuple[int, ...],
    dims: tuple[int, ...],
    frac_bits: int,
    lo: int,
    hi: int,
    own_bounds: tuple[int, int] | None,
    what: str,
) -> dict[int, Shared]:
    """0 rounds: every share but the owner's comes from a key the owner shares with its holder."""
    me = ctx.party_id
    out: dict[int, Shared] = {}
    for o in owners:
        keys = ctx.pair_keys(o)  # every party derives, in the same order
        if o == me:
            olo, ohi = own_bounds or (lo, hi)
            enc = encode(values.get(me), shape=dims, frac_bits=frac_bits, lo=olo, hi=ohi, name=what)
            share = np.array(enc, dtype=np.uint64, order="C", copy=True).reshape(dims)
            for p in ctx.parties:
                if p != me:
                    np.subtract(share, PRG(keys[p]).uint64(dims), out=share)
        else:
            share = contig(PRG(keys[o]).uint64(dims))
        out[o] = Shared(contig(share), frac_bits, lo, hi)
    return out


async def open_value(ctx: Context, x: Shared) -> U64:
    """Open ``x`` to every party (1 round): the reconstructed ring array (uint64).

    Only where the session allows unnamed openings (tests, benchmarks); user outputs must go
    through ``ctx.reveal``.
    """
    if not ctx.openings_allowed:
        raise UnauthorizedReveal(
            "open_value would reveal a value to every party without a declared output;"
            " use ctx.reveal(name, value)"
        )
    ctx = ctx.scope("open")
    return await open_raw(ctx, x.share)


async def open_raw(ctx: Context, share: U64) -> U64:
    """One round on ``ctx`` (no new scope): broadcast ``share``, return the sum of all shares.

    Protocol-internal: only for values masked by uniformly random material.
    """
    flat = contig(share.reshape(-1))  # flat arrays on the wire
    got = await ctx.broadcast(flat, expect=ArraySpec.like(flat))
    others = [v for p, v in got.items() if p != ctx.party_id]
    total = np.add(flat, others[0], out=np.empty_like(flat)) if others else flat.copy()
    for v in others[1:]:
        np.add(total, v, out=total)
    return total.reshape(share.shape)


async def open_xor_raw(ctx: Context, share: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One round on ``ctx``: broadcast an XOR share (uint8/uint64), return the XOR of all.

    Protocol-internal: only for values masked by uniformly random material.
    """
    flat = contig(share.reshape(-1))
    got = await ctx.broadcast(flat, expect=ArraySpec.like(flat))
    total = np.array(flat, copy=True)
    for p, v in got.items():
        if p != ctx.party_id:
            np.bitwise_xor(total, v, out=total)
    return total.reshape(share.shape)
