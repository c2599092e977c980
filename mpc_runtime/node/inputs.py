"""A party's private inputs: parsed from flags or a file, checked against the job spec.

Checking happens at the input's owner before any share leaves it: a missing or unknown input,
a wrong shape, a value outside the documented range, NaN or infinity each give one clear
:class:`~mpc_runtime.errors.InputError` that names the input but never shows its value.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mpc_runtime.errors import InputError
from mpc_runtime.sharing.ring import encode_fixed, encode_int


def _parse_value(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"{what}: not a number or a JSON list") from None


def parse_input_flags(flags: Sequence[str], names: Sequence[str]) -> dict[str, Any]:
    """``--input 3800`` (when this party has one input) or ``--input name=3800``."""
    out: dict[str, Any] = {}
    for flag in flags:
        name, sep, text = flag.partition("=")
        if not sep:
            if len(names) != 1:
                raise InputError(
                    "this party has "
                    + (f"inputs {', '.join(names)}" if names else "no inputs")
                    + "; use --input NAME=VALUE"
                )
            name, text = names[0], flag
        name = name.strip()
        if name in out:
            raise InputError(f"input {name!r} given twice")
        out[name] = _parse_value(text.strip(), f"input {name!r}")
    return out


def read_input_file(path: str | Path) -> dict[str, Any]:
    """Inputs from a JSON or TOML file holding a table of name = value."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{p}: cannot read input file ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        data = tomllib.loads(raw.decode()) if p.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InputError(
            f"{p}: not a valid {'TOML' if p.suffix == '.toml' else 'JSON'} file"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: must hold a table of input name = value")
    return data


def check_inputs(given: dict[str, Any], declared: Sequence[Any]) -> dict[str, Any]:
    """Validate ``given`` against this party's declared inputs (objects with name/kind/shape)."""
    by_name = {d.name: d for d in declared}
    for name in given:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise InputError(f"input {name!r} is not declared for this party (declared: {known})")
    out: dict[str, Any] = {}
    for name, decl in by_name.items():
        if name not in given:
            raise InputError(f"input {name!r} is missing (give it with --input or --input-file)")
        value = given[name]
        arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
        shape = tuple(getattr(decl, "shape", ()) or ())
        if arr.shape != shape:
            raise InputError(f"input {name!r} must have shape {shape}, got {arr.shape}")
        try:
            if getattr(decl, "kind", "int") == "fixed":
                encode_fixed(arr, getattr(decl, "frac_bits", 16))
            else:
                if (
                    arr.dtype.kind == "f"
                    and np.all(np.isfinite(arr))
                    and np.all(arr == np.round(arr))
                ):
                    if arr.size and float(np.max(np.abs(arr))) >= 2.0**62:
                        raise InputError("a value is outside the integer range [-2**62, 2**62 - 1]")
                    arr = arr.astype(np.int64)
                encode_int(arr)
        except InputError as exc:
            raise InputError(f"input {name!r}: {exc.message}") from None
        out[name] = arr if arr.shape else arr.item()
    return out
