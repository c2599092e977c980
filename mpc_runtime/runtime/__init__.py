"""The runtime: sessions, contexts, the mailbox, the ledger, the reveal policy, in-memory runs.

Protocols import :class:`Context`, :class:`ArraySpec` and :data:`Program` from here; the runtime
never imports ``protocols``.

Module graph (no cycles): ``arrays``, ``ledger``, ``mailbox`` -> ``reveal`` -> ``core`` ->
``context`` -> ``session`` -> ``memory``.
"""

from mpc_runtime.runtime.arrays import ArraySpec
from mpc_runtime.runtime.context import Context, Program
from mpc_runtime.runtime.core import InputDecl
from mpc_runtime.runtime.ledger import OFFLINE, ONLINE, Counts, Ledger
from mpc_runtime.runtime.reveal import RevealPolicy
from mpc_runtime.runtime.session import Session

__all__ = [
    "OFFLINE",
    "ONLINE",
    "ArraySpec",
    "Context",
    "Counts",
    "InputDecl",
    "Ledger",
    "Program",
    "RevealPolicy",
    "Session",
]
