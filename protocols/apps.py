"""Job programs: ``async def job(ctx) -> None`` run identically on every party.

Each reads its private input from ``ctx.inputs`` and public parameters from ``ctx.params``,
validates the input *at its owner before any share leaves* (a bad input raises
:class:`~mpc_runtime.errors.InputError` there; the session then aborts every peer), and
reveals only the named outputs through ``ctx.reveal`` (which enforces the job's reveal policy).
Every party is an input owner.  Costs (n parties; rounds online):

* :func:`secure_sum_job` - input ``value`` (int; scalar or ``params["shape"]``); output
  ``total``.  1 round to share + 1 reveal round; ``8 (n - 1)`` bytes/element/party to share.
* :func:`average_job` - input ``value``; output ``average``.  The parties reveal the integer
  (or, with ``params["frac_bits"]``, fixed-point) *sum* under the name ``average`` and each
  recipient divides by the public count n locally, so ``ctx.outputs["average"]`` is a float.
  The average reveals exactly what the sum does.  Same cost as the sum.
* :func:`vote_job` - ``params["options"]``: list of option names; input ``choice``: an option
  index.  The voter encodes a one-hot vector locally; ``tally`` (votes per option) is the sum.
  1 + 1 rounds; ``8 (n - 1) * len(options)`` bytes per voter to share.
* :func:`referendum_job` - input ``vote`` in {0, 1} (1 = yes); reveals only ``outcome``:
  ``[2 * yes >= n]`` (1 = YES, 0 = NO; a tie is YES), never the count.  1 + 8 (ge) + 1 rounds.
* :func:`auction_job` - input ``bid`` (int, 0 <= bid <= 2^62 - 1).  First price: reveals
  ``winning_bid`` and ``winner`` (the party id of the highest bidder; ties go to the lowest
  party id).  ``params["second_price"]``: reveals ``winner`` and ``price`` (the second-highest
  bid: the winner's bid masked out by ``bids * (1 - onehot)``, then the maximum again).
  Losing bids stay hidden.  Rounds: 1 + 9 ceil(log2 n) + reveals; second price adds
  1 (mul) + 9 ceil(log2 n).

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc_runtime.errors import InputError, UsageError
from mpc_runtime.runtime import Context
from mpc_runtime.sharing.ring import INT_MAX
from protocols.arith import mul, secure_sum
from protocols.compare import ge
from protocols.io import share_inputs
from protocols.select import argmax, index_from_onehot, maximum
from protocols.types import Shared, public, stack


def _shape(ctx: Context) -> tuple[int, ...]:
    raw = ctx.params.get("shape", ())
    if isinstance(raw, int) and not isinstance(raw, bool):
        return (raw,)
    if isinstance(raw, list | tuple) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw
    ):
        return tuple(raw)
    raise UsageError("params['shape'] must be an int or a list of non-negative ints")


def _small_int(value: Any, name: str, lo: int, hi: int) -> int:
    """Validate a scalar integer input in [lo, hi] (InputError without the value)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"input {name!r} must be an integer")
    if not lo <= int(value) <= hi:
        raise InputError(f"input {name!r} is outside [{lo}, {hi}]")
    return int(value)


async def _sum_all(ctx: Context, value: Any, shape: tuple[int, ...], frac_bits: int) -> Shared:
    shares = await share_inputs(ctx, value, owners=ctx.parties, shape=shape, frac_bits=frac_bits)
    return secure_sum(ctx, shares)


async def secure_sum_job(ctx: Context) -> None:
    """Every party inputs ``value``; reveals ``total``."""
    total = await _sum_all(ctx, ctx.inputs.get("value"), _shape(ctx), 0)
    await ctx.reveal("total", total.share)


async def average_job(ctx: Context) -> None:
    """Every party inputs ``value``; reveals ``average`` (the sum / n at the recipient)."""
    f = ctx.params.get("frac_bits", 0)
    total = await _sum_all(ctx, ctx.inputs.get("value"), _shape(ctx), f)
    await ctx.reveal("average", total.share, frac_bits=f, divisor=ctx.n)


async def vote_job(ctx: Context) -> None:
    """Input ``choice`` (an index into ``params['options']``); reveals only ``tally``."""
    options = ctx.params.get("options")
    if not isinstance(options, list | tuple) or not options:
        raise UsageError("params['options'] must be a non-empty list")
    k = len(options)
    choice = _small_int(ctx.inputs.get("choice"), "choice", 0, k - 1)
    onehot = np.zeros(k, dtype=np.int64)
    onehot[choice] = 1
    tally = await _sum_all(ctx, onehot, (k,), 0)
    await ctx.reveal("tally", tally.share)


async def referendum_job(ctx: Context) -> None:
    """Input ``vote`` (1 = yes, 0 = no); reveals only ``outcome`` = [2 * yes >= n]."""
    vote = _small_int(ctx.inputs.get("vote"), "vote", 0, 1)
    yes = await _sum_all(ctx, vote, (), 0)
    outcome = await ge(ctx, yes.mul_public(2), public(ctx.n, ctx.is_first))
    await ctx.reveal("outcome", outcome.share)


async def auction_job(ctx: Context) -> None:
    """Input ``bid`` >= 0; reveals ``winner`` and ``winning_bid`` (or ``price`` if second price)."""
    bid = _small_int(ctx.inputs.get("bid"), "bid", 0, INT_MAX)
    shares = await share_inputs(ctx, bid, owners=ctx.parties, shape=())
    bids = stack([shares[p] for p in ctx.parties])
    best, onehot = await argmax(ctx, bids)
    winner = index_from_onehot(onehot, ctx.parties)
    if ctx.params.get("second_price"):
        keep = (-onehot).add_public(1, ctx.is_first)
        others = await mul(ctx, bids, keep)
        price = await maximum(ctx, others)
        await ctx.reveal("winner", winner.share)
        await ctx.reveal("price", price.share)
    else:
        await ctx.reveal("winner", winner.share)
        await ctx.reveal("winning_bid", best.share)
