"""Job programs over contributions: many contributors submit, a few compute parties compute.

Each program reads the agreed batches (``ctx.contributions()``), checks every contribution
inside MPC (:func:`protocols.validity.validate`) and reveals only its named outputs:

* :func:`aggregate_job` - the sum of the valid contributions as they arrive (memory independent
  of their number): output ``total``, or ``mean`` (the sum revealed with the public count of valid
  contributions as divisor).  Votes (``one_hot`` ballots: the tally), approval votes (``bits``),
  federated learning (``norm`` / ``norm_sketch`` updates).
* :func:`auction_job` - sealed bids (``range``), held as shares until the window closes; reveals
  ``winner`` (the first 7 bytes of the winning contribution id, which only the winner can
  recognise as its own) and ``winning_bid``, or with ``params["second_price"]`` the ``price``
  (the second-highest valid bid).  Ties go to the earlier contribution.

Every program also reveals ``counts`` if the job declares it: ``[valid, invalid, dropped,
refused]`` (invalid: failed a check or was incomplete for some party; dropped: died mid-upload;
refused: turned away by the coordinator).  These counts are public to the compute parties anyway.

Rounds per batch: 1 (agreement) + the checks' (see :mod:`protocols.validity`); the auction adds
``18 ceil(log2 m)`` for the winner and the price together (:func:`protocols.select.top_two`),
for m valid bids.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from mpc_runtime.errors import InputError
from mpc_runtime.runtime import Context
from mpc_runtime.runtime.contrib import ContributionDecl
from protocols.apps import privacy
from protocols.select import top_two
from protocols.types import Shared, concat, public, zeros
from protocols.validity import contribution_bounds, sketch_params, sum_valid, validate

__all__ = ["aggregate_job", "auction_job", "check_contribution", "contribution_l1", "poll_job"]


def check_contribution(decl: ContributionDecl) -> None:
    """Refuse, before the job starts, a declaration whose checks could overflow the ring."""
    size = int(np.prod(decl.shape)) if decl.shape else 1
    if "norm_sketch" in decl.checks and decl.norm_units is not None:
        sketch_params(size, decl.norm_units)
    contribution_bounds(decl)


async def _reveal_counts(ctx: Context, valid: int, invalid: int) -> None:
    if not ctx.declares_output("counts"):
        return
    t = ctx.contribution_totals
    counts = [valid, invalid, t.get("dropped", 0), t.get("refused", 0)]
    await ctx.reveal("counts", public(np.array(counts, dtype=np.int64), ctx.is_first))


def _notes(kind: str) -> Any:
    def notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
        common = (
            "the compute parties learn which contributions were invalid (never their values);"
            f" {n} colluding compute parties would learn every contribution"
        )
        if kind == "aggregate":
            return [
                common,
                "the result is a sum over contributors: with few valid contributions it says"
                " much about each (a single valid contribution is revealed exactly)",
            ]
        extra = "the price is the second-highest bid" if params.get("second_price") else ""
        return [common, extra or "the winning bid is revealed; losing bids stay hidden"]

    return notes


@privacy(_notes("aggregate"))
async def aggregate_job(ctx: Context) -> None:
    """The sum (``total``) or mean (``mean``) of the valid contributions, and ``counts``."""
    decl = ctx.contribution
    total: Shared = zeros(decl.shape, decl.frac_bits)
    valid_n = invalid_n = 0
    async for batch in ctx.contributions():
        valid = await validate(ctx, batch)
        total = total + sum_valid(ctx, batch, valid)
        valid_n += int(np.count_nonzero(valid))
        invalid_n += batch.size - int(np.count_nonzero(valid))
    sensitivity = contribution_l1(decl)
    if ctx.declares_output("mean"):
        if valid_n == 0:
            raise InputError("no valid contribution arrived: there is no mean to reveal")
        await ctx.reveal("mean", total, divisor=valid_n, sensitivity=sensitivity)
    else:
        await ctx.reveal("total", total, sensitivity=sensitivity)
    await _reveal_counts(ctx, valid_n, invalid_n)


def contribution_l1(decl: ContributionDecl) -> Fraction:
    """How much one contributor can change the sum (L1, real units; replace-one): what a noisy
    release of the sum is calibrated to."""
    size = int(np.prod(decl.shape)) if decl.shape else 1
    if "one_hot" in decl.checks:
        return Fraction(2)
    lo, hi = contribution_bounds(decl)
    return Fraction((hi - lo) * size, 2**decl.frac_bits)


@privacy(lambda n, params, recipients: ["each answer is randomized (epsilon = ln 3) inside MPC"])
async def poll_job(ctx: Context) -> None:
    """A yes/no poll (contributions with the ``bits`` check): reveals ``estimate``, the
    randomized-response estimate of the fraction of yes (:func:`protocols.dp.randomized_response`),
    and ``counts``."""
    from protocols.dp import randomized_response

    answers: list[Shared] = []
    invalid_n = 0
    async for batch in ctx.contributions():
        valid = await validate(ctx, batch)
        keep = np.flatnonzero(valid)
        invalid_n += batch.size - keep.size
        if keep.size:
            answers.append(Shared(batch.values.share.reshape(batch.size)[keep], 0, 0, 1))
    if not answers:
        raise InputError("the poll received no valid answer")
    allanswers = concat(answers) if len(answers) > 1 else answers[0]
    await randomized_response(ctx, "estimate", allanswers)
    await _reveal_counts(ctx, allanswers.size, invalid_n)


def _winner_ids(ids: list[bytes]) -> list[int]:
    return [int.from_bytes(cid[:7], "big") for cid in ids]


@privacy(_notes("auction"))
async def auction_job(ctx: Context) -> None:
    """Sealed-bid auction over contributed bids: ``winner`` and ``winning_bid`` or ``price``."""
    decl = ctx.contribution
    bids: list[Shared] = []
    ids: list[bytes] = []
    invalid_n = 0
    async for batch in ctx.contributions():
        valid = await validate(ctx, batch)
        keep = np.flatnonzero(valid)
        invalid_n += batch.size - keep.size
        if keep.size:
            lo, hi = contribution_bounds(decl)
            bids.append(Shared(batch.values.share.reshape(batch.size)[keep], 0, lo, hi))
            ids += [batch.ids[i] for i in keep]
    if not bids:
        raise InputError("the auction received no valid bid")
    allbids = concat(bids) if len(bids) > 1 else bids[0]
    best, winner, second = await top_two(ctx, allbids, _winner_ids(ids))
    await ctx.reveal("winner", winner)
    if ctx.params.get("second_price"):
        await ctx.reveal("price", second)
    else:
        await ctx.reveal("winning_bid", best)
    await _reveal_counts(ctx, len(ids), invalid_n)


aggregate_job.check_contribution = check_contribution
auction_job.check_contribution = check_contribution
poll_job.check_contribution = check_contribution
