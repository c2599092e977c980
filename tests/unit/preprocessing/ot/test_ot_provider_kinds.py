"""The OT provider serves packed daBits (``pbit``) and refuses the dealer-only kinds cleanly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import UsageError
from mpc_runtime.preprocessing.ot.provider import OTProvider
from mpc_runtime.preprocessing.requests import DEALER_ONLY, Component
from mpc_runtime.runtime.memory import run_memory

from ._ot_support import P_REJECT, add, bit_p, xor


@pytest.mark.parametrize("n", [2, 3])
async def test_packed_dabits(n: int) -> None:
    comps = [Component("pbit", (12802,)), Component("pbit", (3, 2)), Component("pbit", (0,))]

    async def prog(ctx: Any) -> Any:
        return await ctx.material(comps)

    runs = await run_memory(n, prog, provider=lambda p: OTProvider())
    mats = [r.result for r in runs]
    for k, comp in enumerate(comps):
        tb = xor([m[k]["tb"] for m in mats])
        t = add([m[k]["t"] for m in mats])
        assert tb.shape == (-(-comp.size // 64),) and t.shape == comp.shape
        bits = np.unpackbits(tb.view(np.uint8), count=comp.size, bitorder="little")
        np.testing.assert_array_equal(t.reshape(-1), bits.astype(np.uint64))
    big = xor([m[0]["tb"] for m in mats])[:200]  # whole words of the first component
    assert bit_p(big) > P_REJECT


@pytest.mark.parametrize("kind", sorted(DEALER_ONLY))
async def test_dealer_only_kinds_are_refused(kind: str) -> None:
    async def prog(ctx: Any) -> Any:
        return await ctx.material([Component("triple", (4,)), Component(kind, (4,))])

    runs = await run_memory(2, prog, provider=lambda p: OTProvider(), return_exceptions=True)
    for r in runs:
        assert isinstance(r.error, UsageError)
        msg = str(r.error)
        assert kind in msg and "dealer" in msg and "\n" not in msg
        assert r.ledger.total("offline").rounds == 0  # refused before any OT round
