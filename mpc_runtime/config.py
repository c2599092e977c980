"""Cluster configuration: pydantic v2 models loaded from TOML, one clear error per bad field.

A cluster file (see ``party_configs/``) names the cluster, its parties (id, name, host, port),
the directory holding certificates, the coordinator's (and optionally a separate dealer's)
address, external recipients, timeouts and limits.  Relative paths are resolved against the
directory of the config file.

May import: errors, ids.  Never asyncio or ssl.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mpc_runtime.errors import ConfigError
from mpc_runtime.ids import Identity, Role

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Strict):
    """A host and port to listen on or connect to."""

    host: str = Field(min_length=1)
    port: Port
    bind: str | None = Field(
        default=None, description="address to listen on; defaults to host (0.0.0.0 in containers)"
    )

    @property
    def listen_host(self) -> str:
        return self.bind if self.bind is not None else self.host


class CoordinatorConfig(Endpoint):
    """The coordinator's address, and whether it also acts as the dealer (an explicit opt-in:
    a coordinator that deals can, with any one party, see every masked value)."""

    embedded_dealer: bool = Field(
        default=False,
        description="run the dealer inside the coordinator (trusted coordinator; testing only)",
    )
    contributor_port: Port | None = Field(
        default=None,
        description="where contributors submit their inputs (jobs with contributions need it)",
    )

    @property
    def contributors(self) -> Endpoint:
        """The endpoint contributors connect to (TLS; a client certificate is optional)."""
        if self.contributor_port is None:
            raise ConfigError(
                "the cluster gives the coordinator no contributor_port: contributors cannot"
                " submit (add contributor_port under [coordinator])"
            )
        return Endpoint(host=self.host, port=self.contributor_port, bind=self.bind)


class PartyConfig(Endpoint):
    """One computing party."""

    id: int = Field(ge=1, le=1000)
    name: Name


class RecipientConfig(_Strict):
    """An external output recipient (an analyst) that takes no part in the computation."""

    name: Name


class Timeouts(_Strict):
    """Deadlines, in seconds."""

    connect: float = Field(default=20.0, gt=0, le=3600, description="connect deadline")
    round: float = Field(default=10.0, gt=0, le=3600, description="round timeout")


class Limits(_Strict):
    """Bounds on what a peer can make us hold."""

    max_frame_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, le=2**31 - 1)
    simulated_latency_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="benchmarks only: delay every data message between parties by this much",
    )


class BudgetConfig(_Strict):
    """A dataset's privacy budget: what each recipient may be told about it, in total."""

    dataset: Name
    epsilon: float = Field(gt=0, le=100)
    delta: float = Field(default=0.0, ge=0, lt=0.01)


class PrivacyConfig(_Strict):
    """Differential-privacy budgets every party enforces with its own append-only ledger."""

    ledger_dir: Path = Field(
        default=Path("privacy-ledger"),
        description="where each party keeps its ledger (relative to the cluster file)",
    )
    budgets: list[BudgetConfig] = Field(default_factory=list)

    def budget(self, dataset: str) -> BudgetConfig | None:
        return next((b for b in self.budgets if b.dataset == dataset), None)


class ClusterConfig(_Strict):
    """A whole cluster: who takes part, where they listen, and which CA they trust."""

    name: Name
    cert_dir: Path
    parties: list[PartyConfig] = Field(min_length=2)
    coordinator: CoordinatorConfig
    dealer: Endpoint | None = None
    preprocessing: Literal["ot", "dealer"] = Field(
        default="ot", description="default provider of preprocessing material for jobs"
    )
    recipients: list[RecipientConfig] = Field(default_factory=list)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    limits: Limits = Field(default_factory=Limits)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    @field_validator("parties")
    @classmethod
    def _unique_parties(cls, parties: list[PartyConfig]) -> list[PartyConfig]:
        ids = [p.id for p in parties]
        if len(set(ids)) != len(ids):
            raise ValueError("party ids must be unique")
        names = [p.name for p in parties]
        if len(set(names)) != len(names):
            raise ValueError("party names must be unique")
        return sorted(parties, key=lambda p: p.id)

    @field_validator("recipients")
    @classmethod
    def _unique_recipients(cls, rs: list[RecipientConfig]) -> list[RecipientConfig]:
        names = [r.name for r in rs]
        if len(set(names)) != len(names):
            raise ValueError("recipient names must be unique")
        return rs

    @model_validator(mode="after")
    def _distinct_endpoints(self) -> ClusterConfig:
        seen: set[tuple[str, int]] = set()
        eps: list[Endpoint] = [*self.parties, self.coordinator]
        if self.dealer is not None:
            eps.append(self.dealer)
        if self.coordinator.contributor_port is not None:
            eps.append(self.coordinator.contributors)
        for ep in eps:
            key = (ep.host, ep.port)
            if key in seen:
                raise ValueError(f"two participants listen on {ep.host}:{ep.port}")
            seen.add(key)
        return self

    # ---- lookups -------------------------------------------------------------------------
    @property
    def party_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.parties)

    def party(self, pid: int) -> PartyConfig:
        for p in self.parties:
            if p.id == pid:
                return p
        raise ConfigError(f"party {pid} is not in cluster {self.name!r}")

    def party_by_name(self, name: str) -> PartyConfig | None:
        for p in self.parties:
            if p.name == name or str(p.id) == name:
                return p
        return None

    @property
    def identities(self) -> list[Identity]:
        """Everyone who needs a key and a certificate."""
        ids = [Identity.party(p.id) for p in self.parties]
        ids.append(Identity.coordinator())
        ids.append(Identity.dealer())
        ids.extend(Identity.recipient(r.name) for r in self.recipients)
        return ids

    def knows(self, ident: Identity) -> bool:
        """True if the identity belongs to this cluster's participants."""
        if ident.role is Role.PARTY:
            return ident.party_id in self.party_ids
        if ident.role is Role.RECIPIENT:
            return any(r.name == ident.name for r in self.recipients)
        return True

    def cert_path(self, ident: Identity) -> Path:
        return self.cert_dir / f"{ident.file_stem}.pem"

    def key_path(self, ident: Identity) -> Path:
        return self.cert_dir / f"{ident.file_stem}.key"

    def seal_cert_path(self, ident: Identity) -> Path:
        """An external recipient's sealing certificate (key agreement only, never TLS)."""
        return self.cert_dir / f"{ident.file_stem}.seal.pem"

    def seal_key_path(self, ident: Identity) -> Path:
        return self.cert_dir / f"{ident.file_stem}.seal.key"

    @property
    def ca_cert_path(self) -> Path:
        return self.cert_dir / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.cert_dir / "ca.key"


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line naming the file and the first bad field."""
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    more = len(err.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: {loc}: {msg}{tail}"


def read_toml(path: Path) -> dict[str, object]:
    """Read a TOML file, mapping every failure to a one-line ConfigError."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8 text") from None


def load_cluster(path: str | Path) -> ClusterConfig:
    """Load and validate a cluster file; relative ``cert_dir`` is taken from the file's folder."""
    p = Path(path)
    raw = read_toml(p)
    try:
        cfg = ClusterConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(p), exc)) from None
    if not cfg.cert_dir.is_absolute():
        cfg = cfg.model_copy(update={"cert_dir": (p.parent / cfg.cert_dir).resolve()})
    if not cfg.privacy.ledger_dir.is_absolute():
        ledger = (p.parent / cfg.privacy.ledger_dir).resolve()
        cfg = cfg.model_copy(
            update={"privacy": cfg.privacy.model_copy(update={"ledger_dir": ledger})}
        )
    return cfg
