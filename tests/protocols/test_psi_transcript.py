"""A party's view does not depend on which of its items matched, when only the cardinality is
revealed to someone else: every message it receives has the same shape whatever matched, and the
values it receives online are uniformly masked (chi-square, and the same distribution for two
different inputs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy import stats

from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.memory import run_memory
from protocols.psi import jobs

M = 48
View = list[tuple[str, str, int, int, str, tuple[int, ...]]]


@pytest.fixture
def views(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Every message party 1 receives: (phase, path, round, sender, dtype, shape) and values."""
    seen: dict[str, Any] = {"shapes": [], "online": []}
    real = Context.exchange

    async def spy(self: Context, outgoing: Any, expect_from: Any = None, **kw: Any) -> Any:
        got = await real(self, outgoing, expect_from, **kw)
        if self.party_id == 1:
            for sender, value in sorted(got.items()):
                arr = np.asarray(value)
                key = (self.phase, str(self.path), 0, sender, arr.dtype.str, arr.shape)
                seen["shapes"].append(key)
                if self.phase == "online" and arr.dtype == np.uint64:
                    seen["online"].append(arr.reshape(-1).copy())
        return got

    monkeypatch.setattr(Context, "exchange", spy)
    yield seen


async def _view(n: int, others: list[list[str]], seen: dict[str, Any]) -> tuple[View, Any]:
    seen["shapes"], seen["online"] = [], []
    mine = [f"item{i}" for i in range(M)]
    sizes = {p: M for p in range(1, n + 1)}
    decls = [InputDecl(p, "ids", "int", (sizes[p],), 0, -1, 2**62 - 1) for p in sizes]
    runs = await run_memory(
        n,
        jobs.circuit_psi_job,
        inputs=[{"ids": mine}] + [{"ids": s} for s in others],
        params={"salt": "view", "outputs": ["cardinality"]},
        outputs={"cardinality": [f"party:{n}"]},  # someone else learns it
        declared=decls,
    )
    assert "cardinality" not in runs[0].outputs
    return list(seen["shapes"]), np.concatenate(seen["online"])


def _top_bytes(values: np.ndarray) -> np.ndarray:
    return np.bincount((values >> np.uint64(56)).astype(np.int64), minlength=256)


@pytest.mark.parametrize("n", [2, 3])
async def test_the_view_does_not_depend_on_which_items_matched(
    n: int, views: dict[str, Any]
) -> None:
    pad = [[f"other{p}-{i}" for i in range(M - 8)] for p in range(2, n + 1)]
    low = [[f"item{i}" for i in range(8)] + x for x in pad]  # items 0..7 of party 1 match
    high = [[f"item{i}" for i in range(40, 48)] + x for x in pad]  # items 40..47 match
    none = [[f"zzz{i}" for i in range(8)] + x for x in pad]  # nothing matches
    shapes_a, vals_a = await _view(n, low, views)
    shapes_b, vals_b = await _view(n, high, views)
    shapes_c, _ = await _view(n, none, views)
    assert shapes_a == shapes_b == shapes_c  # same messages, same shapes, same order
    assert len(shapes_a) > 50
    ca, cb = _top_bytes(vals_a), _top_bytes(vals_b)
    assert stats.chisquare(ca).pvalue > 1e-4
    assert stats.chisquare(cb).pvalue > 1e-4
    assert stats.chi2_contingency(np.stack([ca, cb]))[1] > 1e-4
