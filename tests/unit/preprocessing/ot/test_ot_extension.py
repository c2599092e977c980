"""Base OTs (Chou-Orlandi) and IKNP extension: the receiver gets exactly m_c, nothing else."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import LocalProtocolError, RemoteProtocolError
from mpc_runtime.preprocessing.ot.baseot import BASE_OTS, POINT_BYTES, BaseOTResult, base_ots
from mpc_runtime.preprocessing.ot.iknp import ExtReceiver, ExtSender, pair_tag
from mpc_runtime.preprocessing.ot.primitives import ColumnPRG, CRHash, Workspace
from mpc_runtime.runtime.memory import run_memory

from ._ot_support import P_REJECT, byte_p


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")


async def _run_base(n: int) -> tuple[dict[int, bytes], list[BaseOTResult]]:
    choices = {p: os.urandom(16) for p in range(1, n + 1)}

    async def program(ctx: Any) -> BaseOTResult:
        me = ctx.party_id
        peers = tuple(p for p in ctx.parties if p != me)
        return await base_ots(ctx, me, peers, {p: choices[me] for p in peers})

    runs = await run_memory(n, program, round_timeout=30)
    return choices, [r.result for r in runs]


async def test_base_ots_give_the_chosen_seed_only() -> None:
    choices, results = await _run_base(3)
    for i in (1, 2, 3):
        recv_keys, _ = results[i - 1]
        for j in (1, 2, 3):
            if i == j:
                continue
            _, send_keys = results[j - 1]
            k0, k1 = send_keys[i]
            mine = recv_keys[j]
            c = _bits(choices[i])
            assert len(mine) == BASE_OTS and all(len(k) == 16 for k in mine)
            for index in range(BASE_OTS):
                chosen, other = (k1, k0) if c[index] else (k0, k1)
                assert mine[index] == chosen[index]
                assert mine[index] != other[index]
            # The seeds the receiver did not choose look uniform and unrelated to its own.
            others = b"".join((k0 if c[x] else k1)[x] for x in range(BASE_OTS))
            assert len(set(others[x : x + 16] for x in range(0, len(others), 16))) == BASE_OTS
            diffs = bytes(a ^ b for a, b in zip(others, b"".join(mine), strict=True))
            assert byte_p(np.frombuffer(diffs, dtype=np.uint8)) > P_REJECT


async def test_base_ot_rejects_points_off_the_curve() -> None:
    async def program(ctx: Any) -> BaseOTResult | None:
        me = ctx.party_id
        peers = tuple(p for p in ctx.parties if p != me)
        if me == 2:
            bad = b"\x04" + bytes(64)  # (0, 0) is not on P-256
            await ctx.exchange({1: bad})
            await ctx.exchange({1: bytes(BASE_OTS * POINT_BYTES)})
            return None
        return await base_ots(ctx, me, peers, {p: bytes(16) for p in peers})

    runs = await run_memory(2, program, round_timeout=2, return_exceptions=True)
    err = runs[0].error
    assert isinstance(err, RemoteProtocolError) and err.peer == "party:2"


def _pair(delta: bytes) -> tuple[ExtSender, ExtReceiver]:
    seeds0 = [os.urandom(16) for _ in range(128)]
    seeds1 = [os.urandom(16) for _ in range(128)]
    bits = _bits(delta)
    chosen = [seeds1[x] if bits[x] else seeds0[x] for x in range(128)]
    tag = pair_tag(1, 2)
    return ExtSender(delta, chosen, tag), ExtReceiver(seeds0, seeds1, tag)


@pytest.mark.parametrize("widths", [[1], [3, 1500], [1025, 7]])
def test_extension_receiver_gets_exactly_its_choice(widths: list[int]) -> None:
    sender, receiver = _pair(os.urandom(16))
    ws_s, ws_r, crh = Workspace(), Workspace(), CRHash()
    seen = []
    for w in widths:  # several calls: the PRG streams and tweaks continue
        choices = np.frombuffer(os.urandom(8 * w), dtype=np.uint64)
        u, ht = receiver.extend(choices, ws_r, crh)
        assert u.shape == (128 * w,) and u.dtype == np.uint64
        h0, h1 = sender.respond(u, ws_s, crh)
        c = np.unpackbits(choices.astype("<u8").view(np.uint8), bitorder="little").astype(bool)
        assert np.array_equal(ht, np.where(c, h1, h0))
        other = np.where(c, h0, h1)
        assert not np.any(other == ht)
        # The other message is not a fixed offset of the chosen one: its difference is uniform.
        if w >= 1000:
            assert byte_p(other ^ ht) > P_REJECT
        seen.append(h0)
    allh = np.concatenate(seen)
    assert np.unique(allh).size == allh.size  # no reused pad/tweak across calls


def test_extension_with_wrong_delta_fails() -> None:
    sender, receiver = _pair(os.urandom(16))
    wrong, _ = _pair(os.urandom(16))
    choices = np.frombuffer(os.urandom(8 * 4), dtype=np.uint64)
    u, ht = receiver.extend(choices, Workspace(), CRHash())
    h0, h1 = wrong.respond(u, Workspace(), CRHash())
    assert not np.any(ht == h0) and not np.any(ht == h1)


def test_primitives_validate() -> None:
    with pytest.raises(LocalProtocolError):
        ColumnPRG([bytes(16)] * 127)
    with pytest.raises(LocalProtocolError):
        ExtSender(bytes(15), [bytes(16)] * 128, 0)
    with pytest.raises(LocalProtocolError):
        pair_tag(2**32, 1)
    assert "seed" not in repr(ColumnPRG([bytes(16)] * 128)).lower()
