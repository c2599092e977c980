"""The private XGBoost demos as a user runs them: real processes over TLS, honest numbers.

Runs ``python -m mpc_runtime.cli.demo_xgboost`` (the same ``run`` that ``mpc demo xgboost`` /
``mpc demo xgboost-train`` call once ``register`` is wired into ``cmd_demo``) at small sizes:
training must match plaintext xgboost on the same bins (test AUC within 0.01, the same
predicted classes), inference must match ``Booster.predict``; only the recipient learns the
model (or the client its margins); the cost lines are printed; bad arguments are one line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers.procs import REPO

pytest.importorskip("xgboost")
pytest.importorskip("sklearn")


def _demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpc_runtime.cli.demo_xgboost", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return float(m.group(1))


def test_training_vertical_matches_xgboost_and_only_the_recipient_learns() -> None:
    r = _demo(
        "xgboost-train",
        "--rows",
        "300",
        "--features",
        "6",
        "--depth",
        "2",
        "--trees",
        "2",
        "--split",
        "vertical",
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert abs(_number(r"difference ([+-][0-9.]+)\)", out)) <= 0.01
    classes = re.search(r"same predicted class for (\d+)/(\d+)", out)
    assert classes and classes.group(1) == classes.group(2)
    assert "party 1 (the recipient) learned the model; parties 2 and 3 learned nothing" in out
    assert re.search(r"per tree: [0-9.]+ s mean, [0-9.]+ s max; \d+ rounds", out)


@pytest.mark.parametrize("split", ["vertical", "horizontal"])
def test_the_training_spec_is_a_valid_job(split: str) -> None:
    """The spec the demo writes (no processes): valid, and the job reads the right layout."""
    import argparse

    from mpc_runtime.cli import demo_xgboost as demo
    from mpc_runtime.jobs.spec import parse_spec
    from protocols.trees.jobs import layout_from_declarations

    args = argparse.Namespace(
        rows=40,
        features=5,
        depth=2,
        trees=1,
        split=split,
        max_bin=8,
        eta=0.3,
        mode="auto",
        comparison="tree",
    )
    X, y, _, _ = demo._training_data(args)
    spec, inputs = demo._training_spec(args, X, y)
    job = parse_spec(spec, "demo")
    decls = job.input_decls()

    class Ctx:
        params = spec["params"]

        def declared_inputs(self, name: str) -> list[Any]:
            return sorted((d for d in decls if d.name == name), key=lambda d: d.party)

    layout = layout_from_declarations(Ctx(), 8)  # type: ignore[arg-type]
    assert (layout.split, layout.n_rows, layout.n_features) == (split, 40, 5)
    if split == "vertical":
        assert layout.feature_owners == (1, 2, 2, 3, 3) and layout.label_owner == 1
        assert set(inputs[0]) == {"X", "y"} and set(inputs[1]) == {"X"}
    else:
        assert layout.row_counts == ((1, 13), (2, 13), (3, 14))
    assert [o.name for o in job.outputs] == ["model_features", "model_thresholds", "model_leaves"]
    assert all(o.recipients == ["party:1"] for o in job.outputs)


def test_inference_matches_booster_predict() -> None:
    r = _demo(
        "xgboost",
        "--trees",
        "10",
        "--depth",
        "3",
        "--queries",
        "20",
        "--single",
        "2",
        "--batches",
        "2",
    )
    assert r.returncode == 0, r.stderr
    assert _number(r"max \|difference\| from Booster.predict = ([0-9.e+-]+)", r.stdout) < 1e-4
    assert "learned 42 margins" in r.stdout
    assert re.search(r"one query: median [0-9.]+ ms", r.stdout)
    assert re.search(r"batches of 20: first [0-9.]+ s = \d+ queries/s", r.stdout)


def test_bad_arguments_are_one_line() -> None:
    for args, text in (
        (("xgboost-train", "--rows", "5"), "--rows"),
        (("xgboost", "--batches", "0"), "--batches"),
    ):
        r = _demo(*args, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], (args, r.stderr)
