"""The value protocols compute on: :class:`Shared` (one party's share with public bounds).

Defined in :mod:`mpc_runtime.sharing.shared` (the runtime's reveal takes it too); re-exported
here with its helpers so protocol code imports from one place.

May import: :mod:`mpc_runtime.sharing`.
"""

from __future__ import annotations

from mpc_runtime.sharing.shared import (
    DEFAULT_BOUND,
    RING_MAX,
    RING_MIN,
    U64,
    Shared,
    check_bounds,
    concat,
    contig,
    describe,
    floor_shift,
    product_bounds,
    public,
    require_range,
    stack,
    zeros,
)

__all__ = [
    "DEFAULT_BOUND",
    "RING_MAX",
    "RING_MIN",
    "U64",
    "Shared",
    "check_bounds",
    "concat",
    "contig",
    "describe",
    "floor_shift",
    "product_bounds",
    "public",
    "require_range",
    "stack",
    "zeros",
]
