"""Static rules over the package sources: no pickle, no eval/exec, no numpy randomness, no asserts.

These are grep/AST checks over ``mpc_runtime/`` and ``protocols/`` (the shipped code), so a
regression is caught in review-sized diffs, not in production.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import mpc_runtime
import protocols

ROOTS = [Path(mpc_runtime.__file__).parent, Path(protocols.__file__).parent]
SOURCES = sorted(p for root in ROOTS for p in root.rglob("*.py"))
REPO = ROOTS[0].parent

# The one known exception: the benchmark derives PUBLIC operands from a public seed with
# numpy's generator (never a share, mask or seed).  Anything else here is a finding.
NUMPY_RANDOM_ALLOWED: set[str] = set()

UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "marshal",
    "shelve",
    "jsonpickle",
}


def _rel(p: Path) -> str:
    return p.relative_to(REPO).as_posix()


def _code_lines(p: Path) -> list[tuple[int, str]]:
    """Source lines with comments stripped (docstrings may mention what the code refuses)."""
    out = []
    for i, line in enumerate(p.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        if code.strip():
            out.append((i, code))
    return out


def test_sources_found() -> None:
    assert len(SOURCES) > 20
    assert any(p.name == "session.py" for p in SOURCES)


def test_no_pickle_import() -> None:
    hits = []
    for p in SOURCES:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] in UNSAFE_MODULES:
                    hits.append(f"{_rel(p)}:{node.lineno}: import {name}")
    assert hits == []


def test_no_pickle_use() -> None:
    pat = re.compile(r"\b(c?[pP]ickle|dill|marshal|shelve)\.")
    hits = [f"{_rel(p)}:{i}" for p in SOURCES for i, code in _code_lines(p) if pat.search(code)]
    assert hits == []


def test_no_eval_or_exec() -> None:
    hits = []
    for p in SOURCES:
        for node in ast.walk(ast.parse(p.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"eval", "exec", "compile", "__import__"}
            ):
                hits.append(f"{_rel(p)}:{node.lineno}: {node.func.id}()")
    text_hits = [
        f"{_rel(p)}:{i}"
        for p in SOURCES
        for i, code in _code_lines(p)
        if re.search(r"(?<![\w.])eval\(", code)
    ]
    assert hits == [] and text_hits == []


def test_no_numpy_random_in_package_code() -> None:
    pat = re.compile(r"\b(np|numpy)\.random\b|from numpy import random|import numpy\.random")
    hits = [
        f"{_rel(p)}:{i}"
        for p in SOURCES
        if _rel(p) not in NUMPY_RANDOM_ALLOWED
        for i, code in _code_lines(p)
        if pat.search(code)
    ]
    assert hits == []


def test_no_stdlib_random_in_package_code() -> None:
    hits = []
    for p in SOURCES:
        for node in ast.walk(ast.parse(p.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if "random" in names:
                hits.append(f"{_rel(p)}:{node.lineno}")
    assert hits == []


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.name)
def test_no_assert_for_validation(root: Path) -> None:
    """Asserts vanish under ``python -O``; validation must raise."""
    hits = [
        f"{_rel(p)}:{n.lineno}"
        for p in sorted(root.rglob("*.py"))
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, ast.Assert)
    ]
    assert hits == []
