"""Job programs for private set intersection: the circuit method (n parties) and DH (2 parties).

Inputs, declared per set owner in the job spec:

* ``ids``: the owner's identifiers, shape ``[m]`` (m: the owner's public size).  Through ``mpc
  party`` they are integers (declare ``min = -1``, ``max = 2^62 - 1``; ``-1`` marks an empty
  slot); in memory also strings or bytes.  They are hashed with the public ``params["salt"]``
  (:mod:`protocols.psi.hashing`).
* ``payload`` (circuit method, optional): one integer per identifier, with declared bounds.

Parameters: ``salt`` (required, a string), ``outputs`` (which outputs to compute, default
``["cardinality"]``; every one must also be declared in the job's outputs), and for DH
``receiver`` (required: the owner that computes the outputs; it must be a recipient of each)
and ``threads`` (X25519 worker threads per party, default 1; see :mod:`protocols.psi.dh`).

Outputs (each revealed once, only to the recipients the job names):

* ``cardinality`` - how many identifiers every owner holds (an integer).
* ``payload_sum`` - the sum of every owner's payloads over the common identifiers (circuit).
* ``intersection`` - the common identifiers' keys + 1 in ascending order, then zeros, length the
  smallest declared size.  A party reads them back with :func:`protocols.psi.hashing.lookup`.

Costs: :mod:`protocols.psi.circuit` (and :mod:`protocols.psi.costs`) and :mod:`protocols.psi.dh`.

May import: numpy, ``mpc_runtime.runtime``, ``mpc_runtime.errors``, ``protocols``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_runtime.errors import BoundsError, UsageError
from mpc_runtime.runtime import Context, InputDecl
from protocols.apps import bounds, privacy
from protocols.psi.circuit import circuit_psi
from protocols.psi.dh import dh_psi
from protocols.psi.hashing import (
    KEY_BITS,
    MAX_COLLISION,
    collision_bound,
    offsets,
    prepare_set,
    salt_bytes,
)
from protocols.types import RING_MAX, Shared

__all__ = ["CIRCUIT_OUTPUTS", "DH_OUTPUTS", "circuit_psi_job", "dh_psi_job"]

CIRCUIT_OUTPUTS = ("cardinality", "payload_sum", "intersection")
DH_OUTPUTS = ("cardinality", "intersection")


def _sizes(decls: Sequence[InputDecl]) -> dict[int, int]:
    sizes = {}
    for d in decls:
        if d.name == "ids":
            if len(d.shape) != 1 or d.shape[0] < 1:
                raise UsageError("input 'ids' must be declared with a shape [m], m >= 1")
            sizes[d.party] = int(d.shape[0])
    if len(sizes) < 2:
        raise UsageError("set intersection needs input 'ids' declared for at least two parties")
    return sizes


def _payloads(decls: Sequence[InputDecl], sizes: dict[int, int]) -> dict[int, tuple[int, int]]:
    out = {}
    for d in decls:
        if d.name == "payload":
            if d.party not in sizes or tuple(d.shape) != (sizes[d.party],):
                raise UsageError("input 'payload' must have the shape of the same party's 'ids'")
            if d.frac_bits:
                raise UsageError("payloads are integers")
            out[d.party] = (int(d.lo), int(d.hi))
    return out


def _wanted(params: dict[str, Any], allowed: Sequence[str]) -> list[str]:
    raw = params.get("outputs", ["cardinality"])
    if not isinstance(raw, list) or not raw or len(set(map(str, raw))) != len(raw):
        raise UsageError("params['outputs'] must be a non-empty list of distinct output names")
    bad = [str(x) for x in raw if x not in allowed]
    if bad:
        raise UsageError(f"params['outputs']: {bad[0]!r} is not one of {', '.join(allowed)}")
    return [str(x) for x in raw]


def _common_checks(sizes: dict[int, int], params: dict[str, Any]) -> None:
    salt_bytes(params.get("salt"))
    bound = collision_bound(sizes.values())
    if bound > MAX_COLLISION:
        raise BoundsError(
            f"{sum(sizes.values())} identifiers in all could collide in the 62-bit keys with"
            f" probability up to {bound:.2g} (the limit is 2^-20); use smaller sets"
        )


def check_circuit(decls: list[InputDecl], params: dict[str, Any]) -> None:
    """Before the job starts (every party): sizes, salt, outputs, collision and sum bounds."""
    sizes = _sizes(decls)
    _common_checks(sizes, params)
    want = _wanted(params, CIRCUIT_OUTPUTS)
    pay = _payloads(decls, sizes)
    if "payload_sum" in want and not pay:
        raise UsageError("output 'payload_sum' needs input 'payload' declared for some party")
    if pay:
        worst = min(sizes.values()) * sum(max(abs(lo), abs(hi)) for lo, hi in pay.values())
        if worst > RING_MAX:
            raise BoundsError(
                "output 'payload_sum' could leave the ring's safe range ±2^63; narrow the"
                " payloads' declared bounds"
            )


def check_dh(decls: list[InputDecl], params: dict[str, Any]) -> None:
    """Before the job starts: two owners, salt, outputs, a receiver among the owners."""
    sizes = _sizes(decls)
    if len(sizes) != 2:
        raise UsageError("DH set intersection takes exactly two set owners")
    _common_checks(sizes, params)
    _wanted(params, DH_OUTPUTS)
    _receiver(params, sizes)
    _threads(params)


def _threads(params: dict[str, Any]) -> int:
    t = params.get("threads", 1)
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 64:
        raise UsageError("params['threads'] must be an integer in 1..64")
    return t


def _receiver(params: dict[str, Any], sizes: dict[int, int]) -> int:
    r = params.get("receiver")
    if isinstance(r, bool) or not isinstance(r, int) or r not in sizes:
        raise UsageError("params['receiver'] must be the id of one of the two set owners")
    return r


def _notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    notes = ["the declared set sizes are public; how many identifiers a party really holds is not"]
    for name, rs in sorted(recipients.items()):
        who = ", ".join(rs)
        if name == "cardinality":
            notes.append(f"{who} learn how many identifiers all the parties have in common")
        elif name == "payload_sum":
            notes.append(
                f"{who} learn the sum of the payloads over the common identifiers (with one"
                " common identifier, its payloads)"
            )
        elif name == "intersection":
            notes.append(
                f"{who} learn the common identifiers as salted keys; the salt is public, so a"
                " guessed identifier can be tested against them"
            )
    return notes


def _dh_notes(n: int, params: dict[str, Any], recipients: dict[str, list[str]]) -> list[str]:
    r = params.get("receiver")
    if isinstance(r, bool) or not isinstance(r, int):
        raise UsageError("DH set intersection needs params['receiver'] (a party id)")
    label = f"party:{r}"
    for name, rs in recipients.items():
        if label not in rs:
            raise UsageError(
                f"DH set intersection: {label} computes output {name!r} itself, so the job"
                " must name it as a recipient"
            )
    return [
        *_notes(n, params, recipients),
        f"{label} computes every output itself; the other party learns only the set sizes",
    ]


@bounds(check_circuit)
@privacy(_notes)
async def circuit_psi_job(ctx: Context) -> None:
    """Circuit PSI among every owner of ``ids``; reveals ``params['outputs']``."""
    decls = ctx.declared_inputs("ids") + ctx.declared_inputs("payload")
    check_circuit(decls, ctx.params)
    sizes = _sizes(decls)
    pay = _payloads(decls, sizes)
    want = _wanted(ctx.params, CIRCUIT_OUTPUTS)
    me, salt = ctx.party_id, ctx.params["salt"]
    mine = None
    if me in sizes:
        mine = prepare_set(
            ctx.inputs.get("ids"),
            salt=salt,
            size=sizes[me],
            offset=offsets(sizes)[me],
            payloads=ctx.inputs.get("payload") if me in pay else None,
            payload_bounds=pay.get(me),
        )
    res = await circuit_psi(ctx, mine, sizes=sizes, payloads=pay, want=want)
    values = {
        "cardinality": res.cardinality,
        "payload_sum": res.payload_sum,
        "intersection": res.intersection,
    }
    for name in want:
        value = values[name]
        if value is not None:
            await ctx.reveal(name, value)


@bounds(check_dh)
@privacy(_dh_notes)
async def dh_psi_job(ctx: Context) -> None:
    """DH PSI between the two owners of ``ids``; the receiver reveals ``params['outputs']``."""
    decls = ctx.declared_inputs("ids")
    check_dh(decls, ctx.params)
    sizes = _sizes(decls)
    want = _wanted(ctx.params, DH_OUTPUTS)
    receiver = _receiver(ctx.params, sizes)
    me, salt = ctx.party_id, ctx.params["salt"]
    mine = prepare_set(ctx.inputs.get("ids"), salt=salt, size=sizes[me], offset=offsets(sizes)[me])
    res = await dh_psi(
        ctx,
        mine,
        receiver=receiver,
        sizes=sizes,
        salt=salt,
        cardinality_only="intersection" not in want,
        workers=_threads(ctx.params),
    )
    width = min(sizes.values())
    card = np.zeros((), dtype=np.uint64)
    inter = np.zeros(width, dtype=np.uint64)
    if me == receiver and res.count is not None:
        card[()] = res.count
        if res.matched is not None:
            keys = np.sort(mine.keys[res.matched]) + 1
            inter[: keys.size] = keys.astype(np.uint64)
    values = {
        "cardinality": Shared(card, 0, 0, width),
        "intersection": Shared(inter, 0, 0, 2**KEY_BITS),
    }
    for name in want:
        await ctx.reveal(name, values[name])
