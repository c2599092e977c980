"""Static rules for the sharing package: its randomness source and its imports."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import mpc_runtime
import mpc_runtime.sharing

PKG = pathlib.Path(mpc_runtime.__file__).parent
SHARING = pathlib.Path(mpc_runtime.sharing.__file__).parent
FORBIDDEN_IMPORTS = {"asyncio", "ssl", "socket", "random", "pickle"}
ALLOWED_TOP = {
    "numpy",
    "cryptography",
    "mpc_runtime",
    "__future__",
    "os",
    "collections",
    "dataclasses",
    "typing",
    "fractions",
    "math",
    "decimal",
    "functools",
}


def test_no_numpy_random_in_package() -> None:
    hits = [
        f"{p.relative_to(PKG)}:{i}"
        for p in PKG.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "np.random" in line or "numpy.random" in line
    ]
    assert hits == []


def test_sharing_imports() -> None:
    for path in SHARING.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN_IMPORTS, (path.name, name)
                assert top in ALLOWED_TOP, (path.name, name)
                if top == "mpc_runtime":
                    assert name == "mpc_runtime.errors" or name.startswith("mpc_runtime.sharing")


def test_no_assert_in_package() -> None:
    for path in SHARING.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert not any(isinstance(n, ast.Assert) for n in ast.walk(tree)), path.name


def test_import_pulls_no_network_modules() -> None:
    code = (
        "import sys; import mpc_runtime.preprocessing.dealer.algebra, mpc_runtime.sharing.beaver, "
        "mpc_runtime.sharing.additive, mpc_runtime.sharing.ring, mpc_runtime.sharing.samplers; "
        "print(','.join(m for m in ('asyncio', 'ssl', 'socket') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
