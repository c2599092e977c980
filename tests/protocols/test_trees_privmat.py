"""protocols.trees.privmat: private-matrix x shared-vector products against numpy.

Both backends (``helper`` with exactly 3 parties, ``beaver`` with any n), both directions, blocks
owned by different parties (column blocks as in the vertical split, row blocks as in the
horizontal one, and a mix), signed entries; one round per product with the exact bytes of the
module docstring; the helper's setup moves only uniformly masked data; misuse is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import InputError, LocalProtocolError
from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value, share_input
from protocols.trees import privmat
from protocols.trees.privmat import Block

ROWS, COLS, C = 23, 11, 3
BLOCKS = [
    Block(1, 0, ROWS, 0, 4),
    Block(2, 0, 10, 4, 11),
    Block(3, 10, ROWS, 4, 8),
    Block(1, 10, ROWS, 8, 11),
]


def _program(M: np.ndarray, blocks: list[Block], mode: str, bounds: tuple[int, int]) -> Any:
    rng = np.random.default_rng(5)
    x = rng.integers(-500, 500, size=(M.shape[1], C))
    z = rng.integers(-500, 500, size=(M.shape[0], C))

    async def prog(ctx: Any) -> Any:
        mine = {
            i: M[b.row0 : b.row1, b.col0 : b.col1]
            for i, b in enumerate(blocks)
            if b.owner == ctx.party_id
        }
        pm = await privmat.setup(ctx, M.shape, blocks, mine, bounds=bounds, mode=mode)
        xs = await share_input(
            ctx, x if ctx.party_id == 1 else None, 1, shape=x.shape, bounds=(-500, 500)
        )
        zs = await share_input(
            ctx, z if ctx.party_id == 2 else None, 2, shape=z.shape, bounds=(-500, 500)
        )
        y = await privmat.times(ctx, pm, xs)
        w = await privmat.t_times(ctx, pm, zs)
        return (await open_value(ctx, y)).view(np.int64), (await open_value(ctx, w)).view(np.int64)

    return prog, x, z


def _covered(blocks: list[Block], shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for b in blocks:
        mask[b.row0 : b.row1, b.col0 : b.col1] = True
    return mask


@pytest.mark.parametrize(("n", "mode"), [(2, "beaver"), (3, "beaver"), (3, "helper")])
async def test_products_match_numpy(n: int, mode: str) -> None:
    blocks = [Block(min(b.owner, n), b.row0, b.row1, b.col0, b.col1) for b in BLOCKS]
    M = np.random.default_rng(1).integers(-3, 4, size=(ROWS, COLS))
    M = np.where(_covered(blocks, M.shape), M, 0)  # uncovered entries are zero
    prog, x, z = _program(M, blocks, mode, (-3, 3))
    runs = await run_memory(n, prog)
    y, w = runs[0].result
    assert np.array_equal(y, M @ x)
    assert np.array_equal(w, M.T @ z)


@pytest.mark.dealer_only
async def test_helper_rounds_and_bytes() -> None:
    M = np.random.default_rng(2).integers(0, 2, size=(ROWS, COLS))
    prog, _, _ = _program(M, BLOCKS, "helper", (0, 1))
    runs = await run_memory(3, prog)
    for run in runs:
        setup = run.ledger.total(prefix="main/privmat_setup#0")
        assert setup.rounds == 1
        me = run.party
        words = privmat.setup_words(BLOCKS, (1, 2, 3))
        assert setup.payload_bytes_sent == 8 * sum(v for (a, _), v in words.items() if a == me)
        for op, inner in (("privmat_times#0", COLS), ("privmat_t_times#0", ROWS)):
            cost = run.ledger.total(prefix=f"main/{op}")
            assert cost.rounds == 1
            mine = sum(
                8
                * C
                * ((b.row1 - b.row0) if op.startswith("privmat_t_times") else (b.col1 - b.col0))
                for b in BLOCKS
                if b.owner != me
            )
            assert cost.payload_bytes_sent == mine, (me, op, inner)


@pytest.mark.dealer_only
async def test_the_helper_sees_only_a_uniform_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    from mpc_runtime.runtime.context import Context

    seen: list[np.ndarray] = []
    orig = Context.exchange

    async def spy(self, outgoing, expect_from=None, *, expect=None):  # type: ignore[no-untyped-def]
        got = await orig(self, outgoing, expect_from, expect=expect)
        if "privmat_setup" in str(self.path) and self.party_id == 2:
            seen.extend(np.asarray(v) for p, v in got.items() if p == 1)
        return got

    monkeypatch.setattr(Context, "exchange", spy)
    big = [Block(1, 0, 400, 0, 300)]
    M = np.random.default_rng(3).integers(0, 2, size=(400, 300))

    async def prog(ctx: Any) -> None:
        mine = {0: M} if ctx.party_id == 1 else {}
        await privmat.setup(ctx, M.shape, big, mine, mode="helper")

    await run_memory(3, prog)
    (w,) = seen
    assert w.size == M.size
    bits = np.unpackbits(w.view(np.uint8)).mean()
    assert abs(bits - 0.5) < 0.002  # M is 0/1: unmasked it would be 1/128 ones
    assert not np.any(np.isin(w, [0, 1]))


async def test_misuse_is_refused() -> None:
    async def wrong_n(ctx: Any) -> None:
        await privmat.setup(
            ctx,
            (2, 2),
            [Block(1, 0, 2, 0, 2)],
            {0: np.eye(2, dtype=int)} if ctx.party_id == 1 else {},
            mode="helper",
        )

    with pytest.raises(LocalProtocolError, match="three parties"):
        await run_memory(2, wrong_n)

    async def bad_entry(ctx: Any) -> None:
        await privmat.setup(
            ctx,
            (2, 2),
            [Block(1, 0, 2, 0, 2)],
            {0: 2 * np.eye(2, dtype=int)} if ctx.party_id == 1 else {},
            mode="beaver",
        )

    with pytest.raises(InputError, match="entries"):
        await run_memory(2, bad_entry)

    async def overlap(ctx: Any) -> None:
        blocks = [Block(1, 0, 2, 0, 2), Block(2, 1, 2, 1, 2)]
        await privmat.setup(ctx, (2, 2), blocks, {}, mode="beaver")

    with pytest.raises(LocalProtocolError, match="overlap"):
        await run_memory(2, overlap)
