"""Finding a job's program: ``package.module:function`` or ``path/to/file.py:function``.

A program is a plain ``async def f(ctx) -> None`` that runs identically on every party.  It is
imported only when a party is about to run it; nothing here runs at import time.  For a file
program the job spec carries the SHA-256 of the file, and a party refuses to run a file whose
source differs: every party must run the same code.  File paths are looked up relative to the
current directory, then to the job spec's directory.

May import: errors (and importlib).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from mpc_runtime.errors import ConfigError

__all__ = ["Program", "find_file", "load_module", "resolve_program", "source_sha256"]

Program = Callable[[Any], Awaitable[Any]]


def _split(ref: str) -> tuple[str, str]:
    mod, sep, func = ref.rpartition(":")
    if not sep or not mod or not func.isidentifier():
        raise ConfigError(
            f"program {ref!r} must look like package.module:function or file.py:function"
        )
    return mod, func


def find_file(ref: str, search: Sequence[Path] = ()) -> Path:
    """The file of a file program, looked up in the current directory, then in ``search``."""
    mod, _ = _split(ref)
    rel = Path(mod)
    for base in (Path.cwd(), *search):
        candidate = rel if rel.is_absolute() else base / rel
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"program file {mod} not found")


def load_module(ref: str, search: Sequence[Path] = ()) -> ModuleType:
    """Import the module part of a program reference (a dotted name or a .py file)."""
    mod, _ = _split(ref)
    if mod.endswith(".py"):
        path = find_file(ref, search)
        name = f"mpc_user_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
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
            del sys.modules[name]
            raise ConfigError(f"program file {mod}: syntax error on line {exc.lineno}") from None
        except Exception as exc:
            del sys.modules[name]
            raise ConfigError(
                f"program file {mod} failed to import: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        return module
    try:
        return importlib.import_module(mod)
    except ModuleNotFoundError:
        raise ConfigError(f"program module {mod!r} not found") from None


def source_sha256(ref: str, search: Sequence[Path] = ()) -> str:
    """SHA-256 of the program's source file (empty string if the module has none)."""
    mod, _ = _split(ref)
    if mod.endswith(".py"):
        path: Path | None = find_file(ref, search)
    else:
        file = getattr(load_module(ref), "__file__", None)
        path = Path(file) if file else None
    if path is None:
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resolve_program(
    ref: str, expected_sha256: str | None = None, search: Sequence[Path] = ()
) -> Program:
    """The coroutine function a reference names.

    ConfigError if it is missing or not async, or if a file program's source does not have the
    SHA-256 the job spec requires (file programs must carry one).
    """
    mod, func = _split(ref)
    if mod.endswith(".py"):
        if expected_sha256 is None:
            raise ConfigError(
                f"program {ref!r} is a file: the job spec must give its program_sha256"
            )
        actual = source_sha256(ref, search)
        if actual != expected_sha256:
            raise ConfigError(
                f"program file {mod} has SHA-256 {actual[:12]}…, the job spec requires"
                f" {expected_sha256[:12]}…: every party must run the same code"
            )
    module = load_module(ref, search)
    fn = getattr(module, func, None)
    if fn is None:
        raise ConfigError(f"program {ref!r}: {module.__name__} has no function {func!r}")
    if not inspect.iscoroutinefunction(fn):
        raise ConfigError(f"program {ref!r} must be an async function taking a context")
    program: Program = fn
    return program
