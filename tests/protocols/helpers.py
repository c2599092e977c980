"""Shared helpers for protocol tests (not a test module)."""

from __future__ import annotations

from typing import Any

NS = [2, 3, 5]


def labels(n: int) -> list[str]:
    return [f"party:{p}" for p in range(1, n + 1)]


def outputs(n: int, *names: str) -> dict[str, list[str]]:
    return {name: labels(n) for name in names}


def cost(run: Any, prefix: str) -> Any:
    """Online counts of one party under an op path prefix."""
    return run.ledger.total(prefix=prefix)


def decls(
    n: int,
    name: str,
    *,
    lo: int = -(2**31 - 1),
    hi: int = 2**31 - 1,
    shape: tuple[int, ...] = (),
    parties: list[int] | None = None,
) -> list[Any]:
    """Public declarations of integer input ``name`` for parties 1..n (or ``parties``)."""
    from mpc_runtime.runtime import InputDecl

    return [InputDecl(p, name, "int", shape, 0, lo, hi) for p in (parties or range(1, n + 1))]
