"""Mechanisms applied inside MPC: randomized response with secret coins, report-noisy-max, and
noisy sums released through the reveal policy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mpc_runtime.errors import ProgramError, UnauthorizedReveal
from mpc_runtime.runtime import InputDecl
from mpc_runtime.runtime.dp import NoiseDecl
from mpc_runtime.runtime.memory import run_memory
from protocols.apps import approval_job, secure_sum_job
from protocols.dp import randomized_response
from protocols.io import share_input

RR = NoiseDecl.of("randomized_response", math.log(3), 0, None)


async def _rr(answers: np.ndarray) -> float:
    m = answers.size

    async def job(ctx: Any) -> None:
        x = await share_input(ctx, ctx.inputs.get("x"), owner=1, shape=(m,), bounds=(0, 1))
        await randomized_response(ctx, "estimate", x)

    runs = await run_memory(
        3, job, inputs=[{"x": answers}, {}, {}], outputs={"estimate": ["party:2"]},
        noise={"estimate": RR},
    )  # fmt: skip
    assert runs[0].outputs == {} and runs[2].outputs == {}
    return float(runs[1].outputs["estimate"])


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
async def test_randomized_response_is_unbiased(fraction: float) -> None:
    m = 4000
    answers = (np.arange(m) < int(fraction * m)).astype(np.int64)
    est = await _rr(answers)
    q = fraction / 2 + 0.25  # P(randomized yes)
    sd = math.sqrt(4 * q * (1 - q) / m)
    assert abs(est - fraction) < 5 * sd


async def test_randomized_response_differs_between_runs() -> None:
    answers = np.ones(500, dtype=np.int64)
    assert len({await _rr(answers) for _ in range(4)}) > 1


async def test_report_noisy_max_finds_a_clear_winner_and_reveals_only_it() -> None:
    k = 300
    tallies = [np.zeros(k, dtype=np.int64) for _ in range(3)]
    for t in tallies:
        t[:] = 10
        t[217] = 60  # ahead by 150 in total: far beyond noise of scale 2
    decls = [InputDecl(p, "tally", "int", (k,), 0, 0, 100) for p in (1, 2, 3)]
    runs = await run_memory(
        3, approval_job, inputs=[{"tally": t} for t in tallies], declared=decls,
        outputs={"winner": ["party:1", "party:3"]},
        noise={"winner": NoiseDecl.of("report_noisy_max", 1.0, 0, None)},
    )  # fmt: skip
    assert int(runs[0].outputs["winner"]) == int(runs[2].outputs["winner"]) == 217
    assert runs[1].outputs == {}


async def test_a_noisy_sum_varies_and_an_unnoised_selection_is_refused() -> None:
    decls = [InputDecl(p, "value", "int", (), 0, 0, 10) for p in (1, 2, 3)]
    inputs = [{"value": v} for v in (3, 4, 5)]
    noise = {"total": NoiseDecl.of("laplace", 0.5, 0, None)}
    seen = set()
    for _ in range(5):
        runs = await run_memory(
            3, secure_sum_job, inputs=inputs, declared=decls, outputs={"total": ["party:1"]},
            noise=noise,
        )  # fmt: skip
        seen.add(int(runs[0].outputs["total"]))
    assert len(seen) > 1  # scale 20: the same inputs give different releases

    rnm = {"total": NoiseDecl.of("report_noisy_max", 1.0, 0, None)}
    runs = await run_memory(
        3, secure_sum_job, inputs=inputs, declared=decls, outputs={"total": ["party:1"]},
        noise=rnm, return_exceptions=True,
    )  # fmt: skip
    errors = [r.error for r in runs]
    assert all(isinstance(e, UnauthorizedReveal | ProgramError) for e in errors)
