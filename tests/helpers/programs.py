"""Test programs for real `mpc party` processes (referenced as ``tests.helpers.programs:NAME``).

They take their knobs from the job's public params, so every party runs the same rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mpc_runtime.runtime.context import ArraySpec


async def broadcast_loop(ctx: Any) -> None:
    """``steps`` rounds, each a broadcast of a public uint64[size] array; long enough to kill.

    Party 1 touches ``params["marker"]`` after ``params["mark_at"]`` rounds so a test knows the
    mesh is up and the protocol is under way.
    """
    steps = int(ctx.params.get("steps", 100_000))
    size = int(ctx.params.get("size", 4096))
    mark_at = int(ctx.params.get("mark_at", 10))
    marker = ctx.params.get("marker")
    x = np.arange(size, dtype=np.uint64)
    spec = ArraySpec(np.uint64, (size,))
    for i in range(steps):
        await ctx.scope("step").broadcast(x, expect=spec)
        if i + 1 == mark_at and marker and ctx.party_id == 1:
            Path(marker).touch()


async def compare_loop(ctx: Any) -> None:
    """``steps`` comparisons of shared vectors (material from the job's provider each time);
    party 1 touches ``params["marker"]`` after ``mark_at`` steps."""
    from protocols.compare import lt
    from protocols.io import share_inputs

    steps = int(ctx.params.get("steps", 100_000))
    size = int(ctx.params.get("size", 256))
    mark_at = int(ctx.params.get("mark_at", 3))
    marker = ctx.params.get("marker")
    mine = np.arange(size, dtype=np.int64) * ctx.party_id
    v = await share_inputs(ctx, mine, owners=ctx.parties[:2], shape=(size,))
    for i in range(steps):
        await lt(ctx, v[ctx.parties[0]], v[ctx.parties[1]])
        if i + 1 == mark_at and marker and ctx.party_id == 1:
            Path(marker).touch()
