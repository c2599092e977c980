"""Job programs: ``async def job(ctx) -> None`` run identically on every party.

Each reads its private input through the job's declarations (``share_declared``: the owner
validates the value against its declared bounds before any share leaves) and public parameters
from ``ctx.params``, and reveals only the named outputs through ``ctx.reveal`` (which enforces the
job's reveal policy).  Every party is an input owner.  Costs (n parties; rounds online):

* :func:`secure_sum_job` - input ``value``; output ``total``: 1 round to share + 1 reveal round.
* :func:`average_job` - input ``value``; output ``average``: the sum revealed with the public
  divisor n (each recipient divides), so it reveals exactly what the sum does.  Same cost.
* :func:`vote_job` - ``params["options"]``: option names; input ``choice`` (an index).  The voter
  encodes a one-hot vector locally; ``tally`` is the sum.  1 + 1 rounds.
* :func:`referendum_job` - input ``vote`` in {0, 1}; reveals only ``outcome`` = ``[2 yes >= n]``
  (a tie is YES), never the count: 1 + 8 (comparison) + 1 rounds.
* :func:`approval_job` - input ``tally`` (a station's approval counts per candidate); reveals
  only ``winner`` by report-noisy-max (:mod:`protocols.dp`): 1 + 9 ceil(log2 m) rounds.
* :func:`auction_job` - input ``bid`` (declared bounds, e.g. ``[0, 10^9]``).  First price:
  ``winning_bid`` and ``winner`` (party id of the highest bid; ties to the lowest id).
  ``params["second_price"]``: ``winner`` and ``price`` (the second-highest bid).  Rounds:
  1 + 9 ceil(log2 n) + reveals; second price adds 1 + 9 ceil(log2 n).

What an output lets a participant infer is stated by each program's ``privacy`` function (see
:func:`privacy_notes`); the runtime prints it before the job runs.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from mpc_runtime.errors import BoundsError, InputError, UsageError
from mpc_runtime.runtime import Context, InputDecl
from protocols.arith import mul, secure_sum
from protocols.compare import ge
from protocols.io import share_declared, share_inputs
from protocols.select import argmax, index_from_onehot, maximum
from protocols.types import RING_MAX, RING_MIN, Shared, describe, public, stack

PrivacyNotes = Callable[[int, dict[str, Any], dict[str, list[str]]], list[str]]
"""``notes(n_parties, params, recipients_by_output) -> [warning, ...]``."""
BoundsCheck = Callable[[list[InputDecl], dict[str, Any]], None]


def privacy(notes: PrivacyNotes) -> Callable[[Any], Any]:
    """Attach ``notes(n_parties, params, recipients_by_output) -> [warning, ...]`` to a job
    program."""

    def mark(fn: Any) -> Any:
        fn.privacy = notes
        return fn

    return mark


def bounds(check: BoundsCheck) -> Callable[[Any], Any]:
    """Attach ``check(declared_inputs, params)`` to a job program: it raises BoundsError before
    the job starts if an output could leave the ring's safe range (every party runs it)."""

    def mark(fn: Any) -> Any:
        fn.check_bounds = check
        return fn

    return mark


def _sum_of(name: str, output: str) -> BoundsCheck:
    def check(decls: list[InputDecl], params: dict[str, Any]) -> None:
        mine = [d for d in decls if d.name == name]
        lo, hi = sum(d.lo for d in mine), sum(d.hi for d in mine)
        f = mine[0].frac_bits if mine else 0
        if lo < RING_MIN or hi > RING_MAX:
            raise BoundsError(
                f"output {output!r}: the sum of {len(mine)} inputs {name!r} could reach"
                f" [{describe(lo, f)}, {describe(hi, f)}], beyond the ring's safe range ±2^63;"
                " narrow the inputs' declared bounds"
            )

    return check


def privacy_notes(
    program: Any, n: int, params: dict[str, Any], recipients: dict[str, list[str]]
) -> list[str]:
    """What the outputs of ``program`` let participants infer about inputs (may be empty)."""
    notes = getattr(program, "privacy", None)
    return list(notes(n, params, recipients)) if callable(notes) else []


def _who(recipients: dict[str, list[str]]) -> tuple[bool, list[str]]:
    """(whether some party learns an output, the external recipients)."""
    labels = {r for rs in recipients.values() for r in rs}
    return any(r.startswith("party:") for r in labels), sorted(
        r for r in labels if r.startswith("recipient:")
    )


def _sum_notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    parties_learn, external = _who(recipients)
    notes = []
    if parties_learn and n == 2:
        notes.append(
            "with 2 parties the result determines the other party's input: each party that"
            " learns it can subtract its own input"
        )
    elif parties_learn:
        notes.append(
            f"the result is a sum of {n} inputs: {n - 1} parties that learn it can pool their"
            " inputs to compute the remaining party's input"
        )
    for r in external:
        notes.append(
            f"{r} learns only the sum; together with {n - 1} parties it could compute the"
            " remaining party's input"
        )
    return notes


def _vote_notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    return [
        "a unanimous tally reveals every ballot; in general a tally shows how many voters chose"
        " each option"
    ]


def _referendum_notes(
    n: int, params: dict[str, Any], recipients: dict[str, list[str]]
) -> list[str]:
    if n <= 3:
        return [
            f"with {n} voters the outcome can reveal ballots: a voter on the losing side learns"
            " that every other voter voted the other way"
        ]
    return ["only YES or NO is revealed; a voter learns nothing more than the outcome implies"]


def _auction_notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    if params.get("second_price"):
        note = "the price is the second-highest bid, so that bidder's bid is revealed"
        if n == 2:
            note += "; with 2 bidders that is the losing bid"
        return [note]
    return ["the winning bid is revealed; losing bids are hidden except that they are lower"]


def _small_int(value: Any, name: str, lo: int, hi: int) -> int:
    """Validate a scalar integer input in [lo, hi] (InputError without the value)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"input {name!r} must be an integer")
    if not lo <= int(value) <= hi:
        raise InputError(f"input {name!r} is outside [{lo}, {hi}]")
    return int(value)


def replace_one(ctx: Context, name: str) -> Fraction:
    """The L1 sensitivity of a sum of input ``name`` when one owner's value changes within its
    declared bounds (real units: every element may move by ``hi - lo``)."""
    worst = Fraction(0)
    for d in ctx.declared_inputs(name):
        size = int(np.prod(d.shape)) if d.shape else 1
        worst = max(worst, Fraction(d.hi - d.lo, 2**d.frac_bits) * size)
    return worst


@bounds(_sum_of("value", "total"))
@privacy(_sum_notes)
async def secure_sum_job(ctx: Context) -> None:
    """Every party inputs ``value``; reveals ``total`` (with noise if the job declares it)."""
    total = secure_sum(ctx, await share_declared(ctx, "value"))
    await ctx.reveal("total", total, sensitivity=replace_one(ctx, "value"))


@bounds(_sum_of("value", "average"))
@privacy(_sum_notes)
async def average_job(ctx: Context) -> None:
    """Every party inputs ``value``; reveals ``average`` (the sum / n at the recipient; noise
    on the sum, so the mean's noise is the sum's divided by n)."""
    shares = await share_declared(ctx, "value")
    await ctx.reveal(
        "average",
        secure_sum(ctx, shares),
        divisor=len(shares),
        sensitivity=replace_one(ctx, "value"),
    )


@privacy(_vote_notes)
async def vote_job(ctx: Context) -> None:
    """Input ``choice`` (an index into ``params['options']``); reveals only ``tally``."""
    options = ctx.params.get("options")
    if not isinstance(options, list | tuple) or not options:
        raise UsageError("params['options'] must be a non-empty list")
    k = len(options)
    owners = [d.party for d in ctx.declared_inputs("choice")]
    if not owners:
        raise UsageError("the job declares no input named 'choice'")
    onehot = None
    if ctx.party_id in owners:
        choice = _small_int(ctx.inputs.get("choice"), "choice", 0, k - 1)
        onehot = np.zeros(k, dtype=np.int64)
        onehot[choice] = 1
    ballots = await share_inputs(ctx, onehot, owners=owners, shape=(k,), bounds=(0, 1))
    await ctx.reveal("tally", secure_sum(ctx, ballots), sensitivity=2)  # a changed vote: 2 bins


@privacy(lambda n, params, recipients: ["only the winner's index is revealed, with noise"])
async def approval_job(ctx: Context) -> None:
    """Each party (a polling station) inputs ``tally``: how many of its voters approved each
    candidate (declared bounds: 0 .. its number of voters).  Reveals only ``winner``: the
    candidate with the most approvals by report-noisy-max (the job declares its epsilon); one
    voter changes each count by at most 1."""
    from protocols.dp import report_noisy_max

    counts = secure_sum(ctx, await share_declared(ctx, "tally"))
    await report_noisy_max(ctx, "winner", counts, sensitivity=1)


@privacy(_referendum_notes)
async def referendum_job(ctx: Context) -> None:
    """Input ``vote`` (1 = yes, 0 = no); reveals only ``outcome`` = [2 * yes >= n]."""
    votes = await share_declared(ctx, "vote")
    yes = secure_sum(ctx, votes)
    n = len(votes)
    outcome = await ge(ctx, yes.mul_public(2), public(n, ctx.is_first))
    await ctx.reveal("outcome", outcome)


@privacy(_auction_notes)
async def auction_job(ctx: Context) -> None:
    """Input ``bid``; reveals ``winner`` and ``winning_bid`` (or ``price`` if second price)."""
    shares = await share_declared(ctx, "bid")
    owners = sorted(shares)
    bids = stack([shares[p] for p in owners])
    best, onehot = await argmax(ctx, bids)
    winner = index_from_onehot(onehot, owners)
    await ctx.reveal("winner", winner)
    if ctx.params.get("second_price"):
        keep = (-onehot).add_public(1, ctx.is_first)
        others: Shared = await mul(ctx, bids, keep)
        price = await maximum(ctx, others)
        await ctx.reveal("price", price)
    else:
        await ctx.reveal("winning_bid", best)
