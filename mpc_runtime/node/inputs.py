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
    except FileNotFoundError:
        raise InputError(f"{p}: input file not found") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, expected an input file") from None
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
    """Validate ``given`` against this party's declared inputs (:class:`InputSpec` s): every
    declared input present, nothing undeclared, the right shape, and every value inside its
    declared bounds.  One InputError naming the input (never its value)."""
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
        shape = tuple(decl.shape)
        if arr.shape != shape:
            raise InputError(f"input {name!r} must have shape {shape}, got {arr.shape}")
        if decl.kind == "int" and arr.dtype.kind == "f":
            finite = bool(np.all(np.isfinite(arr)))
            if (
                finite
                and np.all(arr == np.round(arr))
                and float(np.max(np.abs(arr), initial=0)) < 2.0**62
            ):
                arr = arr.astype(np.int64)
        lo, hi = decl.encoded_bounds()
        f = decl.scale_bits
        try:
            enc = encode_fixed(arr, f) if decl.kind == "fixed" else encode_int(arr)
        except InputError as exc:
            if "range" not in exc.message:  # NaN, a float for an int, a string...
                raise InputError(f"input {name!r}: {exc.message}") from None
            raise InputError(  # beyond 64 bits: out of its (narrower) declared bounds too
                f"input {name!r}: a value is outside its declared bounds {decl.describe_bounds()}"
            ) from None
        signed = enc.view(np.int64)
        bad = int(np.count_nonzero((signed < lo) | (signed > hi)))
        if bad:
            are = "values are" if signed.size != 1 else "value is"
            raise InputError(
                f"input {name!r}: {bad} of {signed.size} {are} outside its declared bounds"
                f" {decl.describe_bounds()}"
            )
        out[name] = arr if arr.shape else arr.item()
    return out
