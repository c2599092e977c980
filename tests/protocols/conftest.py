"""Every protocol test runs under both preprocessing providers: the dealer and OT.

Tests marked ``dealer_only`` (very large batches, or dealer budgets) run with the dealer only;
the OT engine's own tests cover its material at scale.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpc_runtime.runtime import memory


@pytest.fixture(autouse=True, params=["dealer", "ot"])
def provider(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "ot" and request.node.get_closest_marker("dealer_only"):
        pytest.skip("dealer-only test (material at a scale the OT engine's own tests cover)")
    old = memory.DEFAULT_PROVIDER["name"]
    memory.DEFAULT_PROVIDER["name"] = request.param
    try:
        yield request.param
    finally:
        memory.DEFAULT_PROVIDER["name"] = old
