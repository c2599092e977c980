"""One MPyC party of the side-by-side benchmark (launched 3 times by mpyc_compare.py).

Run as ``python mpyc_party.py -M3 -I<i> -B<port> --no-log`` with the workload in the
environment: ``BENCH_OP`` (sum | mul | lt), ``BENCH_SIZE``, ``BENCH_SEED`` (public), and
``BENCH_REPEAT``.  Uses MPyC 0.11's NumPy-backed secure arrays (``secint.array`` /
``mpc.np_*``), its fastest vector path, with 32-bit ``SecInt``.  Prints one JSON line:
the online seconds per repetition (time from the operation to its result shares being ready,
i.e. ``await mpc.gather`` of the result; MPyC has no separate offline phase: its randomness
comes from PRSS online) and a checksum of the opened result that party 0 checks against numpy,
and its resident memory like ``mpc bench``: ``idle_rss_bytes`` once connected (after
``mpc.start()``, before the test data) and ``peak_rss_bytes`` at the end (``ru_maxrss``).

The test data is public (derived from BENCH_SEED); numpy's generator makes test data only.
"""

from __future__ import annotations

import json
import os
import resource
import time

import numpy as np
from mpyc.runtime import mpc


def data(seed: int, party: int, size: int, op: str) -> np.ndarray:
    rng = np.random.default_rng([seed, party])  # allowed: benchmark test data, never a share
    bits = 15 if op == "mul" else 30  # products and differences stay within 32-bit secint
    return rng.integers(-(1 << bits), 1 << bits, size=size, dtype=np.int64)


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux ``ru_maxrss`` is in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


async def main() -> None:
    op = os.environ["BENCH_OP"]
    size = int(os.environ["BENCH_SIZE"])
    seed = int(os.environ.get("BENCH_SEED", "1"))
    repeat = int(os.environ.get("BENCH_REPEAT", "1"))
    secint = mpc.SecInt(32)
    await mpc.start()
    idle = peak_rss_bytes()
    me = mpc.pid
    m = len(mpc.parties)
    senders = list(range(m)) if op == "sum" else [0, 1]
    mine = data(seed, me, size, op) if me in senders else np.zeros(size, dtype=np.int64)
    times = []
    ok = True
    for _ in range(repeat):
        await mpc.barrier()
        if op == "sum":
            t0 = time.perf_counter()
            xs = mpc.input(secint.array(mine), senders=senders)
            z = xs[0]
            for x in xs[1:]:
                z = z + x
            await mpc.gather(z)
            times.append(time.perf_counter() - t0)
        else:
            x, y = mpc.input(secint.array(mine), senders=senders)
            await mpc.gather(x, y)  # sharing inputs is setup here, as in `mpc bench`
            await mpc.barrier()
            t0 = time.perf_counter()
            z = x * y if op == "mul" else x < y
            await mpc.gather(z)
            times.append(time.perf_counter() - t0)
        out = await mpc.output(z)
        want_parts = [data(seed, p, size, op) for p in senders]
        if op == "sum":
            want = np.sum(want_parts, axis=0)
        elif op == "mul":
            want = want_parts[0] * want_parts[1]
        else:
            want = (want_parts[0] < want_parts[1]).astype(np.int64)
        ok = ok and bool(np.array_equal(np.asarray(out, dtype=np.int64), want))
    await mpc.shutdown()
    report = {
        "party": me,
        "op": op,
        "size": size,
        "online_seconds": times,
        "ok": ok,
        "idle_rss_bytes": idle,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    mpc.run(main())
