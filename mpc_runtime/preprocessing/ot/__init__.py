"""Dealer-free preprocessing by oblivious transfer: base OTs, IKNP extension, Gilboa products.

:class:`OTEngine` makes Beaver triples over Z_2^64, AND triples, daBits, edaBits and
exact-truncation pairs among the parties themselves (semi-honest, any n - 1 of n corrupt), talking
only through an :class:`Exchanger` (the runtime's context satisfies it).  Module map:
``exchange`` (interface, checks), ``baseot`` (Chou-Orlandi), ``iknp`` (IKNP + ALSZ),
``primitives`` (column PRGs, correlation-robust hash), ``bitmatrix`` (transpose, packing),
``gilboa`` (correlated OT), ``pipeline`` (chunked rounds), ``triples``, ``dabits``, ``engine``.

May import: numpy, ``cryptography``, :mod:`mpc_runtime.errors`, :mod:`mpc_runtime.sharing.prg`;
never :mod:`mpc_runtime.runtime`, :mod:`mpc_runtime.transport` or ``protocols``.
"""

from .engine import DEFAULT_CHUNK_OTS, OTEngine
from .exchange import Exchanger

__all__ = ["DEFAULT_CHUNK_OTS", "Exchanger", "OTEngine"]
