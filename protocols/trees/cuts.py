"""Quantile bin edges when the rows are split among the parties: secure bisection.

What it is for: in the horizontal split every party holds whole rows, so each needs the same
cut points to bin its own rows locally, and nobody may see another party's values.  Here the
parties compute the exact global order statistics ``t_j`` = the ``(r_j + 1)``-th smallest value
of each feature, ``r_j = floor(j N / max_bin)`` for ``j = 1 .. max_bin - 1``, and **only these
cut values become public** (to the compute parties; XGBoost's own distributed ``hist`` instead
merges every worker's quantile sketch in the clear).  Duplicates are merged, so a feature has
at most ``max_bin`` bins; a value ``x`` is in bin ``#{cuts <= x}``, the split "bin <= b" is
"x < cut[b]", exactly as :mod:`protocols.trees.binning`.

Protocol (bisection on the order-preserving float32 keys of :mod:`protocols.trees.model`, all
``F (max_bin - 1)`` targets in parallel, 32 steps because keys span ``< 2^32`` values): with
public ``lo <= hi`` per target, ``mid = floor((lo + hi) / 2)``; every party counts its own
values ``<= mid`` and secret-shares the counts (1 round); the shared total is compared with
``r_j + 1`` (8 rounds, :func:`protocols.compare.lt`); the bit is opened (1 round) and
``hi = mid`` if the count reached the target, else ``lo = mid + 1``.  Since the count is
monotone in ``mid``, each opened bit equals ``[t_j <= mid]``: the transcript is a function of
the final cut values alone (the usual argument for binary search over a public domain).
**320 rounds** (``32 (c + 2)`` for comparisons of ``c`` rounds); bytes sent per party
``32 * (8 + 39.4 + 8) (n - 1) T`` with ``T = F (max_bin - 1)`` targets: 1.6 MB for n = 3,
F = 30, max_bin = 16.

What is revealed: the cut values (global order statistics, so each is some party's value) to
the compute parties; the thresholds the model uses are a subset of them.  With 2 parties a
party also learns, from its own data and a cut, how many of the other's values lie below it.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``,
``protocols.*``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from mpc_runtime.errors import InputError, LocalProtocolError
from mpc_runtime.runtime import Context
from protocols.io import open_raw, share_inputs
from protocols.trees.batch import ge_public
from protocols.trees.binning import BinCuts
from protocols.trees.model import KEY_MAX, float32_keys
from protocols.types import Shared

STEPS = 32
"""Bisection steps: finite float32 keys lie in ``(-2^31, 2^31)``."""
_FINITE_KEY = KEY_MAX - 1
_F32_MAX = np.float32(np.finfo(np.float32).max)


def keys_to_float32(keys: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Inverse of :func:`~protocols.trees.model.float32_keys` (``-0.0`` comes back as ``+0.0``)."""
    k = np.asarray(keys, dtype=np.int64)
    bits = np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32)
    return bits.view(np.float32)


def targets(n_rows: int, max_bin: int) -> npt.NDArray[np.int64]:
    """The ranks ``r_j = floor(j N / max_bin)``, ``j = 1 .. max_bin - 1``."""
    j = np.arange(1, max_bin, dtype=np.int64)
    return (j * n_rows) // max_bin


def local_keys(X: npt.ArrayLike, n_features: int) -> npt.NDArray[np.int64]:
    """Keys of this party's rows, sorted per feature: ``(F, rows)`` (missing values refused)."""
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise InputError(f"the local rows must be a matrix with {n_features} columns")
    if not np.all(np.isfinite(arr.astype(np.float32))):
        raise InputError("data values must be finite float32 numbers (no missing values)")
    return np.sort(float32_keys(arr.astype(np.float32)).T, axis=1)


async def secure_cuts(
    ctx: Context,
    X: npt.ArrayLike | None,
    row_counts: Mapping[int, int],
    n_features: int,
    max_bin: int,
) -> BinCuts:
    """Public cut points of the union of every party's rows (``X``: this party's rows, or
    ``None`` if it has none); ``row_counts``: public rows per party.  320 rounds."""
    ctx = ctx.scope("secure_cuts")
    if max_bin < 2 or n_features < 1:
        raise LocalProtocolError("secure_cuts needs max_bin >= 2 and n_features >= 1")
    owners = sorted(p for p, c in row_counts.items() if c > 0)
    total = int(sum(row_counts.values()))
    me = ctx.party_id
    keys = local_keys(X, n_features) if me in owners and X is not None else None
    if me in owners and keys is None:
        raise InputError(f"party {me} declares rows but passed none")
    if keys is not None and keys.shape[1] != row_counts[me]:
        raise InputError(f"party {me} has {keys.shape[1]} rows, the job declares {row_counts[me]}")
    ranks = targets(total, max_bin) + 1
    shape = (n_features, max_bin - 1)
    lo = np.full(shape, -_FINITE_KEY, dtype=np.int64)
    hi = np.full(shape, _FINITE_KEY, dtype=np.int64)
    need = np.broadcast_to(ranks, shape)
    for _ in range(STEPS):
        mid = (lo + hi) // 2
        counts = None
        if keys is not None:
            counts = np.stack(
                [np.searchsorted(keys[f], mid[f], side="right") for f in range(n_features)]
            ).astype(np.int64)
        shares = await share_inputs(ctx, counts, owners=owners, shape=shape, bounds=(0, total))
        total_count = sum(shares.values(), start=Shared(np.zeros(shape, np.uint64), 0, 0, 0))
        items = [
            (Shared(total_count.share[:, j].copy(), 0, 0, total), int(need[0, j]))
            for j in range(shape[1])
        ]
        bits = await ge_public(ctx, items)
        stacked = np.stack([b.share for b in bits], axis=1)
        opened = await open_raw(ctx.scope("open_bit"), stacked)
        reached = opened.view(np.int64) == 1
        hi = np.where(reached, mid, hi)
        lo = np.where(reached, lo, mid + 1)
    return _to_cuts(lo, max_bin)


def _to_cuts(found: npt.NDArray[np.int64], max_bin: int) -> BinCuts:
    """Deduplicated cut values per feature plus a sentinel above every finite value."""
    cuts = []
    for row in found:
        vals = np.unique(keys_to_float32(np.unique(row)))
        cuts.append(np.concatenate([vals, [_F32_MAX]]).astype(np.float32))
    ptr = np.concatenate([[0], np.cumsum([c.size for c in cuts])]).astype(np.int64)
    mins = np.full(len(cuts), -_F32_MAX, dtype=np.float32)
    return BinCuts(ptr, np.concatenate(cuts).astype(np.float32), mins, max_bin)


def plaintext_cuts(X: npt.ArrayLike, max_bin: int) -> BinCuts:
    """What :func:`secure_cuts` computes, from all rows in one place (tests, reference)."""
    arr = np.asarray(X, dtype=np.float64)
    keys = local_keys(arr, arr.shape[1])
    ranks = targets(arr.shape[0], max_bin)
    found = keys[:, ranks]  # the (r + 1)-th smallest is index r (0-based)
    return _to_cuts(found, max_bin)


__all__ = ["STEPS", "keys_to_float32", "local_keys", "plaintext_cuts", "secure_cuts", "targets"]
