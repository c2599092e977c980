"""The audit log: one JSON line per reveal, naming the output and its recipients, never a value.

``{"time": ISO-8601 UTC, "job": id, "spec_hash": h, "party": label, "event": "reveal",
"output": name, "recipients": [...]}``.  The file is created with mode 0600 and only appended to.

May import: errors.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mpc_runtime.errors import ConfigError

__all__ = ["AuditLog"]


class AuditLog:
    """An append-only JSON-lines file of reveal events."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def record(
        self,
        *,
        job: str,
        spec_hash: str,
        party: str,
        output: str,
        recipients: Sequence[str],
        event: str = "reveal",
    ) -> None:
        entry = {
            "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            "job": str(job),
            "spec_hash": str(spec_hash),
            "party": str(party),
            "event": str(event),
            "output": str(output),
            "recipients": [str(r) for r in recipients],
        }
        line = (json.dumps(entry, separators=(",", ":"), sort_keys=False) + "\n").encode()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot open audit log: {exc.strerror}") from None
        try:
            os.write(fd, line)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write audit log: {exc.strerror}") from None
        finally:
            os.close(fd)

    def hook(self, job: str, spec_hash: str, party_label: str) -> Callable[[str, list[str]], None]:
        """A :data:`~mpc_runtime.runtime.reveal.AuditHook` for one party of one job."""

        def audit(output: str, recipients: list[str]) -> None:
            self.record(
                job=job,
                spec_hash=spec_hash,
                party=party_label,
                output=output,
                recipients=recipients,
            )

        return audit
