"""mpc-runtime: a networked multi-party computation runtime over asyncio.

Parties hold additive secret shares over the ring Z_2^64 and exchange them over mutually
authenticated TLS 1.3.  Nothing runs at import time: there is no global runtime object.
"""

__version__ = "0.1.0"
