"""Transport: moves bytes between participants over mutually authenticated TLS 1.3.

It builds TLS contexts, reads the peer's identity from its certificate, dials with retries under
a deadline, accepts and routes incoming connections, builds the party mesh, and keeps connections
alive with heartbeats.  It knows the wire layer through
:class:`~mpc_runtime.wire.WireConnection` and its typed events, and never touches shares.
"""

from mpc_runtime.transport.channel import Channel
from mpc_runtime.transport.link import DelayedLink, Link, MemoryLink, ProtocolLink, memory_link_pair

__all__ = ["Channel", "DelayedLink", "Link", "MemoryLink", "ProtocolLink", "memory_link_pair"]
