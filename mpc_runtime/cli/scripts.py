"""The job spec ``mpc run`` (and ``mpc recipient --program``) builds from a script.

A script is a module or ``file.py`` with ``async def main(ctx)`` and optionally:

* ``OUTPUTS = {"name": "all" | ["party:1", "recipient:analyst", ...]}`` (or ``--output``);
* ``INPUTS = {"value": {"parties": "all" | [1, 2], "kind": "int" | "fixed", "shape": [...],
  "min": ..., "max": ... | "bits": ..., "frac_bits": ...}}``; without it every party gives an
  integer input ``value`` (``--fixed``, ``--shape``, ``--bounds`` change it);
* ``PREPROCESSING = "ot" | "dealer"`` (default: the cluster's).

The spec names the program as given (``examples/richest.py:main``) with the SHA-256 of its
source, so every participant must run the same code; every participant that builds the spec from
the same script and flags gets the same spec hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any

from mpc_runtime.config import ClusterConfig
from mpc_runtime.errors import ConfigError
from mpc_runtime.jobs.spec import JobSpec, parse_spec
from mpc_runtime.node.programs import load_module, source_sha256

__all__ = ["add_script_args", "spec_from_script"]


def add_script_args(p: argparse.ArgumentParser) -> None:
    """The flags that shape the spec built from a script (all participants must agree)."""
    p.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="NAME[=RECIPIENT,...]",
        help="declare an output and who may receive it (default: all parties)",
    )
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=JSON", help="public parameter"
    )
    p.add_argument(
        "--fixed", action="store_true", help="inputs are fixed-point reals, not integers"
    )
    p.add_argument("--shape", default="[]", help="shape of every party's input as JSON, e.g. [3]")
    p.add_argument(
        "--bounds",
        metavar="LO,HI",
        help="public bounds every input value lies in (default: 32-bit values)",
    )


def _outputs(module: Any, flags: list[str], parties: list[int]) -> list[dict[str, Any]]:
    everyone = [f"party:{p}" for p in parties]
    declared: dict[str, Any] = dict(getattr(module, "OUTPUTS", {}) or {})
    for flag in flags:
        name, sep, who = flag.partition("=")
        declared[name] = who.split(",") if sep else "all"
    if not declared:
        raise ConfigError("the script declares no outputs: add OUTPUTS = {...} or --output NAME")
    return [
        {"name": name, "recipients": everyone if who == "all" else list(who)}
        for name, who in declared.items()
    ]


def _inputs(module: Any, args: argparse.Namespace, parties: list[int]) -> list[dict[str, Any]]:
    declared = getattr(module, "INPUTS", None)
    if declared is None:
        try:
            shape = json.loads(args.shape)
        except json.JSONDecodeError:
            raise ConfigError("--shape must be a JSON list such as [3]") from None
        one: dict[str, Any] = {"kind": "fixed" if args.fixed else "int", "shape": shape}
        if args.bounds:
            lo, sep, hi = args.bounds.partition(",")
            try:
                one["min"], one["max"] = json.loads(lo), json.loads(hi)
            except json.JSONDecodeError:
                raise ConfigError("--bounds must look like LO,HI (two numbers)") from None
            if not sep:
                raise ConfigError("--bounds must look like LO,HI (two numbers)")
        declared = {"value": one}
    if not isinstance(declared, dict):
        raise ConfigError("INPUTS must be a dict of input name -> declaration")
    out = []
    for name, given in declared.items():
        decl = dict(given)
        owners = decl.pop("parties", "all")
        for p in parties if owners == "all" else owners:
            out.append({"party": p, "name": name, **decl})
    return out


def _params(flags: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for kv in flags:
        k, sep, v = kv.partition("=")
        if not sep:
            raise ConfigError(f"--param {kv[:40]!r} must look like KEY=JSON")
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    return params


def spec_from_script(program: str, args: argparse.Namespace, cfg: ClusterConfig) -> JobSpec:
    """The job spec for ``program`` with the flags in ``args``, for cluster ``cfg``."""
    module = load_module(program)
    parties = list(cfg.party_ids)
    raw: dict[str, Any] = {
        "program": program,
        "program_sha256": source_sha256(program),
        "params": _params(args.param),
        "inputs": _inputs(module, args, parties),
        "outputs": _outputs(module, args.output, parties),
    }
    pre = getattr(module, "PREPROCESSING", None)
    if pre is not None:
        raw["preprocessing"] = pre
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    raw["job_id"] = f"run-{digest[:16]}"
    return parse_spec(raw, program)
