"""Job specs: what a job computes, who gives which input (with what bounds), who may learn which
output, and which preprocessing provider serves it.

A :class:`JobSpec` is loaded from TOML or JSON and hashed canonically (:func:`spec_hash`): every
participant joins with the hash, and a participant holding a different spec is refused before it
shares anything.  :func:`resolve` fills in the cluster's default preprocessing provider *before*
hashing, so the provider is always covered by the hash.  :func:`check_against_cluster` checks the
spec's parties and recipients exist.

Each input declares bounds (``min``/``max``, or a signed bit width ``bits``; reals for fixed
point); without them an input is a 32-bit value (``|encoded| <= 2^31 - 1``).  The bounds are
public, checked at the owner before any share leaves, and carried through every operation so a
result that could wrap the ring is refused (:mod:`mpc_runtime.sharing.shared`).

May import: config, errors, ids, runtime.core (InputDecl), preprocessing.provider (names), and
pydantic.  Never asyncio.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from mpc_runtime.config import format_validation_error, read_toml
from mpc_runtime.errors import ConfigError
from mpc_runtime.ids import Identity, Role
from mpc_runtime.runtime.core import InputDecl

if TYPE_CHECKING:
    from mpc_runtime.config import ClusterConfig

__all__ = [
    "RR_EPSILON",
    "ContributionSpec",
    "NoiseSpec",
    "InputSpec",
    "JobSpec",
    "OutputSpec",
    "canonical_json",
    "check_against_cluster",
    "load_spec",
    "resolve",
    "spec_hash",
]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]
MAX_ELEMENTS = 2**31


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One private input: which party owns it, its name, encoding, shape and public bounds."""

    party: int = Field(ge=1, le=1000)
    name: Name
    kind: Literal["int", "fixed"] = "int"
    shape: list[Annotated[int, Field(ge=0, le=MAX_ELEMENTS)]] = Field(
        default_factory=list, max_length=8
    )
    frac_bits: int = Field(default=16, ge=1, le=40, description="fixed point: fractional bits")
    min: float | int | None = Field(default=None, description="smallest allowed value")
    max: float | int | None = Field(default=None, description="largest allowed value")
    bits: int | None = Field(
        default=None, ge=1, le=63, description="signed width: values in [-2^(bits-1), 2^(bits-1))"
    )

    @model_validator(mode="after")
    def _bounds(self) -> InputSpec:
        if self.bits is not None and (self.min is not None or self.max is not None):
            raise ValueError("give either bits or min/max, not both")
        if (self.min is None) != (self.max is None):
            raise ValueError("give both min and max")
        if self.kind == "int":
            for v in (self.min, self.max):
                if isinstance(v, float) and not v.is_integer():
                    raise ValueError("an int input's min and max must be integers")
        lo, hi = self.encoded_bounds()
        if lo > hi:
            raise ValueError("min must not exceed max")
        if lo < -(2**62) or hi > 2**62 - 1:
            raise ValueError("bounds must lie within [-2^62, 2^62 - 1] once encoded")
        return self

    @property
    def scale_bits(self) -> int:
        return self.frac_bits if self.kind == "fixed" else 0

    def encoded_bounds(self) -> tuple[int, int]:
        """Inclusive bounds on the encoded integer (real value times 2^frac_bits, rounded out)."""
        f = self.scale_bits
        if self.bits is not None:
            return -(2 ** (self.bits - 1)) << f, ((2 ** (self.bits - 1)) << f) - 1
        if self.min is None or self.max is None:
            return -(2**31 - 1), 2**31 - 1
        if f == 0:
            return int(self.min), int(self.max)
        return math.floor(self.min * 2**f), math.ceil(self.max * 2**f)

    def describe_bounds(self) -> str:
        lo, hi = self.encoded_bounds()
        f = self.scale_bits
        return f"[{lo / 2**f:g}, {hi / 2**f:g}]" if f else f"[{lo}, {hi}]"

    def decl(self) -> InputDecl:
        lo, hi = self.encoded_bounds()
        return InputDecl(
            self.party, self.name, self.kind, tuple(self.shape), self.scale_bits, lo, hi
        )


Mechanism = Literal["laplace", "binomial", "report_noisy_max", "randomized_response"]
RR_EPSILON = math.log(3)
"""Randomized response with a fair coin (the seed's poll): P(yes | yes) / P(yes | no) = 3."""


class NoiseSpec(_Strict):
    """Differential privacy on an output (see :mod:`mpc_runtime.runtime.dp`).

    ``laplace``: distributed discrete Laplace, epsilon-DP; ``binomial``: distributed centred
    binomial, (epsilon, delta)-DP; ``report_noisy_max``: the index of the largest count after
    discrete Laplace noise (the program applies it); ``randomized_response``: each respondent's
    answer randomized inside MPC with fair coins, epsilon = ln 3.  ``sensitivity``: how much
    one individual's record can change the output (replace-one neighbours, in the output's
    real units); programs also derive it from the declared bounds, and the larger is used.
    """

    mechanism: Mechanism
    epsilon: float = Field(gt=0, le=50)
    delta: float = Field(default=0.0, ge=0, lt=0.01)
    sensitivity: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> NoiseSpec:
        if self.mechanism == "binomial" and self.delta <= 0:
            raise ValueError("the binomial mechanism needs delta > 0")
        if self.mechanism != "binomial" and self.delta != 0:
            raise ValueError(f"the {self.mechanism} mechanism is pure epsilon-DP: delta = 0")
        if self.mechanism == "randomized_response" and self.epsilon < RR_EPSILON - 1e-12:
            raise ValueError("randomized response with a fair coin spends epsilon = ln 3 = 1.0986")
        return self


class OutputSpec(_Strict):
    """One output and the only participants that may learn it (and, optionally, its noise)."""

    name: Name
    recipients: list[str] = Field(min_length=1, max_length=1000)
    noise: NoiseSpec | None = None

    @field_validator("recipients")
    @classmethod
    def _labels(cls, rs: list[str]) -> list[str]:
        seen = set()
        for r in rs:
            try:
                ident = Identity.from_label(r)
            except ValueError:
                raise ValueError(
                    f"recipient {r[:64]!r} must look like party:1 or recipient:NAME"
                ) from None
            if ident.role not in (Role.PARTY, Role.RECIPIENT):
                raise ValueError(f"recipient {r[:64]!r} must be a party or an external recipient")
            if ident.role is Role.PARTY and not ident.name.isdigit():
                raise ValueError(f"recipient {r[:64]!r}: a party is named by its numeric id")
            if ident in seen:
                raise ValueError(f"recipient {ident.label} is listed twice")
            seen.add(ident)
        return rs


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > 32:
        raise ValueError("params are nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("params must hold finite numbers only")
    if isinstance(value, list):
        for v in value:
            _check_json(v, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _check_json(v, depth + 1)


CheckName = Literal["range", "one_hot", "bits", "norm", "norm_sketch"]


class ContributionSpec(_Strict):
    """Inputs from contributors (voters, bidders, devices), not compute parties.

    Each contributor secret-shares one value of ``shape`` for the compute parties and leaves.
    Its bounds (``min``/``max``, reals for fixed point) are *checked inside MPC* with ``checks``
    (a contributor may be malicious): ``range`` (every element in bounds), ``one_hot`` (a
    ballot: elements 0/1 summing to 1), ``bits`` (every element 0/1), ``norm`` (every element
    in bounds and the Euclidean norm at most ``norm``, exactly: two comparisons per element),
    ``norm_sketch`` (the norm by random projections, for long vectors: see
    :mod:`protocols.validity`).  Invalid contributions are left out and counted.
    ``credentials``: single-use ``tokens`` (ECDSA P-256 keys) whose public keys are listed in
    ``eligible_file`` (pinned by ``eligible_digest``), or cluster ``certificates``
    (``contributor:NAME``).  The window closes ``deadline`` seconds after the job starts, at
    ``max_count`` contributions, or ``quiet`` seconds after the latest one (once one came);
    contributions are processed in batches of ``batch``.  ``resubmission``: a second contribution
    with the same credential is refused, or replaces the first (then all are held until the
    window closes).
    """

    input: Name = "value"
    kind: Literal["int", "fixed"] = "int"
    shape: list[Annotated[int, Field(ge=1, le=MAX_ELEMENTS)]] = Field(
        default_factory=list, max_length=4
    )
    frac_bits: int = Field(default=16, ge=1, le=40)
    min: float | int = 0
    max: float | int = 1
    checks: list[CheckName] = Field(default_factory=lambda: ["range"], max_length=4)  # type: ignore[arg-type]
    norm: float | None = Field(default=None, gt=0)
    credentials: Literal["tokens", "certificates"] = "tokens"
    eligible_file: str | None = Field(default=None, max_length=300)
    eligible_digest: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    max_count: int = Field(default=1_000_000, ge=1, le=100_000_000)
    deadline: float = Field(default=60.0, gt=0, le=7 * 86400)
    quiet: float | None = Field(default=None, gt=0, le=86400)
    batch: int = Field(default=256, ge=1, le=1_000_000)
    resubmission: Literal["refuse", "replace"] = "refuse"

    @model_validator(mode="after")
    def _consistent(self) -> ContributionSpec:
        if self.credentials == "tokens" and (
            self.eligible_file is None or not self.eligible_digest
        ):
            raise ValueError("token credentials need eligible_file and eligible_digest")
        if self.kind == "fixed" and self.frac_bits > 30:
            raise ValueError("a fixed-point contribution has at most 30 fractional bits")
        if {"norm", "norm_sketch"} & set(self.checks) and self.norm is None:
            raise ValueError("a norm check needs norm = <bound>")
        if "norm" in self.checks and self.norm is not None:
            units = math.ceil(self.norm * 2**self.scale_bits)
            if self.size * units**2 >= 2**62:
                raise ValueError(
                    "the exact norm check needs size * norm^2 < 2^62 (encoded): use norm_sketch"
                    " for long vectors"
                )
        if self.kind == "int":
            for v in (self.min, self.max):
                if isinstance(v, float) and not v.is_integer():
                    raise ValueError("an int contribution's min and max must be integers")
        lo, hi = self.encoded_bounds()
        if lo > hi or hi - lo >= 2**62:
            raise ValueError("contribution bounds must satisfy min <= max, max - min < 2^62")
        return self

    @property
    def scale_bits(self) -> int:
        return self.frac_bits if self.kind == "fixed" else 0

    def encoded_bounds(self) -> tuple[int, int]:
        f = self.scale_bits
        if f == 0:
            return int(self.min), int(self.max)
        return math.floor(self.min * 2**f), math.ceil(self.max * 2**f)

    @property
    def size(self) -> int:
        return math.prod(self.shape) if self.shape else 1

    def encoded_norm(self) -> int | None:
        """The norm bound in encoded units (rounded up), if the job declares one."""
        return None if self.norm is None else math.ceil(self.norm * 2**self.scale_bits)


class JobSpec(_Strict):
    """A whole job: program, public parameters, inputs, outputs with their recipients."""

    job_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    program: str = Field(
        pattern=r"^[A-Za-z0-9_./-]+:[A-Za-z_][A-Za-z0-9_]*$",
        max_length=300,
        description="package.module:function or path/to/file.py:function",
    )
    program_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the program's source file; required for file programs",
    )
    preprocessing: Literal["ot", "dealer"] | None = Field(
        default=None, description="who makes preprocessing material (default: the cluster's)"
    )
    params: dict[str, JsonValue] = Field(default_factory=dict)
    inputs: list[InputSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)
    contributions: ContributionSpec | None = None
    dealer_budget: int | None = Field(default=None, ge=1)
    dataset: Name | None = Field(
        default=None, description="the dataset whose privacy budget noisy outputs spend"
    )

    @field_validator("params")
    @classmethod
    def _finite(cls, params: dict[str, Any]) -> dict[str, Any]:
        _check_json(params)
        return params

    @field_validator("program")
    @classmethod
    def _program(cls, ref: str) -> str:
        module = ref.rsplit(":", 1)[0]
        if not module.endswith(".py") and "/" in module:
            raise ValueError("a program is package.module:function or path/to/file.py:function")
        return ref

    @model_validator(mode="after")
    def _unique(self) -> JobSpec:
        keys = [(i.party, i.name) for i in self.inputs]
        if len(set(keys)) != len(keys):
            raise ValueError("an input is declared twice for the same party")
        names = [o.name for o in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError("output names must be unique")
        return self

    @property
    def is_file_program(self) -> bool:
        return self.program.rsplit(":", 1)[0].endswith(".py")

    def input_decls(self) -> list[InputDecl]:
        """The public declarations every party's session gets."""
        return [i.decl() for i in self.inputs]

    def output_noise(self) -> dict[str, NoiseSpec]:
        """The outputs that carry differential-privacy noise."""
        return {o.name: o.noise for o in self.outputs if o.noise is not None}

    def policy_outputs(self) -> dict[str, list[Identity]]:
        """Every output and its recipients, as identities (what RevealPolicy takes)."""
        return {o.name: [Identity.from_label(r) for r in o.recipients] for o in self.outputs}

    def external_recipients(self) -> dict[str, list[str]]:
        """External recipient name -> the outputs naming it (sorted)."""
        out: dict[str, list[str]] = {}
        for o in self.outputs:
            for r in o.recipients:
                ident = Identity.from_label(r)
                if ident.role is Role.RECIPIENT:
                    out.setdefault(ident.name, []).append(o.name)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def __repr__(self) -> str:  # params may be long; never values, but keep it short
        return f"JobSpec(job_id={self.job_id!r}, program={self.program!r})"


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def spec_hash(spec: JobSpec) -> str:
    """SHA-256 hex of the canonical JSON of the spec (independent of field order in the file)."""
    return hashlib.sha256(canonical_json(spec.model_dump(mode="json"))).hexdigest()


def parse_spec(raw: object, source: str) -> JobSpec:
    """Validate a decoded spec; a bad one is a one-line ConfigError naming ``source``."""
    try:
        return JobSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def load_spec(path: str | Path) -> JobSpec:
    """Load a job spec from ``.toml`` or ``.json``; every failure is a one-line ConfigError."""
    p = Path(path)
    suffix = p.suffix.lower()
    raw: object
    if suffix == ".toml":
        raw = read_toml(p)
    elif suffix == ".json":
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{p}: file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{p}: is a directory, expected a JSON file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{p}: not valid UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read ({exc.strerror or type(exc).__name__})") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: not valid JSON: line {exc.lineno}: {exc.msg}") from None
        except RecursionError:
            raise ConfigError(f"{p}: JSON is nested too deeply") from None
    else:
        raise ConfigError(f"{p}: a job spec must be a .toml or .json file")
    return parse_spec(raw, str(p))


def resolve(spec: JobSpec, cfg: ClusterConfig) -> JobSpec:
    """The spec as every party runs it: the cluster's default provider filled in if it names
    none (so the provider is part of the hash)."""
    if spec.preprocessing is not None:
        return spec
    return spec.model_copy(update={"preprocessing": cfg.preprocessing})


def check_against_cluster(spec: JobSpec, cfg: ClusterConfig, source: str | None = None) -> None:
    """Every input party and recipient of ``spec`` must exist in ``cfg``; else ConfigError."""
    where = source or f"job {spec.job_id}"
    for k, inp in enumerate(spec.inputs):
        if inp.party not in cfg.party_ids:
            raise ConfigError(
                f"{where}: inputs.{k}.party: party {inp.party} is not in cluster {cfg.name!r}"
            )
    declared = {r.name for r in cfg.recipients}
    for k, out in enumerate(spec.outputs):
        for r in out.recipients:
            ident = Identity.from_label(r)
            if ident.role is Role.PARTY and ident.party_id not in cfg.party_ids:
                raise ConfigError(
                    f"{where}: outputs.{k}.recipients: {ident.label} is not in cluster {cfg.name!r}"
                )
            if ident.role is Role.RECIPIENT and ident.name not in declared:
                raise ConfigError(
                    f"{where}: outputs.{k}.recipients: {ident.label} is not declared in the"
                    f" cluster's [[recipients]]"
                )
    _check_privacy(spec, cfg, where)


def _check_privacy(spec: JobSpec, cfg: ClusterConfig, where: str) -> None:
    """A job on a dataset with a privacy budget releases only noisy outputs; a job naming a
    dataset needs the cluster to give it a budget."""
    if spec.dataset is None:
        return
    if cfg.privacy.budget(spec.dataset) is None:
        raise ConfigError(
            f"{where}: dataset {spec.dataset!r} has no privacy budget in cluster {cfg.name!r}"
            " (add one under [[privacy.budgets]])"
        )
    for k, out in enumerate(spec.outputs):
        if out.noise is None:
            raise ConfigError(
                f"{where}: outputs.{k}: dataset {spec.dataset!r} has a privacy budget, so"
                f" output {out.name!r} needs noise = {{mechanism, epsilon}}"
            )
