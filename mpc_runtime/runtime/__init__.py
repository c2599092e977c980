"""The runtime: sessions, contexts, the mailbox, the ledger, the reveal policy, in-memory runs.

Protocols import :class:`Context` and :class:`ArraySpec` from here; the runtime never imports
``protocols``.
"""

from mpc_runtime.runtime.context import ArraySpec, Context
from mpc_runtime.runtime.ledger import OFFLINE, ONLINE, Counts, Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import Session

__all__ = [
    "OFFLINE",
    "ONLINE",
    "ArraySpec",
    "Context",
    "Counts",
    "Ledger",
    "RevealPolicy",
    "Session",
]
