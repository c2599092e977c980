"""A compute party's privacy-budget ledger: what each recipient has been told about each dataset.

Differential privacy composes: k releases with epsilon_1 .. epsilon_k about the same data are
together (sum epsilon_i)-DP (sequential composition; deltas add too).  So every party keeps, per
dataset and per recipient, what has been spent, and refuses a job that would take a recipient
past the dataset's budget (``[[privacy.budgets]]`` in the cluster file).  Each party keeps its
own ledger: no party has to trust another's.

The ledger is an append-only file of JSON lines, one per charge (a job's outputs to one
recipient) or refund (a job that was charged but never started).  Each line carries the SHA-256
of the line before it, so an edited, reordered or truncated ledger is detected when it is read
(a ``ConfigError`` naming the file) rather than silently trusted.  Appends hold an exclusive
``flock`` so two jobs on one host cannot both spend the last of a budget.

A job is charged before it starts (when it is prepared) and refunded only if it never started;
a job that fails after it started stays charged (an output may already have been released).

May import: the standard library, config, errors, jobs.spec.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mpc_runtime.config import BudgetConfig, ClusterConfig
from mpc_runtime.errors import ConfigError, UsageError
from mpc_runtime.jobs.spec import RR_EPSILON, JobSpec

__all__ = ["BudgetExceeded", "Charge", "Ledger", "job_charges", "ledger_path"]

GENESIS = "0" * 64
TOLERANCE = 1e-9


class BudgetExceeded(UsageError):
    """A job would take a recipient past a dataset's privacy budget."""


@dataclass(frozen=True)
class Charge:
    """What one job tells one recipient about one dataset."""

    recipient: str
    epsilon: float
    delta: float
    outputs: tuple[str, ...]


def ledger_path(cfg: ClusterConfig, party: int) -> Path:
    return cfg.privacy.ledger_dir / f"party-{party}.jsonl"


def job_charges(spec: JobSpec) -> list[Charge]:
    """Per recipient, the sum of the epsilons (and deltas) of the noisy outputs it receives."""
    per: dict[str, tuple[float, float, list[str]]] = {}
    for out in spec.outputs:
        if out.noise is None:
            continue
        eps = (
            max(out.noise.epsilon, RR_EPSILON)
            if out.noise.mechanism == "randomized_response"
            else out.noise.epsilon
        )
        for r in out.recipients:
            e, d, names = per.get(r, (0.0, 0.0, []))
            per[r] = (e + eps, d + out.noise.delta, [*names, out.name])
    return [Charge(r, e, d, tuple(n)) for r, (e, d, n) in sorted(per.items())]


class Ledger:
    """One party's ledger file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = GENESIS

    @contextmanager
    def _locked(self) -> Iterator[TextIO]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"{self.path}: cannot open the privacy ledger ({exc.strerror})"
            ) from None
        with os.fdopen(fd, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield fh
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self, fh: TextIO) -> list[dict[str, Any]]:
        fh.seek(0)
        entries, prev = [], GENESIS
        for i, line in enumerate(fh.read().splitlines(), 1):
            try:
                entry = json.loads(line)
            except ValueError:
                raise ConfigError(f"{self.path}: line {i} is not a ledger entry") from None
            if not isinstance(entry, dict) or entry.get("prev") != prev:
                raise ConfigError(
                    f"{self.path}: the ledger's chain breaks at line {i} (edited or truncated)"
                )
            prev = hashlib.sha256(line.encode()).hexdigest()
            entries.append(entry)
        self._last = prev
        return entries

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._locked() as fh:
            return self._read(fh)

    @staticmethod
    def spent(entries: list[dict[str, Any]], dataset: str) -> dict[str, tuple[float, float]]:
        """Recipient -> (epsilon, delta) spent on ``dataset`` (charges minus refunds)."""
        refunded = {e["job"] for e in entries if e.get("kind") == "refund"}
        out: dict[str, tuple[float, float]] = {}
        for e in entries:
            if e.get("kind") != "charge" or e.get("dataset") != dataset or e["job"] in refunded:
                continue
            eps, delta = out.get(e["recipient"], (0.0, 0.0))
            out[e["recipient"]] = (eps + float(e["epsilon"]), delta + float(e["delta"]))
        return out

    def _append(self, fh: TextIO, entry: dict[str, Any]) -> None:
        line = json.dumps({**entry, "prev": self._last}, sort_keys=True, separators=(",", ":"))
        fh.write(line + "\n")
        self._last = hashlib.sha256(line.encode()).hexdigest()

    def charge(
        self, job: str, spec_hash: str, budget: BudgetConfig, charges: list[Charge]
    ) -> dict[str, tuple[float, float]]:
        """Record ``charges`` for ``job`` if every recipient stays within ``budget``; returns
        what each recipient has spent afterwards.  BudgetExceeded (nothing written) if not."""
        with self._locked() as fh:
            entries = self._read(fh)
            if any(e.get("job") == job and e.get("kind") == "charge" for e in entries):
                raise UsageError(
                    f"job id {job!r} was already charged to the privacy ledger: use a new job id"
                )
            spent = self.spent(entries, budget.dataset)
            for c in charges:
                eps, delta = spent.get(c.recipient, (0.0, 0.0))
                if (
                    eps + c.epsilon > budget.epsilon + TOLERANCE
                    or delta + c.delta > budget.delta + TOLERANCE
                ):
                    raise BudgetExceeded(
                        f"dataset {budget.dataset!r}: {c.recipient} has spent epsilon {eps:g} of"
                        f" {budget.epsilon:g}; this job asks {c.epsilon:g} more"
                        + (
                            f" (delta {delta:g} + {c.delta:g} of {budget.delta:g})"
                            if c.delta
                            else ""
                        )
                        + ": refused"
                    )
            now = round(time.time(), 3)
            for c in charges:
                self._append(fh, {
                    "kind": "charge", "time": now, "job": job, "spec": spec_hash,
                    "dataset": budget.dataset, "recipient": c.recipient, "epsilon": c.epsilon,
                    "delta": c.delta, "outputs": list(c.outputs),
                })  # fmt: skip
                eps, delta = spent.get(c.recipient, (0.0, 0.0))
                spent[c.recipient] = (eps + c.epsilon, delta + c.delta)
            fh.flush()
            os.fsync(fh.fileno())
            return spent

    def refund(self, job: str, spec_hash: str, dataset: str) -> None:
        """The job was charged but never started: give its budget back."""
        with self._locked() as fh:
            self._read(fh)
            self._append(fh, {"kind": "refund", "time": round(time.time(), 3), "job": job,
                              "spec": spec_hash, "dataset": dataset})  # fmt: skip
            fh.flush()
            os.fsync(fh.fileno())


def charge_job(cfg: ClusterConfig, party: int, spec: JobSpec, spec_hash: str) -> list[str]:
    """Charge a job on a budgeted dataset to this party's ledger; returns what to print (what
    each recipient has spent and what remains).  No dataset: nothing is charged."""
    if spec.dataset is None:
        return []
    budget = cfg.privacy.budget(spec.dataset)
    if budget is None:
        raise ConfigError(f"dataset {spec.dataset!r} has no privacy budget in this cluster")
    charges = job_charges(spec)
    spent = Ledger(ledger_path(cfg, party)).charge(spec.job_id, spec_hash, budget, charges)
    lines = []
    for c in charges:
        eps, _ = spent[c.recipient]
        lines.append(
            f"dataset {budget.dataset!r}: {c.recipient} is told {', '.join(c.outputs)} with"
            f" epsilon {c.epsilon:g}; {eps:g} of {budget.epsilon:g} spent,"
            f" {max(0.0, budget.epsilon - eps):g} remains"
        )
    return lines
