"""Typed message bodies: HELLO, ABORT and every CONTROL operation as a frozen dataclass.

Sans-IO.  A CONTROL message's body is ``{"op": <name>, <field>: <value>, ...}``; :func:`encode_op`
builds it from a dataclass and :func:`decode_op` turns a decoded body back into one, checking every
field's type and size, so receive loops ``match`` on classes instead of reading dicts.  HELLO and
ABORT bodies are :class:`Hello` and :class:`Abort` (:func:`encode_hello` / :func:`decode_hello`,
:func:`encode_abort` / :func:`decode_abort`).  Decoding failures are :class:`DecodeError` and never
quote a peer's values.

The control operations, by who sends them:

===============  ==================================  ========================================
op               sender -> receiver                  meaning
===============  ==================================  ========================================
join             party/recipient/dealer -> coord     I hold the job spec with this hash
accept / refuse  coordinator -> joiner               admitted, or refused (code, reason)
start            coordinator -> party                every participant is here: compute
sealed           party -> coordinator -> recipient   an output share sealed to the recipient
done             party -> coordinator                finished; here is my ledger
received         recipient -> coordinator            I hold every share meant for me
finished         coordinator -> everyone             the job is complete
material         party -> dealer                     preprocessing request (rid, path, items)
material_reply   dealer -> party                     seed (+ corrections for party 0)
material_error   dealer -> party                     refused (code, reason)
contribute       contributor -> coordinator          sealed packets for every party, a token
batch            coordinator -> party                the next batch: ids, credentials, packets
close            coordinator -> party                the contribution window closed
receipt          coordinator -> contributor          accepted, or refused (code, reason)
serve            party -> coordinator                I serve job after job over one mesh
mesh             coordinator -> serving party        build the mesh of serving session S now
ready            serving party -> coordinator        my mesh of session S is up
submit           recipient -> serving coordinator    run this job spec (hash, spec, run nonce)
offer            coordinator -> serving party        a submitted job (+ run nonces): check it
agree            serving party -> coord, parties     I checked the offered spec (its hash)
job_bye          serving party -> party              this job is over for me (the mesh stays)
job_abort        any -> serving peer                 this job stops, and why (the link stays)
===============  ==================================  ========================================

On a serving cluster the connections outlive the jobs, so a job ends with ``job_bye`` or
``job_abort`` (CONTROL messages carrying the job id) instead of BYE or ABORT, which end the
connection itself.  A ``job_abort`` with an empty job id reports that the sender's mesh failed.
A serving party starts a job once every other party agreed to it over the mesh (no ``start``).

May import: the standard library and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mpc_runtime.errors import DecodeError, LocalProtocolError

__all__ = [
    "Abort",
    "Accept",
    "Agree",
    "Batch",
    "Close",
    "Contribute",
    "ControlOp",
    "Done",
    "Finished",
    "Hello",
    "JobAbort",
    "JobBye",
    "Join",
    "Material",
    "MaterialError",
    "MaterialReply",
    "Mesh",
    "Offer",
    "Ready",
    "Received",
    "Receipt",
    "Refuse",
    "Sealed",
    "Serve",
    "Start",
    "Submit",
    "decode_abort",
    "decode_hello",
    "decode_op",
    "encode_abort",
    "encode_hello",
    "encode_op",
]

MAX_TEXT = 4096
"""Longest string field accepted from a peer."""
REASON_CHARS = 300
"""Reasons are cut to this many characters when sent."""


def short(text: object, limit: int = REASON_CHARS) -> str:
    """A string made safe for one log line: whitespace collapsed, at most ``limit`` characters."""
    return " ".join(str(text).split())[:limit]


@dataclass(frozen=True, slots=True)
class Hello:
    """The first message on every connection: which cluster, and (on the party mesh) which job and
    spec hash.  ``seed``: 16 fresh random bytes per connection; the two ends XOR theirs into the
    pair's seed, from which an input owner derives the other end's share (never logged)."""

    cluster: str
    job: str = ""
    spec: str = ""
    seed: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Abort:
    """Why a participant stops: a category, a one-line reason (never values), who caused it and
    where."""

    code: str
    reason: str
    culprit: str | None = None
    op_path: str | None = None
    round: int | None = None


class ControlOp:
    """Base of the CONTROL operations; ``op`` is the wire name."""

    op: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Join(ControlOp):
    """``nonce``: a recipient's fresh run nonce (binds its sealed outputs to this run)."""

    op: ClassVar[str] = "join"
    spec_hash: str
    spec: dict[str, Any]
    nonce: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Accept(ControlOp):
    op: ClassVar[str] = "accept"


@dataclass(frozen=True, slots=True)
class Refuse(ControlOp):
    op: ClassVar[str] = "refuse"
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Start(ControlOp):
    """``nonces``: each external recipient's run nonce, by label, for sealing its outputs."""

    op: ClassVar[str] = "start"
    nonces: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Sealed(ControlOp):
    """A sealed output share; ``sender`` is filled in by the coordinator from the authenticated
    connection when it forwards the blob."""

    op: ClassVar[str] = "sealed"
    output: str
    recipient: str
    blob: bytes = field(repr=False)
    signature: bytes = field(default=b"", repr=False)
    sender: str = ""


@dataclass(frozen=True, slots=True)
class Done(ControlOp):
    op: ClassVar[str] = "done"
    ledger: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Received(ControlOp):
    op: ClassVar[str] = "received"


@dataclass(frozen=True, slots=True)
class Finished(ControlOp):
    op: ClassVar[str] = "finished"


@dataclass(frozen=True, slots=True)
class Material(ControlOp):
    """A preprocessing request: ``items`` is ``[[kind, shape, frac_bits | None], ...]``."""

    op: ClassVar[str] = "material"
    rid: int
    path: str
    items: list[Any]


@dataclass(frozen=True, slots=True)
class MaterialReply(ControlOp):
    op: ClassVar[str] = "material_reply"
    rid: int
    seed: bytes = field(repr=False)
    corrections: list[Any] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class MaterialError(ControlOp):
    op: ClassVar[str] = "material_error"
    rid: int
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Contribute(ControlOp):
    """A contributor's input: one sealed packet per compute party (by label).  ``cid``: the
    contribution id (16 bytes, derived from the credential).  With token credentials,
    ``public_key`` is the token's P-256 public key and ``signature`` its ECDSA signature over the
    spec hash, the id and every packet's digest; both are empty for certificate credentials."""

    op: ClassVar[str] = "contribute"
    spec_hash: str
    cid: bytes
    public_key: bytes
    signature: bytes = field(repr=False)
    packets: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Batch(ControlOp):
    """Batch ``seq`` of contributions, in the order every party processes them, each with this
    party's packet (still sealed) and what lets the party check the contributor's signature:
    ``credentials[i]`` (``token`` or the certified ``contributor:NAME``), ``public_keys[i]``,
    ``signatures[i]`` and ``digests[i]`` (every party's packet digest, 32 bytes each, in party
    order)."""

    op: ClassVar[str] = "batch"
    seq: int
    ids: list[Any] = field(repr=False)
    credentials: list[Any] = field(repr=False)
    public_keys: list[Any] = field(repr=False)
    signatures: list[Any] = field(repr=False)
    digests: list[Any] = field(repr=False)
    packets: list[Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Close(ControlOp):
    """The contribution window closed after ``batches`` batches."""

    op: ClassVar[str] = "close"
    batches: int
    accepted: int
    refused: int
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Receipt(ControlOp):
    """The coordinator's answer to one :class:`Contribute`: accepted, or refused with a code
    (``not-eligible``, ``used``, ``closed``, ``bad-packet``, ``spec-mismatch``) and a reason."""

    op: ClassVar[str] = "receipt"
    cid: bytes
    accepted: bool
    code: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Serve(ControlOp):
    """A party offers to serve job after job of this cluster over one mesh."""

    op: ClassVar[str] = "serve"


@dataclass(frozen=True, slots=True)
class Mesh(ControlOp):
    """Build the party mesh of serving session ``session`` now (dropping any older mesh)."""

    op: ClassVar[str] = "mesh"
    session: str


@dataclass(frozen=True, slots=True)
class Ready(ControlOp):
    """The sender's mesh of serving session ``session`` is up."""

    op: ClassVar[str] = "ready"
    session: str


@dataclass(frozen=True, slots=True)
class Submit(ControlOp):
    """A recipient submits a job to a serving cluster; ``nonce``: its fresh run nonce (binds
    the sealed outputs meant for it to this submission)."""

    op: ClassVar[str] = "submit"
    spec_hash: str
    spec: dict[str, Any]
    nonce: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Offer(ControlOp):
    """A submitted job offered to a serving party, which checks it as a one-job party would;
    ``nonces``: the submitter's run nonce by label, if the job names outputs for it."""

    op: ClassVar[str] = "offer"
    spec_hash: str
    spec: dict[str, Any]
    nonces: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Agree(ControlOp):
    """The party checked the offered job (spec, program, its inputs) and will run it: sent to
    the coordinator and to every other party, which start once all agreed."""

    op: ClassVar[str] = "agree"
    spec_hash: str


@dataclass(frozen=True, slots=True)
class JobBye(ControlOp):
    """The sender's part of the job (the message's job id) is over; the connection stays."""

    op: ClassVar[str] = "job_bye"


@dataclass(frozen=True, slots=True)
class JobAbort(ControlOp):
    """An ABORT of one job (the message's job id) on a connection that outlives it: the same
    fields as :class:`Abort`."""

    op: ClassVar[str] = "job_abort"
    code: str
    reason: str
    culprit: str | None = None
    op_path: str | None = None
    round: int | None = None

    @classmethod
    def of(cls, abort: Abort) -> JobAbort:
        return cls(abort.code, short(abort.reason), abort.culprit, abort.op_path, abort.round)

    def abort(self) -> Abort:
        return Abort(self.code, self.reason, self.culprit, self.op_path, self.round)


_OPS: dict[str, type[ControlOp]] = {
    c.op: c
    for c in (
        Join,
        Accept,
        Refuse,
        Start,
        Sealed,
        Done,
        Received,
        Finished,
        Material,
        MaterialReply,
        MaterialError,
        Contribute,
        Batch,
        Close,
        Receipt,
        Serve,
        Mesh,
        Ready,
        Submit,
        Offer,
        Agree,
        JobBye,
        JobAbort,
    )
}


def register_op(cls: type[ControlOp]) -> type[ControlOp]:
    """Add a control operation defined elsewhere in the wire layer (a decorator)."""
    if not cls.op or cls.op in _OPS:
        raise LocalProtocolError(f"control op {cls.op!r} is empty or already registered")
    _OPS[cls.op] = cls
    _FIELD_CACHE.pop(cls, None)
    return cls


# ---- field checking ----------------------------------------------------------------------------

_FIELD_CACHE: dict[type, list[tuple[str, tuple[type, ...], bool]]] = {}


def _allowed(tp: Any) -> tuple[tuple[type, ...], bool]:
    """(python types accepted, None accepted) for a field annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        optional = type(None) in members
        accepted: tuple[type, ...] = ()
        for m in members:
            if m is not type(None):
                accepted += _allowed(m)[0]
        return accepted, optional
    base = origin or tp
    return (base,), False


def _fields(cls: type) -> list[tuple[str, tuple[type, ...], bool]]:
    cached = _FIELD_CACHE.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = [(f.name, *_allowed(hints[f.name])) for f in dataclasses.fields(cls)]
        _FIELD_CACHE[cls] = cached
    return cached


def _check_value(name: str, value: Any, accepted: tuple[type, ...], optional: bool) -> None:
    if value is None:
        if not optional:
            raise DecodeError(f"field {name!r} is missing")
        return
    if isinstance(value, bool) and bool not in accepted:
        raise DecodeError(f"field {name!r} has the wrong type")
    if not isinstance(value, accepted):
        raise DecodeError(f"field {name!r} has the wrong type")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise DecodeError(f"field {name!r} is longer than {MAX_TEXT} characters")


def _build(cls: type, body: dict[str, Any], skip: frozenset[str] = frozenset()) -> Any:
    specs = _fields(cls)
    names = {n for n, _, _ in specs}
    extra = set(body) - names - skip
    if extra:
        raise DecodeError(f"unexpected fields in a {cls.__name__} message")
    values = {}
    for name, accepted, optional in specs:
        default_ok = _has_default(cls, name)
        if name not in body:
            if default_ok:
                continue
            raise DecodeError(f"{cls.__name__} message without field {name!r}")
        _check_value(name, body[name], accepted, optional)
        values[name] = body[name]
    return cls(**values)


def _has_default(cls: type, name: str) -> bool:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
    return False


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


# ---- encode / decode ---------------------------------------------------------------------------


def encode_op(op: ControlOp) -> dict[str, Any]:
    """The body of a CONTROL message for ``op``."""
    if type(op) not in _OPS.values():
        raise LocalProtocolError(f"{type(op).__name__} is not a registered control operation")
    return {"op": op.op, **_as_dict(op)}


def decode_op(body: object) -> ControlOp:
    """The typed operation in a CONTROL body; :class:`DecodeError` if it is not a valid one."""
    if not isinstance(body, dict):
        raise DecodeError("control body is not a map")
    name = body.get("op")
    cls = _OPS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise DecodeError("unknown control operation")
    op: ControlOp = _build(cls, body, skip=frozenset({"op"}))
    return op


def encode_hello(hello: Hello) -> dict[str, Any]:
    return _as_dict(hello)


def decode_hello(body: object) -> Hello:
    if not isinstance(body, dict):
        raise DecodeError("HELLO body is not a map")
    hello: Hello = _build(Hello, body)
    return hello


def encode_abort(abort: Abort) -> dict[str, Any]:
    d = _as_dict(abort)
    d["reason"] = short(abort.reason)
    return d


def decode_abort(body: object) -> Abort:
    if not isinstance(body, dict):
        raise DecodeError("ABORT body is not a map")
    abort: Abort = _build(Abort, body)
    return abort
