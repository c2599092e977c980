"""What a party sees while training: nothing that depends on the data beyond public shapes.

Every exchange of every party is recorded (op path, round, peer, dtype, shape, payload) for two
different data sets of the same public shape: the sequences of message shapes must be
identical, and the payload words a non-recipient receives must look uniformly random (every
value opened in training is masked by fresh randomness).  Horizontal training opens the bits
of the public cut values by design; those openings are excluded from the uniformity check,
and their shapes are still identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mpc_runtime.runtime.context import Context
from tests.protocols.test_trees_training import _data, _train

pytestmark = pytest.mark.dealer_only

Log = list[tuple[int, str, str, int, int, Any]]


def _record(mp: pytest.MonkeyPatch) -> Log:
    log: Log = []
    seq: dict[tuple[int, str], int] = {}
    orig = Context.exchange

    async def spy(self, outgoing, expect_from=None, *, expect=None):  # type: ignore[no-untyped-def]
        key = (self.party_id, str(self.path))
        k = seq[key] = seq.get(key, -1) + 1
        got = await orig(self, outgoing, expect_from, expect=expect)
        for p, v in outgoing.items():
            log.append((self.party_id, "sent", str(self.path), k, p, v))
        for p, v in got.items():
            log.append((self.party_id, "recv", str(self.path), k, p, v))
        return got

    mp.setattr(Context, "exchange", spy)
    return log


def _shapes(log: Log, party: int) -> list[tuple[Any, ...]]:
    return sorted(
        (d, path, k, peer, str(np.asarray(v).dtype), np.asarray(v).shape)
        for p, d, path, k, peer, v in log
        if p == party
    )


async def _logged(mp: pytest.MonkeyPatch, split: str, seed: int) -> Log:
    X, y = _data(rows=40, seed=seed)
    with mp.context() as m:
        log = _record(m)
        await _train(split, 3, X, y, trees=2)
    return log


def _ones_fraction(log: Log, party: int, skip: str) -> tuple[float, int]:
    words = [
        np.asarray(v).reshape(-1)
        for p, d, path, _, _, v in log
        if p == party and d == "recv" and skip not in path and np.asarray(v).dtype == np.uint64
    ]
    allw = np.concatenate(words)
    bits = np.unpackbits(allw.view(np.uint8))
    return float(bits.mean()), int(bits.size)


@pytest.mark.parametrize("split", ["vertical", "horizontal"])
async def test_message_shapes_do_not_depend_on_the_data(
    monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    a = await _logged(monkeypatch, split, 1)
    b = await _logged(monkeypatch, split, 2)
    for party in (1, 2, 3):
        assert _shapes(a, party) == _shapes(b, party)


@pytest.mark.parametrize("split", ["vertical", "horizontal"])
async def test_what_a_non_recipient_receives_is_uniform(
    monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    log = await _logged(monkeypatch, split, 4)
    for party in (2, 3):
        frac, n = _ones_fraction(log, party, "open_bit")
        assert n > 1_000_000
        assert abs(frac - 0.5) < 4 / np.sqrt(n) + 2e-4, (party, frac)
    assert not [e for e in log if e[0] in (2, 3) and "reveal" in e[2] and e[1] == "recv"]
