"""Transport: moves bytes between participants over mutually authenticated TLS 1.3.

It builds TLS contexts, reads the peer's identity from its certificate, dials with retries under
a deadline, accepts and routes incoming connections, and builds the party mesh.  It knows the
wire layer only through :class:`~mpc_runtime.wire.WireConnection` and never touches shares.
"""

from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import Link, MemoryLink, ProtocolLink, memory_link_pair

__all__ = ["Channel", "Link", "MemoryLink", "ProtocolLink", "memory_link_pair"]
