"""protocols.trees.inference: oblivious XGBoost evaluation against plaintext xgboost.

Correctness (margins bit-exact with the fixed-point reference, within 1e-3 of xgboost), exact
float comparisons at the edges, rounds and bytes from the ledger against ``predict_cost``, and
transcript checks: message shapes independent of the path, opened values uniform, the owner's
thresholds absent from everything the other parties receive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import InputError, LocalProtocolError, RemoteProtocolError
from mpc_runtime.runtime.context import Context
from mpc_runtime.runtime.memory import run_memory
from protocols.io import open_value
from protocols.trees.inference import (
    path_and_gates,
    predict,
    predict_cost,
    share_model,
    share_queries,
)
from protocols.trees.model import FlatModel, float32_keys, load_model, sigmoid
from tests.protocols.helpers import cost

xgb = pytest.importorskip("xgboost")
datasets = pytest.importorskip("sklearn.datasets")
stats = pytest.importorskip("scipy.stats")

Log = list[tuple[int, str, str, int, int, Any]]


def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = datasets.load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    tr, te = order[:426], order[426:]
    return X[tr], y[tr], X[te], y[te]


def _booster(objective: str, depth: int, rounds: int):  # type: ignore[no-untyped-def]
    X, y, _, _ = _split()
    params = {"objective": objective, "max_depth": depth, "tree_method": "hist", "seed": 1}
    return xgb.train(params, xgb.DMatrix(X, label=y), rounds)


def _program(
    flat: FlatModel, X: np.ndarray, *, public: bool = True, reveal: bool = False
) -> Callable[[Any], Any]:
    depth = flat.depth

    async def prog(ctx):  # type: ignore[no-untyped-def]
        client = ctx.n  # the last party asks; party 1 owns the model
        ms = await share_model(
            ctx,
            1,
            flat if ctx.party_id == 1 else None,
            depth,
            n_trees=flat.n_trees,
            n_features=flat.n_features,
            public_features=public,
        )
        qs = await share_queries(ctx, client, X if ctx.party_id == client else None, 30)
        margin = await predict(ctx, ms, qs, depth=depth, public_features=public)
        if reveal:
            return await ctx.reveal("score", margin)
        return (await open_value(ctx, margin)).view(np.int64) / 2.0**margin.frac_bits

    return prog


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
@pytest.mark.parametrize("public", [True, False])
async def test_small_models_match_xgboost(n: int, objective: str, public: bool) -> None:
    booster = _booster(objective, 3, 6)
    flat = load_model(booster).flatten(3)
    _, _, Xt, _ = _split()
    Xq = Xt[:12]
    runs = await run_memory(
        n, _program(flat, Xq, public=public, reveal=True), outputs={"score": [f"party:{n}"]}
    )
    assert all(r.result is None for r in runs[:-1])  # only the client learns the scores
    score = runs[-1].result
    np.testing.assert_array_equal(score, flat.fixed_margin(Xq))  # exact: no rounding inside
    margin = booster.predict(xgb.DMatrix(Xq), output_margin=True)
    assert np.max(np.abs(score - margin)) < 1e-3
    if objective == "binary:logistic":
        prob = booster.predict(xgb.DMatrix(Xq))
        assert np.max(np.abs(sigmoid(score) - prob)) < 1e-3


@pytest.mark.dealer_only
async def test_100_trees_depth_6_every_test_query() -> None:
    booster = _booster("binary:logistic", 6, 100)
    flat = load_model(booster).flatten(6)
    _, _, Xt, _ = _split()
    runs = await run_memory(3, _program(flat, Xt), round_timeout=30)
    got = runs[0].result
    np.testing.assert_array_equal(got, flat.fixed_margin(Xt))
    margin = booster.predict(xgb.DMatrix(Xt), output_margin=True)
    assert np.max(np.abs(got - margin)) < 1e-3
    assert np.max(np.abs(sigmoid(got) - booster.predict(xgb.DMatrix(Xt)))) < 1e-3


def _edge_model() -> tuple[FlatModel, np.ndarray]:
    """Depth-1 trees, tree t compares feature t; left leaf 2^t / 1024 so the margin is a bitmask."""
    f32 = np.float32
    tiny = np.finfo(f32).smallest_subnormal
    thr = np.array(
        [0.0, -0.0, tiny, -tiny, 1.0, -1.0, np.finfo(f32).max, -np.finfo(f32).max, np.inf, 2.5],
        dtype=f32,
    )
    t = thr.size
    feature = np.arange(t, dtype=np.int64)[:, None]
    leaf = np.stack([2.0 ** np.arange(t) / 1024, np.zeros(t)], axis=1).astype(f32)
    flat = FlatModel(feature, thr[:, None], leaf, np.ones((t, 1), bool), 0.0, 30, 1, "x")
    with np.errstate(over="ignore"):
        below, above = np.nextafter(thr, f32(-np.inf)), np.nextafter(thr, f32(np.inf))
    rows = [
        np.pad(thr, (0, 20)),  # equal to every threshold: never "less"
        np.pad(below, (0, 20)),  # just below
        np.pad(above, (0, 20)),  # just above
        np.pad(np.array([-0.0, 0.0, 0.0, -0.0, 1, -1, 3e38, -3e38, 3.4e38, 2.4999999]), (0, 20)),
    ]
    X = np.array(rows, dtype=np.float64)
    X[~np.isfinite(X)] = 0.0
    return flat, X


@pytest.mark.parametrize("n", [2, 3])
async def test_exact_float_comparisons_at_the_edges(n: int) -> None:
    flat, X = _edge_model()
    runs = await run_memory(n, _program(flat, X))
    got = np.rint(runs[0].result * 1024).astype(np.int64)
    x32 = X.astype(np.float32)[:, : flat.n_trees]
    want = ((x32 < flat.threshold[:, 0][None, :]) * 2 ** np.arange(flat.n_trees)).sum(axis=1)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, np.rint(flat.predict_margin(X) * 1024).astype(np.int64))


async def test_random_float32_comparisons() -> None:
    """30 depth-1 trees (tree t on feature t) and 64 queries: 1920 comparisons, bit-exact."""
    rng = np.random.default_rng(11)
    f32 = np.float32
    bits = rng.integers(0, 2**32, size=30, dtype=np.uint64).astype(np.uint32)
    thr = bits.view(f32).copy()
    thr[~np.isfinite(thr)] = 1.5
    thr[:6] = [0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38]
    step = rng.integers(-2, 3, size=(64, 30))
    with np.errstate(over="ignore"):
        near = np.where(step < 0, np.nextafter(thr, f32(-np.inf)), thr)
        near = np.where(step > 0, np.nextafter(thr, f32(np.inf)), near)
    far = (rng.standard_normal((64, 30)) * 10.0 ** rng.integers(-30, 30, (64, 30))).astype(f32)
    X = np.where(rng.random((64, 30)) < 0.5, near, far).astype(np.float64)
    X[~np.isfinite(X)] = 0.0
    leaf = np.stack([2.0 ** np.arange(30) / 1024, np.zeros(30)], axis=1).astype(f32)
    ones = np.ones((30, 1), bool)
    flat = FlatModel(np.arange(30)[:, None], thr[:, None], leaf, ones, 0.0, 30, 1, "x")
    runs = await run_memory(3, _program(flat, X))
    got = np.rint(runs[0].result * 1024).astype(np.int64)
    want = ((X.astype(f32) < thr[None, :]) * 2 ** np.arange(30)).sum(axis=1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
@pytest.mark.parametrize("public", [True, False])
async def test_rounds_and_bytes_from_the_ledger(n: int, depth: int, public: bool) -> None:
    booster = _booster("reg:squarederror", depth, 3)
    flat = load_model(booster).flatten(depth)
    _, _, Xt, _ = _split()
    q = 5
    runs = await run_memory(n, _program(flat, Xt[:q], public=public))
    want = predict_cost(q, 3, depth, 30, n, public_features=public)
    assert want.rounds == 7 + math.ceil(math.log2(depth)) + (0 if public else 1)
    for r in runs:
        c = cost(r, "main/trees_predict#0")
        assert (c.rounds, c.payload_bytes_sent) == want
        assert r.ledger.total("offline", prefix="main/trees_predict#0").rounds >= 1


def test_per_query_byte_formula() -> None:
    assert path_and_gates(6) == [36, 72, 64]
    t, d = 100, 6
    per_query = 16 * t * 2**d + 19.375 * t * (2**d - 1) + t * 172 / 4 + t * 2**d / 8
    assert per_query == 229_562.5
    for n in (2, 3, 5):
        got = predict_cost(64, t, d, 30, n).payload_bytes / 64
        assert got == pytest.approx(per_query * (n - 1), rel=1e-3)
        hidden = predict_cost(64, t, d, 30, n, public_features=False).payload_bytes / 64
        assert hidden - got == pytest.approx(16 * t * (2**d - 1) * 30 * (n - 1))


# ---- transcripts --------------------------------------------------------------------------------
def _record(monkeypatch: pytest.MonkeyPatch) -> Log:
    """Record every payload: (party, "sent"/"recv", op path, exchange number, peer, payload)."""
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

    monkeypatch.setattr(Context, "exchange", spy)
    return log


def _shape(log: Log, party: int) -> list[tuple[str, str, int, int, str, tuple[int, ...]]]:
    out = []
    for p, direction, path, k, peer, v in log:
        if p == party:
            out.append((direction, path, k, peer, str(v.dtype), tuple(v.shape)))
    return sorted(out)


async def _run_logged(
    monkeypatch: pytest.MonkeyPatch, flat: FlatModel, X: np.ndarray, n: int = 3
) -> Log:
    with monkeypatch.context() as mp:
        log = _record(mp)
        await run_memory(n, _program(flat, X))
    return log


@pytest.mark.dealer_only
async def test_messages_do_not_depend_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    flat = load_model(_booster("binary:logistic", 3, 4)).flatten(3)
    _, _, Xt, _ = _split()
    paths = flat.leaf_paths(Xt)
    a, b = 0, int(np.flatnonzero(np.any(paths != paths[0], axis=1))[0])
    assert np.any(paths[a] != paths[b])
    log_a = await _run_logged(monkeypatch, flat, Xt[a : a + 1])
    log_b = await _run_logged(monkeypatch, flat, Xt[b : b + 1])
    for party in (1, 2, 3):
        assert _shape(log_a, party) == _shape(log_b, party)  # same ops, rounds and sizes


def _opened(log: Log, suffix: str) -> dict[tuple[str, int], dict[int, np.ndarray]]:
    """Per round under a path ending in ``suffix``: what each party broadcast (same to all)."""
    out: dict[tuple[str, int], dict[int, np.ndarray]] = {}
    for p, direction, path, k, _, v in log:
        if direction == "sent" and path.endswith(suffix):
            out.setdefault((path, k), {})[p] = np.asarray(v)
    return out


def _xor(parts: dict[int, np.ndarray]) -> np.ndarray:
    return np.bitwise_xor.reduce(list(parts.values()))


async def test_opened_values_are_uniformly_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    flat = load_model(_booster("binary:logistic", 3, 4)).flatten(3)
    _, _, Xt, _ = _split()
    paths = flat.leaf_paths(Xt)
    b = int(np.flatnonzero(np.any(paths != paths[0], axis=1))[0])
    copies, t, n_nodes, n_leaves = 256, 4, 7, 8
    m, big_m = copies * t * n_nodes, copies * t * n_leaves
    for row in (0, b):  # two queries with different paths, each repeated
        log = await _run_logged(monkeypatch, flat, np.repeat(Xt[row : row + 1], copies, axis=0))
        # the leaf opening w = z XOR t: 1 bit per (copy, tree, leaf)
        (leaf,) = _opened(log, "/leaf#0").values()
        w = np.unpackbits(_xor(leaf).view(np.uint8), bitorder="little")[:big_m]
        ones = w.reshape(copies, t * n_leaves).sum(axis=0)
        chi2 = float(np.sum((ones - copies / 2) ** 2 / (copies / 4)))
        assert stats.chi2.sf(chi2, t * n_leaves) > 1e-4
        on_path = ones.reshape(t, n_leaves)[np.arange(t), paths[row]]
        assert np.all(np.abs(on_path - copies / 2) < 5 * math.sqrt(copies / 4))
        # the comparison opening c mod 2^33 (after the 2M Beaver words of the same round)
        (first,) = _opened(log, "trees_predict#0/open#0").values()
        total = np.zeros(m, dtype=np.uint64)
        for v in first.values():
            body = v[2 * big_m :]
            lo = body[: m // 2].view(np.uint32).astype(np.uint64)
            hi = np.unpackbits(body[m // 2 :].view(np.uint8), bitorder="little")[:m]
            total += lo | (hi.astype(np.uint64) << np.uint64(32))
        c = (total & np.uint64((1 << 33) - 1)).astype(np.float64) / 2.0**33
        assert stats.kstest(c, "uniform").pvalue > 1e-4
        # every AND opening of the comparison (5 rounds) and path (3 rounds) circuits: fair bits
        rounds = {**_opened(log, "/compare#0"), **_opened(log, "/paths#0")}
        assert len(rounds) == 5 + 2
        for key, parts in rounds.items():
            bits = np.unpackbits(_xor(parts).view(np.uint8))
            z = (bits.sum() - bits.size / 2) / math.sqrt(bits.size / 4)
            assert abs(z) < 5, key


def _patterns(flat: FlatModel) -> list[bytes]:
    thr = flat.threshold[np.isfinite(flat.threshold)]
    keys = float32_keys(thr)
    return (
        [k.tobytes() for k in keys.astype("<i8")]
        + [x.tobytes() for x in thr.astype("<f4")]
        + [x.tobytes() for x in thr.astype("<f8")]
    )


def _contains(payload: np.ndarray, pattern: bytes) -> bool:
    raw = np.ascontiguousarray(payload).tobytes()
    step = len(pattern) if len(pattern) == 8 else 4
    return any(raw[i : i + len(pattern)] == pattern for i in range(0, len(raw), step))


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("public", [True, False])
async def test_thresholds_never_reach_other_parties(
    monkeypatch: pytest.MonkeyPatch, n: int, public: bool
) -> None:
    flat = load_model(_booster("binary:logistic", 3, 3)).flatten(3)
    _, _, Xt, _ = _split()
    with monkeypatch.context() as mp:
        log = _record(mp)
        await run_memory(n, _program(flat, Xt[:4], public=public))
    patterns = _patterns(flat)
    received = [v for p, d, _, _, _, v in log if d == "recv" and p != 1]
    assert received
    for v in received:
        for pat in patterns:
            assert not _contains(v, pat)
    # the scan itself works: a planted threshold is found
    for pat in (patterns[0], patterns[-1]):
        planted = np.frombuffer(received[0].tobytes() + pat, dtype=np.uint8)
        assert _contains(planted, pat)


# ---- errors ------------------------------------------------------------------------------------
async def test_missing_query_values_are_refused_at_the_client() -> None:
    flat = load_model(_booster("binary:logistic", 2, 2)).flatten(2)
    _, _, Xt, _ = _split()
    bad = Xt[:2].copy()
    bad[1, 3] = np.nan
    runs = await run_memory(3, _program(flat, bad), return_exceptions=True, round_timeout=2)
    assert isinstance(runs[2].error, InputError)
    assert all(r.error is not None for r in runs)


async def test_malformed_model_message_names_the_owner() -> None:
    async def prog(ctx):  # type: ignore[no-untyped-def]
        if ctx.party_id == 1:
            bad = np.full(2 * 3 + 4 * 3 + 1 + 2 * 3, 99, dtype=np.uint64)  # feature 99 >= 30
            await ctx.scope("share_model").exchange({2: bad}, expect_from=())
            return None
        return await share_model(ctx, 1, None, 2, n_trees=3, n_features=30)

    runs = await run_memory(2, prog, return_exceptions=True, round_timeout=2)
    err = runs[1].error
    assert isinstance(err, RemoteProtocolError) and err.peer == "party:1"


async def test_misuse_is_refused() -> None:
    flat = load_model(_booster("binary:logistic", 2, 2)).flatten(2)

    async def prog(ctx):  # type: ignore[no-untyped-def]
        ms = await share_model(
            ctx, 1, flat if ctx.party_id == 1 else None, 2, n_trees=2, n_features=30
        )
        qs = await share_queries(ctx, 2, np.zeros((1, 30)) if ctx.party_id == 2 else None, 30)
        with pytest.raises(LocalProtocolError, match="depth"):
            await predict(ctx, ms, qs, depth=3)
        with pytest.raises(LocalProtocolError, match="hidden|selection"):
            await predict(ctx, ms, qs, depth=2, public_features=False)
        return True

    runs = await run_memory(2, prog)
    assert all(r.result for r in runs)

    async def wrong_shape(ctx):  # type: ignore[no-untyped-def]
        return await share_model(
            ctx, 1, flat if ctx.party_id == 1 else None, 2, n_trees=5, n_features=30
        )

    runs = await run_memory(2, wrong_shape, return_exceptions=True, round_timeout=2)
    assert isinstance(runs[0].error, InputError)
