"""Finding a job's program: ``package.module:function`` or ``path/to/file.py:function``.

A program is a plain ``async def f(ctx) -> None`` that runs identically on every party.  It is
imported only when a party is about to run it; nothing here runs at import time.  The hash of the
program's source file goes into the job spec so every party runs the same code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from mpc_runtime.errors import ConfigError

Program = Callable[[Any], Awaitable[Any]]


def _split(ref: str) -> tuple[str, str]:
    mod, sep, func = ref.rpartition(":")
    if not sep or not mod or not func.isidentifier():
        raise ConfigError(
            f"program {ref!r} must look like package.module:function or file.py:function"
        )
    return mod, func


def load_module(ref: str) -> ModuleType:
    """Import the module part of a program reference (a dotted name or a .py file)."""
    mod, _ = _split(ref)
    if mod.endswith(".py"):
        path = Path(mod)
        if not path.is_file():
            raise ConfigError(f"program file {mod} not found")
        name = f"mpc_user_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"program file {mod} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise ConfigError(f"program file {mod}: syntax error on line {exc.lineno}") from None
        return module
    try:
        return importlib.import_module(mod)
    except ModuleNotFoundError:
        raise ConfigError(f"program module {mod!r} not found") from None


def resolve_program(ref: str) -> Program:
    """The coroutine function a reference names; ConfigError if it is missing or not async."""
    module = load_module(ref)
    _, func = _split(ref)
    fn = getattr(module, func, None)
    if fn is None:
        raise ConfigError(f"program {ref!r}: {module.__name__} has no function {func!r}")
    if not inspect.iscoroutinefunction(fn):
        raise ConfigError(f"program {ref!r} must be an async function taking a context")
    return fn


def source_sha256(ref: str) -> str:
    """SHA-256 of the program module's source file (empty string if it has none)."""
    module = load_module(ref)
    path = getattr(module, "__file__", None)
    if not path:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
