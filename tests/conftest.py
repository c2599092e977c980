"""Shared fixtures: the repo root on sys.path (for ``tests.helpers``) and throwaway clusters."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "tests" / "unit" / "wire"):  # the latter: `import wire_strategies`
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.helpers.cluster import write_cluster  # noqa: E402


@pytest.fixture
def make_cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``make_cluster(n=3, connect=..., round_timeout=..., max_frame_bytes=...)`` -> (path, cfg)."""
    counter = iter(range(1000))

    def make(n: int = 3, **kw):  # type: ignore[no-untyped-def]
        d = tmp_path / f"cluster{next(counter)}"
        d.mkdir()
        return write_cluster(d, n, **kw)

    return make
