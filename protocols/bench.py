"""The benchmark job: times the online phase of one protocol on public random test data.

``bench_job`` is the program of the jobs ``mpc bench`` starts; ``params``:

* ``op``: ``input`` | ``sum`` | ``mul`` | ``lt`` | ``eq`` | ``argmax`` | ``lt-constant`` |
  ``eq-constant`` | ``lt-fss`` | ``eq-fss`` (the comparison protocols of
  :mod:`protocols.compare`; ``-fss`` needs 2 parties, ``-constant`` and ``-fss`` the dealer);
* ``size``: elements per operand; ``repeat``: timed repetitions; ``seed``: a **public** seed.

**The data is public test data.**  Every party derives its own operands from the public seed
and its party id, so party 1 can recompute every result in the clear and check the revealed
checksum; nothing secret is benchmarked, and shares and masks still come only from the
runtime's CSPRNG (numpy's generator makes the test operands and nothing else).

What each op times (the *online* phase only) and its rounds:

====== ============================================================= ======
op     online part                                                    rounds
====== ============================================================= ======
input  party 1 secret-shares a vector of ``size`` (``share_input``)        0
sum    every party shares its vector, then the local ``secure_sum``        0
mul    Beaver ``mul`` of two shared vectors (from parties 1 and 2)         1
lt     ``lt`` of two shared vectors (the tree protocol)                   8
eq     ``eq`` of two shared vectors (about 1/8 of the pairs are equal)    8
lt-constant, eq-constant: the same with one-time truth tables             4
lt-fss, eq-fss: the same by function secret sharing (2 parties)           1
argmax tournament ``argmax`` of one shared vector                 9 ceil(log2 size)
====== ============================================================= ======

Per repetition, every party first fetches all the dealer material the operation will draw
(*offline*, timed and counted separately), then all parties pass a one-round barrier, then the
operation runs on a :class:`Prefetched` view of the context that hands the protocol its
prefetched material in request order, so ``time.perf_counter()`` around the call measures the
online part alone (rounds, local numpy work, TLS and framing); a second barrier after it keeps a
fast party's next prefetch (and the dealer's work for it) out of a slower party's timing.
Operands are shared before the repetitions (not timed) except for ``input`` and ``sum``, whose
online part *is* the sharing.
Party 1 receives one checksum per repetition (``sum`` of the result and its first elements,
revealed to party 1 only) and compares it with numpy.

Every party puts ``ctx.outputs["bench"]``: its online and offline seconds per repetition, the
online rounds, messages and bytes it sent/received in the timed part, the offline (dealer)
bytes it received, its idle and peak resident memory, and on party 1 ``verified``.

Progress: after each repetition party 1 writes one line ``PROGRESS_MARK k/repeat`` to its
stderr (counts only), which ``mpc bench`` reads to advance its progress bar.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.sharing``, ``mpc_runtime.errors``.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_runtime.errors import LocalProtocolError, UsageError
from mpc_runtime.preprocessing.requests import Component
from mpc_runtime.runtime import Context
from mpc_runtime.sharing.prg import PRG, SEED_BYTES
from protocols import compare
from protocols.select import levels
from protocols.types import RING_MAX, RING_MIN, Shared

COMPARE_OPS = {
    "lt": ("lt", "tree"),
    "eq": ("eq", "tree"),
    "lt-constant": ("lt", "constant"),
    "eq-constant": ("eq", "constant"),
    "lt-fss": ("lt", "fss"),
    "eq-fss": ("eq", "fss"),
}
"""Comparison ops: (operation, protocol variant)."""
OPS = ("input", "sum", "mul", *COMPARE_OPS, "argmax", "triples", "and-triples")
MATERIAL_OPS = ("triples", "and-triples")
"""Ops that time only the making of preprocessing material (no online part)."""
VERIFY_HEAD = 64
MAX_ARGMAX = 2048
"""argmax carries a one-hot vector per candidate: O(size^2) multiplications, so it is capped."""
CHECK_HEAD = 4
VALUE_BITS = 31
"""Operands are uniform in [-2^31, 2^31) (products fit the signed 64-bit ring exactly)."""
BOUNDS = (-(2**VALUE_BITS), 2**VALUE_BITS - 1)
PROGRESS_MARK = "mpc-bench: repetition done"
"""What party 1 writes to stderr after each repetition (``mpc bench`` counts these lines)."""


def mark_progress(ctx: Context, done: int, repeat: int) -> None:
    """Party 1 marks a finished repetition on its stderr (a count, never a value)."""
    if ctx.party_id == 1:
        print(f"{PROGRESS_MARK} {done}/{repeat}", file=sys.stderr, flush=True)


def expected_rounds(op: str, size: int) -> int:
    """Online rounds of the timed part of ``op`` on ``size`` elements."""
    if op in MATERIAL_OPS:
        return 0
    if op in ("input", "sum"):
        return 0  # inputs are shared from pairwise seeds
    if op == "mul":
        return 1
    if op in COMPARE_OPS:
        return compare.rounds(COMPARE_OPS[op][1])
    if op == "argmax":
        return (compare.rounds() + 1) * levels(size)
    raise UsageError(f"unknown bench op {op!r}")


# ---- public test data ---------------------------------------------------------------------
def test_data(seed: int, party: int, size: int, op: str) -> np.ndarray:
    """Party ``party``'s operand (int64) derived from the PUBLIC ``seed``: test data only.

    Drawn from the AES-CTR PRG keyed by a hash of (seed, party, op), so anyone who knows the
    public seed (party 1, to check results) can recompute it; it is never used as a share.
    """
    op = COMPARE_OPS[op][0] if op in COMPARE_OPS else op  # the variants share their data
    key = hashlib.sha256(f"mpc-bench/{seed}/{party}/{op}".encode()).digest()[:SEED_BYTES]
    words = PRG(key).uint64((size,))
    if op == "eq" and party == 2:
        x = test_data(seed, 1, size, op)
        other = _signed31(words)
        return np.where(np.arange(size) % 8 == 0, x, other)
    if op == "argmax":
        return np.argsort(words, kind="stable").astype(np.int64)  # a permutation: unique max
    return _signed31(words)


def _signed31(words: np.ndarray) -> np.ndarray:
    """Uniform values in [-2^31, 2^31) from uniform 64-bit words (fresh ones: made in place, so
    the test data costs its own 8 bytes per element, not three temporaries of that size)."""
    words >>= np.uint64(64 - (VALUE_BITS + 1))
    out = words.view(np.int64)
    out -= 1 << VALUE_BITS
    return out


def owners(op: str, n: int) -> tuple[int, ...]:
    if op == "sum":
        return tuple(range(1, n + 1))
    if op == "mul" or op in COMPARE_OPS:
        return (1, 2)
    return (1,)


def expected_result(op: str, seed: int, size: int, n: int) -> np.ndarray:
    """The result in the clear as ring elements (uint64), recomputed from the public seed."""
    data = {p: test_data(seed, p, size, op) for p in owners(op, n)}
    op = COMPARE_OPS[op][0] if op in COMPARE_OPS else op
    out: np.ndarray
    if op == "input":
        out = data[1]
    elif op == "sum":
        out = np.asarray(np.sum(np.stack(list(data.values())), axis=0, dtype=np.int64))
    elif op == "mul":
        out = data[1] * data[2]
    elif op == "lt":
        out = (data[1] < data[2]).astype(np.int64)
    elif op == "eq":
        out = (data[1] == data[2]).astype(np.int64)
    else:
        out = np.zeros(size, dtype=np.int64)
        out[int(np.argmax(data[1]))] = 1
    return out.astype(np.int64).view(np.uint64)


def checksum(values: np.ndarray) -> np.ndarray:
    """Sum (mod 2^64) and the first CHECK_HEAD elements: linear, so it works on shares too."""
    flat = values.reshape(-1)
    head = np.zeros(CHECK_HEAD, dtype=np.uint64)
    k = min(CHECK_HEAD, flat.size)
    head[:k] = flat[:k]
    return np.concatenate([[np.sum(flat, dtype=np.uint64)], head]).astype(np.uint64)


# ---- prefetched material ------------------------------------------------------------------
def material_plan(op: str, size: int) -> list[list[Component]]:
    """The ``ctx.material`` requests ``op`` makes, in order (what :class:`Prefetched` serves)."""
    if op in ("input", "sum"):
        return []
    if op == "triples":
        return [[Component("triple", (size,))]]
    if op == "and-triples":  # size AND triples: whole uint64 words of 64 ANDs each
        return [[Component("and", (-(-size // 64),))]]
    if op == "mul":
        return [[Component("triple", (size,))]]
    if op in COMPARE_OPS:
        kind, variant = COMPARE_OPS[op]
        return compare.material_plan(kind, size, variant)
    plan: list[list[Component]] = []
    k = size
    while k > 1:
        p = k // 2
        plan.extend(compare.material_plan("lt", p))
        plan.append([Component("triple", (p, size + 1))])
        k = p + k % 2
    return plan


class Prefetched:
    """A view of a :class:`Context` whose ``material`` serves prefetched batches in order.

    Everything else (``scope``, ``exchange``, ``broadcast``, identities) goes to the real
    context, so rounds and bytes land in the ledger exactly as without the view.  A request
    that differs from the next prefetched batch raises: the plan and the protocol disagree.
    """

    def __init__(self, ctx: Context, queue: deque[tuple[list[Component], list[Any]]]) -> None:
        self._ctx = ctx
        self._queue = queue

    def scope(self, name: str) -> Prefetched:
        return Prefetched(self._ctx.scope(name), self._queue)

    async def material(self, components: Sequence[Component]) -> list[Any]:
        if not self._queue:
            raise LocalProtocolError("bench: the protocol asked for unplanned material")
        comps, mats = self._queue.popleft()
        if list(components) != comps:
            raise LocalProtocolError("bench: the protocol's material differs from the plan")
        return mats

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


Queue = deque[tuple[list[Component], list[Any]]]


async def prefetch(ctx: Context, plan: list[list[Component]]) -> Queue:
    """Fetch every batch of ``plan`` (offline phase) under ``ctx``'s op path."""
    queue: Queue = deque()
    for comps in plan:
        mats = await ctx.scope("pre").material(comps)
        queue.append((comps, mats))
    return queue


# ---- the job ------------------------------------------------------------------------------
def _params(ctx: Context) -> tuple[str, int, int, int]:
    p = ctx.params
    op = p.get("op")
    if op not in OPS:
        raise UsageError(f"params['op'] must be one of {', '.join(OPS)}")
    checked: dict[str, int] = {}
    for name, v in (
        ("size", p.get("size")),
        ("repeat", p.get("repeat", 1)),
        ("seed", p.get("seed", 0)),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise UsageError(f"params['{name}'] must be a non-negative integer")
        checked[name] = v
    size, repeat, seed = checked["size"], checked["repeat"], checked["seed"]
    if size < 1 or repeat < 1:
        raise UsageError("params size and repeat must be at least 1")
    if op == "argmax" and not 2 <= size <= MAX_ARGMAX:
        raise UsageError(f"argmax size must be in [2, {MAX_ARGMAX}] (its cost grows as size^2)")
    if op in COMPARE_OPS and COMPARE_OPS[op][1] == "fss" and ctx.n != 2:
        raise UsageError(f"{op} (function secret sharing) needs exactly 2 parties, not {ctx.n}")
    return op, size, repeat, seed


async def _run_op(ctx: Any, op: str, size: int, mine: np.ndarray | None, operands: Any) -> Any:
    from protocols.arith import mul, secure_sum
    from protocols.compare import eq, lt
    from protocols.io import share_input, share_inputs
    from protocols.select import argmax

    if op == "input":
        return await share_input(ctx, mine, 1, shape=(size,), bounds=BOUNDS)
    if op == "sum":
        got = await share_inputs(ctx, mine, owners=ctx.parties, shape=(size,), bounds=BOUNDS)
        return secure_sum(ctx, got)
    if op == "mul":
        return await mul(ctx, operands[1], operands[2])
    if op in COMPARE_OPS:
        kind, variant = COMPARE_OPS[op]
        fn = lt if kind == "lt" else eq
        return await fn(ctx, operands[1], operands[2], variant=variant)
    _, onehot = await argmax(ctx, operands[1])
    return onehot


async def _check_material(ctx: Context, kind: str, mat: dict[str, np.ndarray]) -> bool | None:
    """Party 1 reconstructs the first elements of a batch (thrown away afterwards) and checks
    the triple relation; None on the other parties."""
    head = {k: np.ascontiguousarray(v.reshape(-1)[:VERIFY_HEAD]) for k, v in mat.items()}
    flat = np.concatenate([head["a"], head["b"], head["c"]])
    got = await ctx.scope("check").exchange(
        {1: flat} if ctx.party_id != 1 else {}, expect_from=ctx.peers if ctx.party_id == 1 else ()
    )
    if ctx.party_id != 1:
        return None
    parts = [flat, *got.values()]
    k = head["a"].size
    if kind == "and":
        total = np.bitwise_xor.reduce(parts)
        a, b, c = total[:k], total[k : 2 * k], total[2 * k :]
        return bool(np.array_equal(a & b, c))
    total = np.sum(np.stack(parts), axis=0, dtype=np.uint64)
    a, b, c = total[:k], total[k : 2 * k], total[2 * k :]
    return bool(np.array_equal(a * b, c))


async def _material_bench(ctx: Context, op: str, size: int, repeat: int) -> dict[str, Any]:
    """Time making ``size`` triples or AND triples ``repeat`` times (offline phase only)."""
    from mpc_runtime.runtime.ledger import OFFLINE

    plan = material_plan(op, size)
    seconds: list[float] = []
    verified = True
    counts = None
    for r in range(repeat):
        rep = ctx.scope(f"rep{r}")
        await rep.scope("barrier").broadcast(np.zeros(1, dtype=np.uint64))
        t0 = time.perf_counter()
        queue = await prefetch(rep, plan)
        seconds.append(time.perf_counter() - t0)
        counts = ctx.ledger.total(OFFLINE, str(rep.path))
        (comps, mats) = queue[0]
        ok = await _check_material(rep, comps[0].kind, mats[0])
        verified = verified and ok is not False
        mark_progress(ctx, r + 1, repeat)
    report: dict[str, Any] = {
        "op": op,
        "size": size,
        "repeat": repeat,
        "parties": ctx.n,
        "online_seconds": [0.0] * repeat,
        "offline_seconds": seconds,
        "online": {"rounds": 0, "messages_sent": 0, "bytes_sent": 0, "payload_bytes_sent": 0},
        "offline": counts.as_dict() if counts is not None else {},
        "offline_bytes_received": int(counts.bytes_received) if counts is not None else 0,
        "expected_rounds": 0,
    }
    if ctx.party_id == 1:
        report["verified"] = verified
    return report


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux ``ru_maxrss`` is in KiB)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


async def bench_job(ctx: Context) -> None:
    """Time ``params['op']`` ``repeat`` times; put the numbers in ``ctx.outputs['bench']``."""
    idle = peak_rss_bytes()  # after imports, TLS and the mesh: the party's idle baseline
    await _bench(ctx)
    ctx.outputs["bench"]["idle_rss_bytes"] = idle
    ctx.outputs["bench"]["peak_rss_bytes"] = peak_rss_bytes()


async def _bench(ctx: Context) -> None:
    from mpc_runtime.runtime.ledger import OFFLINE, ONLINE
    from protocols.io import share_inputs

    op, size, repeat, seed = _params(ctx)
    ctx = ctx.scope("bench")
    if op in MATERIAL_OPS:
        ctx.outputs["bench"] = await _material_bench(ctx, op, size, repeat)
        return
    me = ctx.party_id
    mine = test_data(seed, me, size, op) if me in owners(op, ctx.n) else None
    operands = None
    if op in ("mul", "argmax") or op in COMPARE_OPS:  # setup, not timed
        operands = await share_inputs(
            ctx, mine, owners=owners(op, ctx.n), shape=(size,), bounds=BOUNDS
        )
    if op not in ("input", "sum"):
        mine = None  # only the sharing above needs it
    plan = material_plan(op, size)
    online_s: list[float] = []
    online_cpu: list[float] = []  # this process's CPU (user + system) in the same window
    offline_s: list[float] = []
    sums: list[np.ndarray] = []
    counts = None
    offline_bytes = 0
    for r in range(repeat):
        rep = ctx.scope(f"rep{r}")
        t0 = time.perf_counter()
        queue = await prefetch(rep, plan)
        offline_s.append(time.perf_counter() - t0)
        offline_bytes = ctx.ledger.total(OFFLINE, str(rep.path)).bytes_received
        await rep.scope("barrier").broadcast(np.zeros(1, dtype=np.uint64))
        opctx = rep.scope("op")
        t0 = time.perf_counter()
        c0 = time.process_time()
        out = await _run_op(Prefetched(opctx, queue), op, size, mine, operands)
        online_s.append(time.perf_counter() - t0)
        online_cpu.append(time.process_time() - c0)
        if queue:
            raise LocalProtocolError("bench: prefetched material was left over")
        counts = ctx.ledger.total(ONLINE, str(opctx.path))
        sums.append(checksum(out.share))
        del out
        # Nobody fetches the next repetition's material (the dealer makes it meanwhile) while a
        # slower party is still timing this one.
        await rep.scope("done").broadcast(np.zeros(1, dtype=np.uint64))
        mark_progress(ctx, r + 1, repeat)
    # A checksum is a ring value mod 2^64 by design: declared over the whole ring.
    total = Shared(np.concatenate(sums), 0, RING_MIN, RING_MAX)
    got = await ctx.reveal("checksum", total, to=["party:1"])
    report: dict[str, Any] = {
        "op": op,
        "size": size,
        "repeat": repeat,
        "parties": ctx.n,
        "online_seconds": online_s,
        "online_cpu_seconds": online_cpu,
        "offline_seconds": offline_s,
        "online": counts.as_dict() if counts is not None else {},
        "offline_bytes_received": int(offline_bytes),
        "offline": ctx.ledger.total(OFFLINE, str(rep.path)).as_dict(),
        "expected_rounds": expected_rounds(op, size),
    }
    if got is not None:
        want = np.tile(checksum(expected_result(op, seed, size, ctx.n)), repeat)
        report["verified"] = bool(np.array_equal(np.asarray(got).view(np.uint64), want))
        ctx.outputs.pop("checksum", None)
    ctx.outputs["bench"] = report


__all__ = [
    "COMPARE_OPS",
    "OPS",
    "PROGRESS_MARK",
    "Prefetched",
    "bench_job",
    "expected_result",
    "expected_rounds",
    "material_plan",
    "test_data",
]
