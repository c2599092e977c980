"""The collusion that motivated dealer-free preprocessing, replayed.

In a comparison every party opens ``c = (x - y) + r`` where ``r`` is the mask from the
preprocessing material.  Whoever knows all of ``r`` and sees one party's view (``c``) learns the
difference ``x - y``; in the sealed-bid auction that, with the revealed winning bid, gives every
losing bid.

* ``dealer``: the dealer knows all of ``r``.  A dealer colluding with one party (or a coordinator
  that embeds the dealer) recovers every bid.  Documented in the README's trust table.
* ``ot``: nobody but the parties together knows ``r``.  The coalition of the coordinator (which
  sees only sealed blobs) and one party knows that party's share of ``r`` and ``c``: what it can
  compute is ``x - y`` plus the other parties' uniformly random mask shares, independent of the
  bids.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy import stats

import protocols.compare as compare_mod
from mpc_runtime.preprocessing.dealer.local import LocalDealer
from mpc_runtime.preprocessing.dealer.state import DealerState
from mpc_runtime.preprocessing.ot.provider import OTProvider
from mpc_runtime.preprocessing.provider import Exchanger, Fetched
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime.memory import run_memory
from protocols import apps
from protocols.compare import lt
from protocols.io import share_inputs
from tests.protocols.helpers import decls, outputs

pytestmark = pytest.mark.dealer_only  # the test picks its providers itself


class Spy:
    """Wraps a party's provider and keeps the masks ``r`` it handed out (rbits components)."""

    def __init__(self, inner: Any, party: int, masks: dict[int, list[np.ndarray]]) -> None:
        self.inner, self.party, self.masks = inner, party, masks
        self.name = inner.name

    async def fetch(self, ex: Exchanger, path: str, components: Any) -> Fetched:
        got = await self.inner.fetch(ex, path, components)
        for comp, mat in zip(components, got.materials, strict=True):
            if isinstance(comp, Component) and comp.kind == "rbits":
                self.masks.setdefault(self.party, []).append(np.array(mat["r"]))
        return got


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, list[np.ndarray]]]:
    """Every party's opened ``c`` values, in order (what each party sees)."""
    seen: dict[int, list[np.ndarray]] = {}
    real = compare_mod._open_masked

    async def spy(ctx: Any, d: Any, r: Any) -> Any:
        c = await real(ctx, d, r)
        seen.setdefault(ctx.party_id, []).append(np.array(c))
        return c

    monkeypatch.setattr(compare_mod, "_open_masked", spy)
    yield seen


def _providers(mode: str, n: int, masks: dict[int, list[np.ndarray]]) -> Any:
    if mode == "dealer":
        state = DealerState(list(range(1, n + 1)))
        return lambda p: Spy(LocalDealer(state, "test-job", p), p, masks)
    return lambda p: Spy(OTProvider(), p, masks)


def _recover_bids(d_level1: int, d_level2: int, winning: int) -> set[int]:
    """Three bids from the tournament's two masked differences and the winning bid."""
    first_pair_max_minus_min = abs(d_level1)
    if d_level2 >= 0:  # the winner came from the first pair
        return {winning, winning - first_pair_max_minus_min, winning - d_level2}
    return {winning, winning + d_level2, winning + d_level2 - first_pair_max_minus_min}


def _as_signed(words: np.ndarray) -> np.ndarray:
    return words.astype(np.uint64).view(np.int64)


@pytest.mark.parametrize("mode", ["dealer", "ot"])
async def test_the_coordinator_and_one_party_against_the_auction(
    mode: str, opened: dict[int, list[np.ndarray]]
) -> None:
    bids = [120, 250, 180]
    masks: dict[int, list[np.ndarray]] = {}
    runs = await run_memory(
        3,
        apps.auction_job,
        inputs=[{"bid": b} for b in bids],
        outputs=outputs(3, "winner", "winning_bid"),
        declared=decls(3, "bid", lo=0, hi=10**6),
        provider=_providers(mode, 3, masks),
    )
    winning = int(runs[0].outputs["winning_bid"])
    assert winning == 250
    c = [int(_as_signed(v)[0]) for v in opened[1]]  # party 1's view: one c per level
    if mode == "dealer":
        # the dealer knows every party's mask share: their sum is r
        r = [int(_as_signed(sum(masks[p][k] for p in (1, 2, 3)))[0]) for k in range(2)]
    else:
        # the coalition knows only party 1's share of r
        r = [int(_as_signed(masks[1][k])[0]) for k in range(2)]
    d = [(ci - ri + 2**63) % 2**64 - 2**63 for ci, ri in zip(c, r, strict=True)]
    recovered = _recover_bids(d[0], d[1], winning)
    if mode == "dealer":
        assert recovered == set(bids), "a colluding dealer recovers every losing bid"
    else:
        assert not ({120, 180} & recovered), "with ot the coalition learns no losing bid"


@pytest.mark.parametrize("mode", ["dealer", "ot"])
async def test_what_one_party_can_unmask_is_independent_of_the_inputs(
    mode: str, opened: dict[int, list[np.ndarray]]
) -> None:
    m = 20_000
    rng = np.random.default_rng(5)
    x = rng.integers(-1000, 1000, size=m)
    y = rng.integers(-1000, 1000, size=m)
    masks: dict[int, list[np.ndarray]] = {}

    async def prog(ctx: Any) -> None:
        v = await share_inputs(ctx, ctx.inputs.get("x"), owners=[1, 2], shape=(m,))
        await lt(ctx, v[1], v[2])

    await run_memory(3, prog, inputs=[{"x": x}, {"x": y}, {}], provider=_providers(mode, 3, masks))
    c = opened[1][0].astype(np.uint64)
    known = (sum(masks[p][0] for p in (1, 2, 3)) if mode == "dealer" else masks[1][0]).astype(
        np.uint64
    )
    residue = c - known - (x - y).astype(np.int64).view(np.uint64)  # what hides x - y
    if mode == "dealer":
        assert not residue.any()  # nothing: the dealer plus one view reveals x - y exactly
    else:
        top = (residue >> np.uint64(56)).astype(np.int64)  # uniform if independent of x - y
        counts = np.bincount(top, minlength=256)
        assert stats.chisquare(counts).pvalue > 1e-4
        assert np.count_nonzero(residue == 0) == 0
