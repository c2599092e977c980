"""Circuit private set intersection on additive shares, for n >= 2 set owners.

Every owner hashes its identifiers to 62-bit keys (:mod:`protocols.psi.hashing`), sorts and
de-duplicates them locally and pads the list to its declared size with dummies that never match.
Then, on shares (the sort-compare approach of Huang, Evans, Katz, "Private Set Intersection: Are
Garbled Circuits Better than Custom Protocols?", NDSS 2012, with arithmetic comparisons):

1. **share** (1 round): each owner sends additive shares of its keys (and of its payloads, and
   XOR shares of its keys for the owner whose list carries the revealed intersection).
2. **merge** (:mod:`protocols.psi.merge`): bitonic merging networks merge the sorted lists;
   each secure comparator is a comparison (8 rounds) and a multiplexer (1 round).
3. **runs** (8 rounds): with k owners and no duplicates inside a list, an item is in every set
   iff it occurs k times in a row: ``t_i = [M_i == M_(i+k-1)]`` by
   :func:`protocols.compare.eq`.  ``cardinality = sum_i t_i`` (local).
4. **members** (only for payloads or the intersection): the XOR share of ``t`` is local (the low
   bit of the share); the membership bit of merged slot i is the XOR of ``t`` over the k runs
   that contain it; :func:`protocols.psi.merge.route_back` returns these bits to every owner's
   own slots (1 AND round per merge layer), and :func:`protocols.psi.bits.b2a` makes them
   additive (1 round).
5. **payload_sum** (1 round): ``sum_p sum_i member_p,i * payload_p,i`` by one Beaver inner
   product over the owners that hold payloads.
6. **intersection**: the list of the owner with the fewest slots (q), compacted obliviously
   (:mod:`protocols.psi.compact`): common keys first, ascending, the rest zero; its bits are
   made additive (1 round) as ``key + 1`` (0 marks an empty slot).  What the recipients open
   depends only on the intersection itself: not on where its items sat in any list, and not on
   the other items (they are zero).

Costs, online, per party, for 2 owners of m items each (m a power of two, ``l = log2(2 m)``,
``K = log2 m``; ``C_lt`` and ``C_eq`` are the bytes per element of a comparison and of an
equality test for 2 parties, :func:`protocols.compare.lt_payload_bytes` / ``eq_payload_bytes``,
about 31-40 and 24); exact counts for any sizes and n by
:func:`protocols.psi.costs.circuit_cost`, checked against the ledger in the tests:

* cardinality: ``1 + 9 l + 8`` rounds (+1 to reveal); ``8 m + (m (l - 1) + 1) (C_lt + 16) +
  2 m C_eq`` bytes (``m (l - 1) + 1`` comparators of the odd-even merge, each a comparison and a
  16-byte multiplexer) - about ``(C_lt + 16) (l - 1) / 2 + C_eq + 4`` bytes per input item.
* payload_sum adds ``l + 2`` rounds and about ``8 m + l m / 4 + m / 8 + 16 m`` bytes.
* intersection adds ``l + 1`` rounds (when payloads did not already pay for the members) and
  compaction ``K + 3 + ceil(log2 K)`` rounds, about ``(62 K + K^2 / 2) / 4`` bytes per item of q.

With n owners every byte count is multiplied by ``n - 1`` (each party sends to every other) and
the merge tree has ``ceil(log2 n)`` levels.  Preprocessing (offline) comes from the job's
provider.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``,
``mpc_runtime.preprocessing.requests``, ``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from mpc_runtime.errors import InputError, LocalProtocolError
from mpc_runtime.runtime import ArraySpec, Context
from mpc_runtime.sharing import additive
from protocols.arith import inner_product
from protocols.compare import eq
from protocols.psi.bits import Bits, a2b_bit, b2a, bits_of_words
from protocols.psi.compact import compact
from protocols.psi.hashing import KEY_BITS, PreparedSet, key_bound
from protocols.psi.merge import MergeTree, merge_lists, plan, route_back
from protocols.types import U64, Shared, contig

__all__ = ["OUTPUTS", "CircuitPsi", "circuit_psi", "intersection_owner"]

OUTPUTS = frozenset({"cardinality", "payload_sum", "intersection", "members"})
"""What :func:`circuit_psi` can compute (``members``: the membership bits of every list)."""


@dataclass(repr=False)
class CircuitPsi:
    """Shared results of :func:`circuit_psi` on one party (nothing here is revealed)."""

    tree: MergeTree
    merged: Shared
    """The merged sorted keys (every owner's list, dummies included)."""
    runs: Shared
    """``t_i = [merged_i == merged_(i+k-1)]``: 1 where a common item's run starts."""
    cardinality: Shared
    members: dict[int, Bits] | None = None
    """XOR shares of each owner's membership bits, in its sorted list's order."""
    payload_sum: Shared | None = None
    intersection: Shared | None = None
    """(size of q's list,): common keys + 1 ascending, then zeros."""
    owner: int | None = None
    """The owner q whose list was compacted for ``intersection``."""

    def __repr__(self) -> str:
        return f"CircuitPsi(items={self.merged.size}, owner={self.owner})"


def intersection_owner(sizes: Mapping[int, int]) -> int:
    """The owner whose list carries the intersection: the fewest slots, then the lowest id."""
    return min(sizes, key=lambda p: (int(sizes[p]), p))


def _check(ctx: Context, sizes: Mapping[int, int], want: set[str]) -> list[int]:
    owners = sorted(int(p) for p in sizes)
    if len(owners) < 2:
        raise LocalProtocolError("set intersection needs at least two set owners")
    if any(p not in ctx.parties for p in owners):
        raise LocalProtocolError("every set owner must be a party of the job")
    if any(int(sizes[p]) < 1 for p in owners):
        raise LocalProtocolError("every declared set size must be at least 1")
    unknown = want - OUTPUTS
    if unknown:
        raise LocalProtocolError(f"circuit_psi cannot compute {sorted(unknown)}")
    return owners


async def circuit_psi(
    ctx: Context,
    mine: PreparedSet | None,
    *,
    sizes: Mapping[int, int],
    payloads: Mapping[int, tuple[int, int]] | None = None,
    want: Iterable[str] = ("cardinality",),
) -> CircuitPsi:
    """The intersection of the owners' sets, on shares (see the module docstring).

    ``mine``: this party's prepared set (None if it owns none); ``sizes``: every owner's
    declared size; ``payloads``: the owners holding payloads, with their public bounds.
    """
    ctx = ctx.scope("psi")
    wanted = set(want)
    owners = _check(ctx, sizes, wanted)
    pay = {int(p): (int(lo), int(hi)) for p, (lo, hi) in (payloads or {}).items()}
    if "payload_sum" in wanted and not pay:
        raise LocalProtocolError("payload_sum needs at least one owner with payloads")
    if any(p not in sizes for p in pay):
        raise LocalProtocolError("payloads belong to set owners")
    if "payload_sum" not in wanted:
        pay = {}  # nobody needs them: not even shared
    q = intersection_owner(sizes) if "intersection" in wanted else None
    keys, pays, xkeys = await _share_lists(ctx, mine, owners, sizes, pay, q)
    top = key_bound(sizes)
    lists = [Shared(keys[p], 0, 0, top) for p in owners]
    tree = plan([int(sizes[p]) for p in owners])
    merged, tree = await merge_lists(ctx, lists, tree)
    k, total = len(owners), tree.total
    runs = await eq(ctx, merged[: total - k + 1], merged[k - 1 :])
    card = runs.sum().with_bounds(0, min(int(sizes[p]) for p in owners))
    out = CircuitPsi(tree, merged, runs, card, owner=q)
    if not wanted & {"payload_sum", "intersection", "members"}:
        return out
    members = await _members(ctx, tree, runs, k, owners)
    out.members = members
    need = sorted(set(pay) | ({q} if q is not None else set()))
    if not need:
        return out
    flat = await b2a(ctx, np.concatenate([members[p] for p in need]))
    arith, start = {}, 0
    for p in need:
        arith[p] = contig(flat[start : start + int(sizes[p])])
        start += int(sizes[p])
    if "payload_sum" in wanted:
        out.payload_sum = await _payload_sum(ctx, arith, pays, pay)
    if q is not None and xkeys is not None:
        out.intersection = await _intersection(ctx, members[q], arith[q], xkeys)
    return out


async def _members(
    ctx: Context, tree: MergeTree, runs: Shared, k: int, owners: list[int]
) -> dict[int, Bits]:
    """XOR membership bits of every owner's slots (route_back: 1 round per layer)."""
    t = a2b_bit(runs.share.reshape(-1))
    flags = np.zeros(tree.total, dtype=np.uint8)
    for s in range(k):  # slot i belongs to the runs starting at i - k + 1 .. i
        flags[s : s + t.size] ^= t
    back = await route_back(ctx, tree, flags)
    return dict(zip(owners, back, strict=True))


async def _payload_sum(
    ctx: Context,
    members: Mapping[int, U64],
    pays: Mapping[int, U64],
    bounds: Mapping[int, tuple[int, int]],
) -> Shared:
    """``sum_p <member_p, payload_p>``: 1 round."""
    ps = sorted(bounds)
    g = Shared(contig(np.concatenate([members[p] for p in ps])), 0, 0, 1)
    lo, hi = min(bounds[p][0] for p in ps), max(bounds[p][1] for p in ps)
    w = Shared(contig(np.concatenate([pays[p] for p in ps])), 0, lo, hi)
    return await inner_product(ctx, g, w)


async def _intersection(ctx: Context, marks: Bits, marks_a: U64, xkeys: U64) -> Shared:
    """q's list compacted, as ``key + 1`` (0: empty slot); see the module docstring."""
    rows = bits_of_words(xkeys, KEY_BITS)
    vals, flags = await compact(ctx, marks, marks_a, rows)
    arith = await b2a(ctx, np.concatenate([vals, flags[:, None]], axis=1))
    weights = (np.uint64(1) << np.arange(KEY_BITS + 1, dtype=np.uint64)).astype(np.uint64)
    weights[KEY_BITS] = 1  # the flag adds one: key + 1
    value = np.sum(arith * weights, axis=1, dtype=np.uint64)
    return Shared(contig(value), 0, 0, 2**KEY_BITS)


def _message(
    mine: PreparedSet, n: int, pay: bool, xor: bool
) -> tuple[list[U64], list[U64] | None, list[U64] | None]:
    keys = mine.keys.astype(np.int64).view(np.uint64)
    ks = additive.share(contig(keys), n)
    ps = None
    if pay:
        if mine.payloads is None:
            raise InputError("this party's payloads are missing")
        ps = additive.share(contig(mine.payloads.astype(np.int64).view(np.uint64)), n)
    xs = additive.share_xor(contig(keys), n) if xor else None
    return ks, ps, xs


async def _share_lists(
    ctx: Context,
    mine: PreparedSet | None,
    owners: list[int],
    sizes: Mapping[int, int],
    pay: Mapping[int, tuple[int, int]],
    q: int | None,
) -> tuple[dict[int, U64], dict[int, U64], U64 | None]:
    """1 round: every owner sends its shares; returns keys, payloads and q's XOR key shares."""
    ctx = ctx.scope("share")
    me, parties = ctx.party_id, list(ctx.parties)
    keys: dict[int, U64] = {}
    pays: dict[int, U64] = {}
    xkeys: U64 | None = None
    outgoing: dict[int, U64] = {}
    if me in owners:
        if mine is None or mine.keys.shape != (int(sizes[me]),):
            raise InputError(f"this party's set must be prepared for {sizes[me]} slots")
        ks, ps, xs = _message(mine, ctx.n, me in pay, me == q)
        for i, p in enumerate(parties):
            parts = [ks[i]] + ([ps[i]] if ps else []) + ([xs[i]] if xs else [])
            if p == me:
                keys[me] = contig(ks[i])
                if ps:
                    pays[me] = contig(ps[i])
                if xs:
                    xkeys = contig(xs[i])
            else:
                outgoing[p] = contig(np.concatenate(parts))
    senders = [p for p in owners if p != me]
    spec = {p: ArraySpec(np.uint64, (_width(p, sizes, pay, q),)) for p in senders}
    got = await ctx.exchange(outgoing, senders, expect=spec)
    for p in senders:
        m, arr = int(sizes[p]), got[p]
        keys[p] = contig(arr[:m])
        at = m
        if p in pay:
            pays[p] = contig(arr[at : at + m])
            at += m
        if p == q:
            xkeys = contig(arr[at : at + m])
    return keys, pays, xkeys


def _width(p: int, sizes: Mapping[int, int], pay: Mapping[int, object], q: int | None) -> int:
    m = int(sizes[p])
    return m * (1 + (p in pay) + (p == q))
